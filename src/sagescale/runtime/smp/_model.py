"""``DistributedModel``, ``DistributedOptimizer`` and ``@step`` on plain PyTorch.

A call of an ``@step`` function splits its tensor arguments into ``microbatches`` along
dimension 0 and runs the function once per microbatch. With ``partitions > 1`` the model's
ordered blocks are cut into pipeline stages (automatically at the first call, or by manual
placement) and run by a ``torch.distributed.pipelining`` schedule: ``pipeline: simple`` →
GPipe, ``interleaved`` → interleaved 1F1B (two stages per process when there are enough
blocks, else 1F1B). The user function runs on the last stage, where ``model(...)`` returns
the pipeline's output for the microbatch; its return values reach every stage.

Gradients are the mean over microbatches (equal to one pass over the whole batch) and,
with ``ddp: true``, over data-parallel replicas; after each step the replicas take the
first replica's buffers (``broadcast_buffers=True``, SMP's and DDP's default).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar, overload

import torch
import torch.distributed as _dist
from torch import nn
from torch.distributed.pipelining import (
    PipelineStage,
    Schedule1F1B,
    ScheduleGPipe,
    ScheduleInterleaved1F1B,
)
from torch.distributed.pipelining.stage import _PipelineStageBase

from sagescale.errors import SpecError
from sagescale.runtime.smp import _state
from sagescale.runtime.smp._partition import (
    balanced_split,
    block_costs,
    block_outputs,
    manual_split,
    ordered_blocks,
)
from sagescale.runtime.smp._state import CommGroup, Mesh

__all__ = [
    "DistributedModel",
    "DistributedOptimizer",
    "StepOutput",
    "partition",
    "set_partition",
    "step",
]

_F = TypeVar("_F", bound=Callable[..., Any])

_STAGE_CACHE_SIZE = 8
"""Pipeline stages kept per microbatch shape (each holds its receive buffers)."""

# -- manual placement ------------------------------------------------------------------

_PLACEMENT_ATTR = "_sagescale_partition"  # kept by copy.deepcopy and pickling
_active_partition: list[int] = []


def _on_register(module: nn.Module, name: str, submodule: nn.Module | None) -> None:
    if _active_partition and submodule is not None and not hasattr(submodule, _PLACEMENT_ATTR):
        object.__setattr__(submodule, _PLACEMENT_ATTR, _active_partition[-1])


_hook_handle: Any = None


@contextlib.contextmanager
def partition(index: int) -> Iterator[None]:
    """Modules assigned as attributes inside this block go to partition ``index``."""
    global _hook_handle
    if _hook_handle is None:
        _hook_handle = nn.modules.module.register_module_module_registration_hook(_on_register)
    _active_partition.append(index)
    try:
        yield
    finally:
        _active_partition.pop()


def set_partition(module: nn.Module, index: int) -> None:
    """Place ``module`` (a block of the model) on partition ``index``."""
    object.__setattr__(module, _PLACEMENT_ATTR, index)


def _assigned(block: nn.Module) -> int | None:
    """The partition of ``block``: its own placement, else the first placed submodule's."""
    for sub in block.modules():
        placed = getattr(sub, _PLACEMENT_ATTR, None)
        if placed is not None:
            return int(placed)
    return None


# -- step outputs ----------------------------------------------------------------------


class StepOutput(Sequence[Any]):
    """The values one ``@step`` output took in each microbatch."""

    def __init__(self, outputs: Sequence[Any]) -> None:
        self.outputs = list(outputs)

    def __len__(self) -> int:
        return len(self.outputs)

    @overload
    def __getitem__(self, index: int) -> Any: ...
    @overload
    def __getitem__(self, index: slice) -> list[Any]: ...
    def __getitem__(self, index: int | slice) -> Any:
        return self.outputs[index]

    def __repr__(self) -> str:
        return f"StepOutput({self.outputs!r})"

    def _tensors(self) -> list[torch.Tensor]:
        return [torch.as_tensor(o) for o in self.outputs]

    def reduce_mean(self) -> torch.Tensor:
        """Mean over microbatches."""
        return torch.stack(self._tensors()).mean(dim=0)

    def reduce_sum(self) -> torch.Tensor:
        return torch.stack(self._tensors()).sum(dim=0)

    def concat(self) -> torch.Tensor:
        """The microbatch outputs concatenated along dimension 0 (the whole batch)."""
        return torch.cat(self._tensors(), dim=0)

    def stack(self) -> torch.Tensor:
        return torch.stack(self._tensors())


