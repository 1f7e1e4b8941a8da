"""Profile a torch model on the meta device: parameters, activations and FLOPs per sample.

The model is called with ``torch.func.functional_call`` on meta copies of its parameters
and buffers, so nothing is allocated and the caller's model is not changed. Every tensor
autograd saves for the backward pass is caught with
``torch.autograd.graph.saved_tensors_hooks`` and counted once per storage; parameters are
not counted (they are model state). The output is counted three times: the output itself,
a loss-sized copy (cross-entropy keeps its log-softmax) and the output's gradient. The
backward pass adds a working set of two copies of the largest saved tensor (the gradient
arriving at the largest layer and the one leaving it) while the saved tensors are still
held. FLOPs come from ``torch.utils.flop_counter.FlopCounterMode`` (forward, times 3 for
training).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sagescale._imports import optional_import
from sagescale.errors import SpecError

__all__ = ["TraceProfile", "trace_model"]

_OUTPUT_COPIES = 3
_BACKWARD_COPIES = 2


@dataclass(frozen=True)
class TraceProfile:
    """What a traced forward pass of one batch showed, per sample."""

    params: int
    batch_size: int
    activation_float_bytes: float
    activation_other_bytes: float
    forward_flops: float
    largest_matrix_side: float

    @property
    def activation_bytes(self) -> float:
        """Per sample, at the model's own dtype (float part counted at 4 bytes)."""
        return self.activation_float_bytes + self.activation_other_bytes


class _Saved:
    """Counts the storages autograd saves, once each, split into float and other bytes."""

    def __init__(self, skip: set[int]) -> None:
        self.skip = skip
        self.seen: set[int] = set()
        self.float_bytes = 0.0
        self.other_bytes = 0.0
        self.largest_float = 0.0

    def add(self, tensor: Any) -> None:
        storage = tensor.untyped_storage()
        key = storage._cdata
        if key in self.skip or key in self.seen:
            return
        self.seen.add(key)
        if tensor.is_floating_point():
            nbytes = storage.nbytes() * 4.0 / tensor.element_size()
            self.float_bytes += nbytes
            self.largest_float = max(self.largest_float, nbytes)
        else:
            self.other_bytes += float(storage.nbytes())

    def pack(self, tensor: Any) -> Any:
        self.add(tensor)
        return tensor


def _to_meta(value: Any, torch: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to("meta")
    if isinstance(value, tuple | list):
        return type(value)(_to_meta(item, torch) for item in value)
    if isinstance(value, Mapping):
        return {key: _to_meta(item, torch) for key, item in value.items()}
    return value


def _first_tensor(value: Any, torch: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value
    items = value.values() if isinstance(value, Mapping) else value
    if isinstance(items, tuple | list) or isinstance(value, Mapping):
        for item in items:
            found = _first_tensor(item, torch)
            if found is not None:
                return found
    return None


def _batch_size(sample_input: Any, torch: Any) -> int:
    first = _first_tensor(sample_input, torch)
    if first is None or first.dim() == 0:
        raise SpecError(
            "sample_input: must be a tensor (or a tuple/list/dict holding one) whose first "
            "dimension is the batch size",
            field="sample_input",
            value=type(sample_input).__name__,
        )
    return int(first.shape[0])


def _output_bytes(out: Any, torch: Any, counter: _Saved) -> None:
    first = _first_tensor(out, torch)
    if first is not None and first.is_floating_point():
        counter.float_bytes += _OUTPUT_COPIES * first.numel() * 4.0


def _largest_side(model: Any) -> float:
    sides = [min(p.shape) for p in model.parameters() if p.dim() >= 2]
    return float(max(sides)) if sides else 1024.0


def trace_model(model: Any, sample_input: Any) -> TraceProfile:
    """Trace ``model`` on ``sample_input``: a batch (a tensor, a tuple/list of positional
    arguments or a dict of keyword arguments) whose first dimension is the batch size."""
    torch = optional_import("torch", purpose="tracing a model for the planner")
    flop_counter = optional_import("torch.utils.flop_counter", purpose="counting FLOPs")
    func = optional_import("torch.func", purpose="tracing a model for the planner")
    if not isinstance(model, torch.nn.Module):
        raise SpecError(
            f"model: must be a torch.nn.Module, got {type(model).__name__}",
            field="model",
            value=type(model).__name__,
        )
    batch = _batch_size(sample_input, torch)
    state = {
        name: torch.empty_like(p, device="meta").requires_grad_(p.requires_grad)
        for name, p in model.named_parameters()
    }
    state.update({n: torch.empty_like(b, device="meta") for n, b in model.named_buffers()})
    counter = _Saved({t.untyped_storage()._cdata for t in state.values()})
    meta_input = _to_meta(sample_input, torch)
    args, kwargs = ((), meta_input) if isinstance(meta_input, Mapping) else _as_args(meta_input)
    flops = flop_counter.FlopCounterMode(display=False)
    try:
        with flops, torch.autograd.graph.saved_tensors_hooks(counter.pack, lambda t: t):
            out = func.functional_call(model, state, args, kwargs)
    except (RuntimeError, NotImplementedError, TypeError) as exc:
        raise SpecError(
            f"model: tracing it on the meta device with sample_input failed ({exc}); give "
            "activation_bytes_per_sample and flops_per_sample instead",
            field="model",
            value=type(model).__name__,
        ) from None
    _output_bytes(out, torch, counter)
    counter.float_bytes += _BACKWARD_COPIES * counter.largest_float
    return TraceProfile(
        params=sum(p.numel() for p in model.parameters()),
        batch_size=batch,
        activation_float_bytes=counter.float_bytes / batch,
        activation_other_bytes=counter.other_bytes / batch,
        forward_flops=float(flops.get_total_flops()) / batch,
        largest_matrix_side=_largest_side(model),
    )


def _as_args(value: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    if isinstance(value, tuple | list):
        return tuple(value), {}
    return (value,), {}
