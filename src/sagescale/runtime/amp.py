"""Mixed precision driven by the job's ``mixed_precision`` (``fp16``, ``bf16`` or none).

``fp16`` autocasts to float16 and scales the loss with a gradient scaler built for the
device in use (``torch.amp.GradScaler("cpu")`` on CPU — never the CUDA default, which
silently disables itself there); a step whose gradients hold an inf or NaN is skipped and
the scale shrinks. ``bf16`` autocasts to bfloat16 without scaling. ``None`` is plain fp32::

    mp = MixedPrecision.from_env(device)
    with mp.autocast():
        loss = loss_fn(model(x), y)
    mp.backward(loss)
    stepped = mp.step(optimizer)       # False when the scaler skipped the step
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
import torch.distributed as _dist

from sagescale.errors import SpecError
from sagescale.runtime._env import MixedPrecisionMode, load_env

__all__ = ["MixedPrecision", "autocast", "resolve_mode"]

_DTYPES = {"fp16": torch.float16, "bf16": torch.bfloat16}


def resolve_mode(mode: str | None) -> MixedPrecisionMode | None:
    """Validate a mode name: ``"fp16"``, ``"bf16"`` or ``None``."""
    if mode is None or mode in ("fp16", "bf16"):
        return mode  # type: ignore[return-value]
    raise SpecError(
        f"mixed_precision={mode!r}: must be 'fp16', 'bf16' or None",
        field="mixed_precision",
        value=mode,
    )


class MixedPrecision:
    """Autocast + (for fp16) gradient scaling on one device type."""

    def __init__(
        self,
        mode: str | None,
        device: torch.device | str = "cpu",
        *,
        init_scale: float = 2.0**16,
    ) -> None:
        self.mode = resolve_mode(mode)
        try:
            self.device_type = torch.device(device).type
        except (RuntimeError, TypeError):
            raise SpecError(
                f"device={device!r}: not a torch device (cpu, cuda, cuda:0...)",
                field="device",
                value=device,
            ) from None
        self.dtype: torch.dtype | None = _DTYPES.get(self.mode) if self.mode else None
        self.scaler: torch.amp.GradScaler | None = None
        if self.mode == "fp16":
            self.scaler = torch.amp.GradScaler(self.device_type, init_scale=init_scale)
        self.skipped_steps = 0

    @classmethod
    def from_env(cls, device: torch.device | str = "cpu") -> MixedPrecision:
        """The job's ``mixed_precision`` (hyperparameter ``sagescale_mixed_precision`` or
        the ``SAGESCALE_MIXED_PRECISION`` variable)."""
        return cls(load_env().mixed_precision, device)

    @property
    def enabled(self) -> bool:
        return self.mode is not None

    @contextlib.contextmanager
    def autocast(self) -> Iterator[None]:
        """Run the forward pass (and loss) inside this."""
        if self.dtype is None:
            yield
            return
        with torch.autocast(self.device_type, dtype=self.dtype):
            yield

    def scale(self, loss: torch.Tensor) -> torch.Tensor:
        return self.scaler.scale(loss) if self.scaler is not None else loss

    def backward(self, loss: torch.Tensor) -> None:
        self.scale(loss).backward()  # type: ignore[no-untyped-call]

    def _ensure_scale(self) -> None:
        """A pipeline stage that never computes the loss never calls :meth:`scale`; its
        gradients still arrive scaled, by the same scale (every process updates it alike)."""
        assert self.scaler is not None
        if self.scaler._scale is None:
            self.scaler._lazy_init_scale_growth_tracker(torch.device(self.device_type))

    def unscale_(self, optimizer: torch.optim.Optimizer) -> None:
        """Unscale gradients in place (before clipping)."""
        if self.scaler is not None:
            self._ensure_scale()
            self.scaler.unscale_(optimizer)

    def _sync_found_inf(self, optimizer: torch.optim.Optimizer) -> None:
        """An inf/NaN on any process skips the step on every process (pipeline stages and
        tensor slices hold different gradients; they must stay in step)."""
        assert self.scaler is not None
        if not (_dist.is_available() and _dist.is_initialized()) or _dist.get_world_size() < 2:
            return
        per_device = self.scaler._per_optimizer_states[id(optimizer)]["found_inf_per_device"]
        found = torch.zeros(1)
        for value in per_device.values():
            found += value.detach().cpu().reshape(1)
        backend = _dist.get_backend()
        on = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else "cpu"
        found = found.to(on)
        _dist.all_reduce(found, op=_dist.ReduceOp.MAX)
        for value in per_device.values():
            value.fill_(float(found.item() > 0))

    def step(self, optimizer: torch.optim.Optimizer) -> bool:
        """Optimizer step + scaler update; ``False`` when the step was skipped (inf/NaN).
        Under torch.distributed every process must call it (a skip is agreed on by all)."""
        if self.scaler is None:
            optimizer.step()
            return True
        before = self.scaler.get_scale()
        from torch.amp.grad_scaler import OptState

        if self.scaler._per_optimizer_states[id(optimizer)]["stage"] is OptState.READY:
            self.unscale_(optimizer)
        self._sync_found_inf(optimizer)
        self.scaler.step(optimizer)
        self.scaler.update()
        skipped = self.scaler.get_scale() < before
        self.skipped_steps += int(skipped)
        return not skipped

    def state_dict(self) -> dict[str, Any]:
        return {} if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: dict[str, Any]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


@contextlib.contextmanager
def autocast(mode: str | None = None, device: torch.device | str = "cpu") -> Iterator[None]:
    """Autocast for ``mode`` (default: the job's ``mixed_precision``) on ``device``."""
    chosen = load_env().mixed_precision if mode is None else resolve_mode(mode)
    with MixedPrecision(chosen, device).autocast():
        yield