def _detach(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        local = value.to_local() if hasattr(value, "to_local") else value
        return local.detach()
    if isinstance(value, tuple):
        return tuple(_detach(v) for v in value)
    if isinstance(value, list):
        return [_detach(v) for v in value]
    if isinstance(value, dict):
        return {k: _detach(v) for k, v in value.items()}
    return value


def _collect(results: list[Any]) -> Any:
    if results and isinstance(results[0], tuple):
        return tuple(StepOutput(list(col)) for col in zip(*results, strict=True))
    return StepOutput(results)


# -- the step context ------------------------------------------------------------------


class _Context:
    """What ``model(...)`` and ``model.backward(loss)`` do inside one microbatch."""

    def __init__(self, forward: Callable[..., Any], scale: float) -> None:
        self._forward = forward
        self._scale = scale
        self.loss: torch.Tensor | None = None
        self.backward_called = False

    def forward(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._forward(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        self.backward_called = True
        self.loss = loss


class _LocalContext(_Context):
    def backward(self, loss: torch.Tensor) -> None:
        super().backward(loss)
        (loss * self._scale).backward()  # type: ignore[no-untyped-call]


class _Captured(Exception):
    def __init__(self, args: tuple[Any, ...]) -> None:
        super().__init__("captured")
        self.args = args


def _capture(*args: Any, **kwargs: Any) -> Any:
    if kwargs:
        raise SpecError(
            "model(...) inside @step: keyword arguments are not supported by the pipeline "
            "fallback; pass tensors positionally",
            field="model",
        )
    raise _Captured(args)


_local = threading.local()


def _context() -> _Context | None:
    return getattr(_local, "context", None)


@contextlib.contextmanager
def _use(context: _Context) -> Iterator[_Context]:
    previous = _context()
    _local.context = context
    try:
        yield context
    finally:
        _local.context = previous


# -- the model -------------------------------------------------------------------------


class DistributedModel(nn.Module):
    """Wraps the user's model; mirrors ``smp.DistributedModel``. Of SMP's keyword
    arguments, ``average_grads_across_microbatches=False`` sums the microbatches'
    gradients instead of averaging them; the others (tracing, allreduce tuning, bucket
    sizes) are accepted and change nothing here: gradients are averaged over the replicas
    after each step, which gives what ``backward_passes_per_step`` accumulates too.
    ``broadcast_buffers=True`` (the default) copies the first data-parallel replica's
    buffers (e.g. BatchNorm running statistics) to the other replicas after each step, so
    every forward sees the buffers DDP's broadcast before it would give; ``False`` lets each
    replica keep its own."""

    def __init__(
        self,
        module: nn.Module,
        trace_device: str | None = "gpu",
        trace_execution_times: bool = False,
        trace_memory_usage: bool = False,
        overlapping_allreduce: bool = True,
        backward_passes_per_step: int = 1,
        average_grads_across_microbatches: bool = True,
        bucket_cap_mb: int = 25,
        find_unused_parameters: bool = False,
        broadcast_buffers: bool = True,
        gradient_as_bucket_view: bool = True,
    ) -> None:
        super().__init__()
        if trace_device not in ("gpu", "cpu", None):
            raise SpecError(
                f"DistributedModel(trace_device={trace_device!r}): must be 'gpu', 'cpu' or None",
                field="trace_device",
                value=trace_device,
            )
        if (
            isinstance(backward_passes_per_step, bool)
            or not isinstance(backward_passes_per_step, int)
            or backward_passes_per_step < 1
        ):
            raise SpecError(
                f"DistributedModel(backward_passes_per_step={backward_passes_per_step!r}): "
                "must be an integer >= 1",
                field="backward_passes_per_step",
                value=backward_passes_per_step,
            )
        self.average_grads_across_microbatches = bool(average_grads_across_microbatches)
        self.broadcast_buffers = bool(broadcast_buffers)
        self.mesh: Mesh = _state.require()
        self.module = module.to(self.mesh.device)
        self._sync_initial_weights()
        self._stages: list[_PipelineStageBase] | None = None
        self._stage_cache: dict[Any, list[_PipelineStageBase]] = {}
        self._tied: list[tuple[nn.Parameter, bool]] = []
        self.stage_of_block: list[int] | None = None
        self._owned: list[nn.Module] = [self.module]
        if self.mesh.tp_size > 1:
            _apply_tensor_parallel(self.module, self.mesh)
        _registry["model"] = self

    def _sync_initial_weights(self) -> None:
        """Every process starts from global rank 0's weights."""
        with torch.no_grad():
            for tensor in [*self.module.parameters(), *self.module.buffers()]:
                _dist.broadcast(tensor.data, src=0)

    # forward / backward inside @step
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        context = _context()
        if context is not None:
            return context.forward(args, kwargs)
        if self.mesh.pp_size > 1:
            raise SpecError(
                "a pipelined DistributedModel runs inside an @smp.step function",
                field="model",
            )
        return self.module(*args, **kwargs)

    def backward(self, loss: torch.Tensor) -> None:
        """Backward of one microbatch's loss (call inside ``@smp.step``)."""
        context = _context()
        if context is None:
            raise SpecError("model.backward(loss) is called inside an @smp.step function")
        context.backward(loss)

    # parameters this process owns
    def local_modules(self) -> list[nn.Module]:
        return list(self._owned)

    def local_parameters(self) -> list[nn.Parameter]:
        seen: dict[int, nn.Parameter] = {}
        for owned in self._owned:
            for p in owned.parameters():
                seen.setdefault(id(p), p)
        return list(seen.values())

    def local_buffers(self) -> list[torch.Tensor]:
        seen: dict[int, torch.Tensor] = {}
        for owned in self._owned:
            for b in owned.buffers():
                seen.setdefault(id(b), b)
        return list(seen.values())

    def _local_keys(self) -> set[str]:
        owned = {id(p) for m in self._owned for p in [*m.parameters(), *m.buffers()]}
        named = [
            *self.module.named_parameters(remove_duplicate=False),
            *self.module.named_buffers(remove_duplicate=False),
        ]
        return {name for name, t in named if id(t) in owned}

    def local_state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        """This process's partition (under tensor parallelism: its slices)."""
        full = self.module.state_dict()
        keys = self._local_keys()
        return {k: _detach(v) for k, v in full.items() if k in keys}

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """The whole model's state with the original module's keys, on every process."""
        full = {k: _full(v) for k, v in self.module.state_dict().items()}
        if self.mesh.pp_size == 1:
            return full
        local = {k: full[k].cpu() for k in self._local_keys()}
        parts: list[Any] = [None] * self.mesh.pp_size
        _dist.all_gather_object(parts, local, group=self.mesh.group(CommGroup.PP_GROUP))
        merged: dict[str, Any] = {}
        for part in parts:
            merged.update(part)
        return {k: merged[k].to(full[k].device) for k in full}

    def load_state_dict(  # type: ignore[override]
        self, state_dict: dict[str, Any], strict: bool = True, assign: bool = False
    ) -> Any:
        """Load a whole-model state (or, with ``strict=False``, a partition's)."""
        return _load_into(self.module, state_dict, strict)

    # the pipeline
    def _use_stages(self, inputs: tuple[Any, ...], n_mb: int) -> None:
        """Make ``_stages`` the pipeline stages for microbatches shaped like these inputs'.

        The first call cuts the blocks into stages (on rank 0, for every process). Each
        new microbatch shape (a smaller last batch, another sequence length) gets its own
        stages over the same blocks, with example inputs and outputs probed locally
        (shapes, dtypes and which require grad): torch's pipeline then needs no metadata
        inference, which would run every stage but the first on uninitialized tensors and
        move its BatchNorm statistics."""
        mesh = self.mesh
        blocks = ordered_blocks(self.module)
        sample = tuple(torch.tensor_split(t, n_mb)[0] for t in inputs)
        key = (n_mb, tuple((tuple(t.shape), t.dtype) for t in sample), _autocast(mesh.device))
        cached = self._stage_cache.pop(key, None)
        if cached is None:
            first = sample[0] if len(sample) == 1 else sample
            total = mesh.pp_size * self._virtual_stages(len(blocks))
            if self.stage_of_block is None:
                plan = self._plan(blocks, first, total)
                self.stage_of_block = plan
                self._owned = [
                    _StageModule(
                        [b for b, s in zip(blocks, plan, strict=True) if s == sid], first=sid == 0
                    )
                    for sid in range(mesh.pp_rank, total, mesh.pp_size)
                ]
                self._tied = self._find_tied(blocks)
            cached = self._build_stages(blocks, sample, _metadata(block_outputs(blocks, first)))
        self._stage_cache[key] = cached  # most recent last
        while len(self._stage_cache) > _STAGE_CACHE_SIZE:
            del self._stage_cache[next(iter(self._stage_cache))]
        self._stages = cached

    def _find_tied(self, blocks: list[nn.Module]) -> list[tuple[nn.Parameter, bool]]:
        """Parameters shared by blocks on different processes of the pipeline (tied
        weights), in the module's order, each with whether this process uses it."""
        assert self.stage_of_block is not None
        users: dict[int, set[int]] = {}
        for block, sid in zip(blocks, self.stage_of_block, strict=True):
            for p in block.parameters():
                users.setdefault(id(p), set()).add(sid % self.mesh.pp_size)
        return [
            (p, self.mesh.pp_rank in users[id(p)])
            for p in self.module.parameters()
            if len(users.get(id(p), ())) > 1
        ]

    def _build_stages(
        self, blocks: list[nn.Module], sample: tuple[Any, ...], outputs: list[Any] | None
    ) -> list[_PipelineStageBase]:
        mesh = self.mesh
        assert self.stage_of_block is not None
        total = max(self.stage_of_block) + 1
        local = range(mesh.pp_rank, total, mesh.pp_size)
        stages: list[_PipelineStageBase] = []
        for sid, stage_module in zip(local, self._owned, strict=True):
            ids = [i for i, s in enumerate(self.stage_of_block) if s == sid]
            examples: dict[str, Any] = {}
            if outputs is not None:
                before = _example(outputs[ids[0] - 1], mesh.device) if ids[0] else sample
                examples = {
                    "input_args": before,
                    "output_args": _example(outputs[ids[-1]], mesh.device),
                }
            stages.append(
                PipelineStage(
                    stage_module,
                    sid,
                    total,
                    mesh.device,
                    group=mesh.group(CommGroup.PP_GROUP),
                    **examples,
                )
            )
        return stages

    def _plan(self, blocks: list[nn.Module], sample: Any, stages: int) -> list[int]:
        """Stage of each block: manual placement, or balanced costs computed on rank 0."""
        mesh, settings = self.mesh, self.mesh.settings
        if settings.auto_partition and len(blocks) < mesh.pp_size:
            raise SpecError(
                f"partitions={mesh.pp_size}: must be at most the number of the model's blocks "
                f"({len(blocks)})",
                field="mp_parameters.partitions",
                value=mesh.pp_size,
            )
        plan: list[Any] = [None]
        if mesh.rank == 0:
            try:
                if settings.auto_partition:
                    memory_weight = settings.effective_memory_weight
                    costs = block_costs(blocks, sample, memory_weight=memory_weight)
                    plan[0] = balanced_split(costs, stages)
                else:
                    assigned = [_assigned(b) for b in blocks]
                    plan[0] = manual_split(assigned, mesh.pp_size, settings.default_partition)
            except Exception as error:  # every rank raises it, none waits for a plan
                plan[0] = error
        _dist.broadcast_object_list(plan, src=0)
        if isinstance(plan[0], BaseException):
            raise plan[0]
        return list(plan[0])

    def _virtual_stages(self, n_blocks: int) -> int:
        """Two stages per process for the interleaved schedule when there are enough blocks
        (and placement is automatic); one otherwise."""
        settings = self.mesh.settings
        interleave = settings.pipeline == "interleaved" and settings.auto_partition
        return 2 if interleave and n_blocks >= 2 * self.mesh.pp_size else 1

    def _get_schedule(self, loss_fn: Callable[..., Any], n_mb: int) -> Any:
        assert self._stages is not None
        if self.mesh.settings.pipeline == "simple":
            return ScheduleGPipe(self._stages[0], n_mb, loss_fn=loss_fn, scale_grads=False)
        if len(self._stages) > 1:
            try:
                return ScheduleInterleaved1F1B(
                    self._stages, n_mb, loss_fn=loss_fn, scale_grads=False
                )
            except ValueError:
                pass
        return Schedule1F1B(self._stages[0], n_mb, loss_fn=loss_fn, scale_grads=False)


def _autocast(device: torch.device) -> tuple[bool, torch.dtype | None]:
    """Whether autocast is on for ``device`` and its dtype: it changes the dtypes stages
    exchange, so stages are kept per autocast state too."""
    if not torch.is_autocast_enabled(device.type):
        return (False, None)
    return (True, torch.get_autocast_dtype(device.type))


class _StageModule(nn.Module):
    """Consecutive blocks of one pipeline stage, applied as ``nn.Sequential`` applies them:
    the first stage's first block takes the model's inputs, every other block the previous
    block's output as one argument — a tuple output that the pipeline sent as several
    tensors is put back together."""

    def __init__(self, blocks: list[nn.Module], *, first: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.first = first

    def forward(self, *args: Any) -> Any:
        if self.first:
            value = self.blocks[0](*args)
        else:
            value = self.blocks[0](args[0] if len(args) == 1 else args)
        for block in self.blocks[1:]:
            value = block(value)
        return value


def _metadata(outputs: list[Any]) -> list[Any] | None:
    """Each output as {shape, dtype, requires_grad}, or a tuple of those; None when an
    output holds anything but tensors (torch's pipeline then infers the metadata)."""

    def meta(value: Any) -> Any:
        if isinstance(value, torch.Tensor):
            return {
                "shape": tuple(value.shape),
                "dtype": value.dtype,
                "requires_grad": value.requires_grad,
            }
        if isinstance(value, (tuple, list)) and value:
            return tuple(meta(v) for v in value)
        raise TypeError(type(value).__name__)

    try:
        return [meta(v) for v in outputs]
    except TypeError:
        return None


def _example(meta: Any, device: torch.device) -> Any:
    """Uninitialized tensors with the shapes, dtypes and requires_grad of ``meta``."""
    if isinstance(meta, tuple):
        return tuple(_example(m, device) for m in meta)
    example = torch.empty(meta["shape"], dtype=meta["dtype"], device=device)
    return example.requires_grad_(meta["requires_grad"])


def _full(value: Any) -> Any:
    return value.full_tensor() if hasattr(value, "full_tensor") else value


def _load_into(module: nn.Module, state: dict[str, Any], strict: bool) -> Any:
    own = module.state_dict()
    converted = {}
    for key, value in state.items():
        target = own.get(key)
        if target is not None and hasattr(target, "device_mesh") and not hasattr(value, "to_local"):
            from torch.distributed.tensor import distribute_tensor

            value = distribute_tensor(value, target.device_mesh, target.placements)
        converted[key] = value
    return module.load_state_dict(converted, strict=strict)


_registry: dict[str, DistributedModel] = {}


# -- tensor parallel -------------------------------------------------------------------

_ELEMENTWISE = (nn.ReLU, nn.GELU, nn.SiLU, nn.Tanh, nn.Sigmoid, nn.Dropout, nn.Identity)


def _apply_tensor_parallel(module: nn.Module, mesh: Mesh) -> None:
    """Colwise/rowwise pairs of Linear layers separated only by elementwise layers."""
    from torch.distributed.tensor.parallel import (
        ColwiseParallel,
        RowwiseParallel,
        parallelize_module,
    )

    assert mesh.device_mesh is not None
    plan: dict[str, Any] = {}
    for name, seq in module.named_modules():
        if not isinstance(seq, nn.Sequential):
            continue
        children = list(seq.named_children())
        i = 0
        while i < len(children):
            j = i + 1
            while j < len(children) and isinstance(children[j][1], _ELEMENTWISE):
                j += 1
            first, second = children[i][1], children[j][1] if j < len(children) else None
            if isinstance(first, nn.Linear) and isinstance(second, nn.Linear):
                prefix = f"{name}." if name else ""
                plan[prefix + children[i][0]] = ColwiseParallel()
                plan[prefix + children[j][0]] = RowwiseParallel()
                i = j + 1
            else:
                i += 1
    if not plan:
        raise SpecError(
            "tensor_parallel_degree > 1: the model has no pair of nn.Linear layers in an "
            "nn.Sequential (separated only by elementwise layers) to split",
            field="mp_parameters.tensor_parallel_degree",
        )
    parallelize_module(module, mesh.device_mesh["tp"], plan)


# -- the optimizer ---------------------------------------------------------------------


class DistributedOptimizer:
    """Wraps an optimizer built on ``model.parameters()``; mirrors
    ``smp.DistributedOptimizer``. Parameters other processes own get no gradient and are
    left alone by the wrapped optimizer."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer

    def __getattr__(self, name: str) -> Any:
        return getattr(self.optimizer, name)

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    def step(self, closure: Callable[[], float] | None = None) -> Any:
        return self.optimizer.step(closure)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return self.optimizer.state_dict()

    local_state_dict = state_dict

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state_dict)


# -- @step -----------------------------------------------------------------------------


@overload
def step(fn: _F, /) -> _F: ...
@overload
def step(
    fn: None = None,
    /,
    *,
    non_split_inputs: Sequence[str] | None = None,
    input_split_axes: dict[str, int] | None = None,
) -> Callable[[_F], _F]: ...
def step(
    fn: _F | None = None,
    /,
    *,
    non_split_inputs: Sequence[str] | None = None,
    input_split_axes: dict[str, int] | None = None,
) -> Any:
    """Run ``fn`` once per microbatch (pipelined when there are partitions); every output
    becomes a :class:`StepOutput`. Used bare (``@smp.step``) or, as in SMP, with
    ``non_split_inputs`` (names of arguments every microbatch gets whole) and
    ``input_split_axes`` (the fallback splits along axis 0 only)."""
    if fn is None:
        return functools.partial(
            _make_step, non_split=_non_split(non_split_inputs, input_split_axes)
        )
    return _make_step(fn, non_split=frozenset())


def _non_split(names: Sequence[str] | None, axes: dict[str, int] | None) -> frozenset[str]:
    if names is not None and (isinstance(names, str) or not all(isinstance(n, str) for n in names)):
        raise SpecError(
            f"@smp.step(non_split_inputs={names!r}): must be a list of argument names",
            field="non_split_inputs",
            value=names,
        )
    for name, axis in (axes or {}).items():
        if axis != 0:
            raise SpecError(
                f"@smp.step(input_split_axes={{{name!r}: {axis!r}}}): the PyTorch fallback "
                "splits inputs along axis 0 only",
                field="input_split_axes",
                value=axes,
            )
    return frozenset(names or ())


def _make_step(fn: _F, *, non_split: frozenset[str]) -> _F:
    signature = inspect.signature(fn)
    unknown = sorted(non_split - set(signature.parameters))
    if unknown:
        raise SpecError(
            f"@smp.step(non_split_inputs=...): {unknown} are not arguments of "
            f"{fn.__name__}{signature}",
            field="non_split_inputs",
            value=unknown,
        )

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        model = _registry.get("model")
        mesh = _state.require()
        n_mb = mesh.settings.microbatches
        whole = _whole_positions(signature, non_split, args, kwargs)
        if mesh.tp_size > 1:
            args, kwargs = _gather_tp(args, kwargs, mesh, whole)
        chunks = _split(args, kwargs, n_mb, whole)
        if model is None or mesh.pp_size == 1:
            results, backward = _run_local(fn, model, chunks, n_mb)
        else:
            results, backward = _run_pipeline(fn, model, args, kwargs, chunks, n_mb)
        if model is not None and mesh.rdp_size > 1:
            if backward:
                _average_gradients(model, mesh)
            if model.broadcast_buffers:
                _broadcast_buffers(model, mesh)
        return _collect(results)

    return wrapper  # type: ignore[return-value]


def _whole_positions(
    signature: inspect.Signature,
    names: frozenset[str],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> set[int | str]:
    """Positions (and keyword names) of the arguments that are not split."""
    if not names:
        return set()
    bound = signature.bind_partial(*args, **kwargs)
    positional = list(signature.parameters)
    whole: set[int | str] = set()
    for name in names:
        if name in kwargs:
            whole.add(name)
        elif name in bound.arguments and positional.index(name) < len(args):
            whole.add(positional.index(name))
    return whole


def _batch_size(
    args: tuple[Any, ...], kwargs: dict[str, Any], whole: set[int | str] | None = None
) -> int | None:
    skip = whole or set()
    values = [v for i, v in enumerate(args) if i not in skip]
    values += [v for k, v in kwargs.items() if k not in skip]
    for value in values:
        if isinstance(value, torch.Tensor) and value.dim() > 0:
            return int(value.shape[0])
    return None


def _split(
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    n_mb: int,
    whole: set[int | str] | None = None,
) -> list[tuple[tuple[Any, ...], dict[str, Any]]]:
    skip = whole or set()
    batch = _batch_size(args, kwargs, skip)
    if batch is None or n_mb == 1:
        return [(args, kwargs)] * n_mb if batch is not None else [(args, kwargs)]
    if batch % n_mb != 0:
        raise SpecError(
            f"batch size {batch}: must be divisible by mp_parameters.microbatches={n_mb}",
            field="mp_parameters.microbatches",
            value=n_mb,
        )

    def piece(value: Any, i: int, key: int | str) -> Any:
        if key in skip:
            return value
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
            return torch.tensor_split(value, n_mb)[i]
        return value

    return [
        (
            tuple(piece(a, i, j) for j, a in enumerate(args)),
            {k: piece(v, i, k) for k, v in kwargs.items()},
        )
        for i in range(n_mb)
    ]


def _run_local(
    fn: Callable[..., Any],
    model: DistributedModel | None,
    chunks: list[tuple[tuple[Any, ...], dict[str, Any]]],
    n_mb: int,
) -> tuple[list[Any], bool]:
    forward = model.module if model is not None else _no_model
    results, backward = [], False
    for args, kwargs in chunks:
        average = model is None or model.average_grads_across_microbatches
        with _use(_LocalContext(forward, 1.0 / len(chunks) if average else 1.0)) as ctx:
            results.append(_detach(fn(*args, **kwargs)))
        backward = backward or ctx.backward_called
    return results, backward


def _no_model(*args: Any, **kwargs: Any) -> Any:
    raise SpecError("@smp.step: create smp.DistributedModel(model) first", field="model")


def _run_pipeline(
    fn: Callable[..., Any],
    model: DistributedModel,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    chunks: list[tuple[tuple[Any, ...], dict[str, Any]]],
    n_mb: int,
) -> tuple[list[Any], bool]:
    mesh = model.mesh
    try:
        with _use(_Context(_capture, 1.0)):
            fn(*args, **kwargs)
        raise SpecError("@smp.step: the function never calls the model", field="step")
    except _Captured as captured:
        inputs = tuple(a.to(mesh.device) for a in captured.args)
    model._use_stages(inputs, n_mb)
    results: dict[int, Any] = {}
    called = [False]

    def loss_fn(output: Any, target: torch.Tensor) -> torch.Tensor:
        index = int(target.reshape(-1)[0])
        m_args, m_kwargs = chunks[index]
        with _use(_Context(lambda *a, **k: output, 1.0)) as ctx:
            results[index] = _detach(fn(*m_args, **m_kwargs))
        called[0] = called[0] or ctx.backward_called
        if ctx.loss is not None:
            return ctx.loss / n_mb if model.average_grads_across_microbatches else ctx.loss
        return _zero_like(output)

    schedule = model._get_schedule(loss_fn, n_mb)
    is_first, is_last = mesh.pp_rank == 0, mesh.pp_rank == mesh.pp_size - 1
    step_args = inputs if is_first else ()
    target = torch.arange(n_mb, device=mesh.device) if is_last else None
    earlier = [None if p.grad is None else p.grad.clone() for p, _ in model._tied]
    if torch.is_grad_enabled():
        schedule.step(*step_args, target=target)
    else:
        schedule.eval(*step_args, target=target)
    outputs, backward = _share_results(mesh, results, called[0], n_mb)
    if backward and model._tied:
        _sum_tied_gradients(model, mesh, earlier)
    return outputs, backward


def _zero_like(output: Any) -> torch.Tensor:
    first = output[0] if isinstance(output, (tuple, list)) else output
    zero: torch.Tensor = (first * 0).sum()
    return zero


def _share_results(
    mesh: Mesh, results: dict[int, Any], called: bool, n_mb: int
) -> tuple[list[Any], bool]:
    """The last stage's per-microbatch returns, sent to every stage of the pipeline."""
    group = mesh.group(CommGroup.PP_GROUP)
    last = mesh.group_ranks(CommGroup.PP_GROUP)[-1]
    payload: list[Any] = [None]
    if mesh.pp_rank == mesh.pp_size - 1:
        payload[0] = ([_to_cpu(results[i]) for i in range(n_mb)], called)
    _dist.broadcast_object_list(payload, src=last, group=group)
    values, backward = payload[0]
    return [_to_device(v, mesh.device) for v in values], bool(backward)


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.cpu()
    if isinstance(value, (tuple, list)):
        return type(value)(_to_cpu(v) for v in value)
    return value


def _to_device(value: Any, device: torch.device) -> Any:
    if isinstance(value, torch.Tensor):
        return value.to(device)
    if isinstance(value, (tuple, list)):
        return type(value)(_to_device(v, device) for v in value)
    return value


def _gather_tp(
    args: tuple[Any, ...], kwargs: dict[str, Any], mesh: Mesh, whole: set[int | str]
) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """Tensor-parallel ranks read different samples (SMP's dp spans them): the slices of
    one replica run on the concatenation of their batches."""
    group = mesh.group(CommGroup.TP_GROUP)
    batch = _batch_size(args, kwargs, whole)

    def gather(value: Any, key: int | str) -> Any:
        if key in whole:
            return value
        if isinstance(value, torch.Tensor) and value.dim() > 0 and value.shape[0] == batch:
            parts = [torch.empty_like(value) for _ in range(mesh.tp_size)]
            _dist.all_gather(parts, value.contiguous(), group=group)
            return torch.cat(parts, dim=0)
        return value

    return (
        tuple(gather(a, i) for i, a in enumerate(args)),
        {k: gather(v, k) for k, v in kwargs.items()},
    )


def _sum_tied_gradients(
    model: DistributedModel, mesh: Mesh, earlier: list[torch.Tensor | None]
) -> None:
    """A weight tied across pipeline stages gets the sum of this step's gradients of every
    stage on every process that holds a use of it, so its copies take the same optimizer
    steps (``earlier``: the gradients before the step, equal on those processes, which
    accumulate over ``@step`` calls as ``backward`` does)."""
    group = mesh.group(CommGroup.PP_GROUP)
    for (p, used), before in zip(model._tied, earlier, strict=True):
        new = p.grad if used and p.grad is not None else torch.zeros_like(p)
        if before is not None:
            new = new - before
        _dist.all_reduce(new, group=group)
        if used:
            p.grad = new if before is None else before + new


def _average_gradients(model: DistributedModel, mesh: Mesh) -> None:
    group = mesh.group(CommGroup.RDP_GROUP)
    for p in model.local_parameters():
        if p.grad is None:
            continue
        grad = p.grad.to_local() if hasattr(p.grad, "to_local") else p.grad
        _dist.all_reduce(grad, group=group)
        grad.div_(mesh.rdp_size)


def _broadcast_buffers(model: DistributedModel, mesh: Mesh) -> None:
    """This process's buffers from the first process of its data-parallel replica group."""
    group = mesh.group(CommGroup.RDP_GROUP)
    src = mesh.group_ranks(CommGroup.RDP_GROUP)[0]
    with torch.no_grad():
        for b in model.local_buffers():
            local = b.to_local() if hasattr(b, "to_local") else b
            _dist.broadcast(local, src=src, group=group)
