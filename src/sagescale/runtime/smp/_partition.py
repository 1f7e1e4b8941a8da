"""Automatic partitioning of an ordered list of blocks into pipeline stages.

Pure functions plus a cost probe; the split is the contiguous one that minimizes the
largest stage cost (exact dynamic programme, ties broken towards earlier cuts).
"""

from __future__ import annotations

import contextlib
import itertools
import time
from collections.abc import Callable, Iterator, Sequence

import torch
from torch import nn

from sagescale.errors import SpecError

__all__ = [
    "balanced_split",
    "block_costs",
    "block_outputs",
    "manual_split",
    "ordered_blocks",
    "preserved_buffers",
]


def ordered_blocks(module: nn.Module) -> list[nn.Module]:
    """The blocks a pipeline is cut from: an ``nn.Sequential``'s children, or what the
    model's ``pipeline_blocks()`` returns (blocks applied one after the other)."""
    exposer = getattr(module, "pipeline_blocks", None)
    if callable(exposer):
        blocks = list(exposer())
    elif isinstance(module, nn.Sequential):
        blocks = list(module)
    else:
        raise SpecError(
            f"model {type(module).__name__}: pipeline parallelism without smdistributed needs "
            "an nn.Sequential or a model with a pipeline_blocks() method returning its blocks "
            "in order",
            field="model",
            value=type(module).__name__,
        )
    if not all(isinstance(b, nn.Module) for b in blocks):
        raise SpecError("pipeline_blocks(): must return nn.Module objects", field="model")
    return blocks


def balanced_split(costs: Sequence[float], parts: int) -> list[int]:
    """Stage index of each block: contiguous, every stage non-empty, max stage cost minimal."""
    n = len(costs)
    if parts < 1 or n < parts:
        raise SpecError(
            f"partitions={parts}: must be between 1 and the number of blocks ({n})",
            field="partitions",
            value=parts,
        )
    prefix = [0.0]
    for c in costs:
        prefix.append(prefix[-1] + float(c))
    inf = float("inf")
    # best[k][i]: minimal max-cost splitting the first i blocks into k stages
    best = [[inf] * (n + 1) for _ in range(parts + 1)]
    cut = [[0] * (n + 1) for _ in range(parts + 1)]
    best[0][0] = 0.0
    for k in range(1, parts + 1):
        for i in range(k, n - (parts - k) + 1):
            for j in range(k - 1, i):
                value = max(best[k - 1][j], prefix[i] - prefix[j])
                if value < best[k][i] - 1e-12:
                    best[k][i], cut[k][i] = value, j
    stages = [0] * n
    i = n
    for k in range(parts, 0, -1):
        j = cut[k][i]
        for b in range(j, i):
            stages[b] = k - 1
        i = j
    return stages


def manual_split(assigned: Sequence[int | None], parts: int, default_partition: int) -> list[int]:
    """Stage of each block from explicit assignments (``smp.partition``/``set_partition``);
    unassigned blocks go to ``default_partition``. Stages must not decrease along the blocks."""
    stages = [default_partition if a is None else a for a in assigned]
    for index, stage in enumerate(stages):
        if not 0 <= stage < parts:
            raise SpecError(
                f"block {index} placed on partition {stage}: must be in [0, {parts})",
                field="partition",
                value=stage,
            )
    if any(b < a for a, b in itertools.pairwise(stages)):
        raise SpecError(
            f"manual placement {stages}: a pipeline needs blocks in partition order "
            "(partition numbers must not decrease along the blocks)",
            field="partition",
            value=stages,
        )
    if sorted(set(stages)) != list(range(parts)):
        raise SpecError(
            f"manual placement {stages}: every partition 0..{parts - 1} needs a block",
            field="partition",
            value=stages,
        )
    return stages


def _param_bytes(module: nn.Module) -> int:
    return sum(p.numel() * p.element_size() for p in module.parameters())


def _out_bytes(value: object) -> int:
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, (tuple, list)):
        return sum(_out_bytes(v) for v in value)
    return 0


def _arguments(sample: object) -> tuple[object, ...]:
    """The first block's positional arguments: ``sample``'s items when it is a tuple (the
    model's inputs), else ``sample`` alone."""
    return sample if isinstance(sample, tuple) else (sample,)


def block_costs(
    blocks: Sequence[nn.Module],
    sample: object,
    *,
    memory_weight: float,
    timer: Callable[[nn.Module, tuple[object, ...]], float] | None = None,
) -> list[float]:
    """Cost of each block: ``memory_weight`` x its share of parameter + activation memory
    plus ``1 - memory_weight`` x its share of measured forward time on ``sample`` (the
    model's input, or a tuple of its inputs; each later block gets the previous block's
    output as its one argument, as in ``nn.Sequential``)."""
    memory: list[float] = []
    times: list[float] = []
    args = _arguments(sample)
    measure = timer or _time_forward
    with torch.no_grad(), torch.random.fork_rng(devices=[]), preserved_buffers(blocks):
        for block in blocks:
            times.append(measure(block, args) if memory_weight < 1.0 else 0.0)
            value = block(*args)
            args = (value,)
            memory.append(float(_param_bytes(block) + _out_bytes(value)))
    return [
        memory_weight * _share(m, memory) + (1.0 - memory_weight) * _share(t, times)
        for m, t in zip(memory, times, strict=True)
    ]


@contextlib.contextmanager
def preserved_buffers(blocks: Sequence[nn.Module]) -> Iterator[None]:
    """Buffers (BatchNorm running statistics and counters) as they were before the body
    ran: the forwards of a probe leave no trace in the model."""
    saved = [(b, b.detach().clone()) for block in blocks for b in block.buffers()]
    try:
        yield
    finally:
        with torch.no_grad():
            for buffer, value in saved:
                buffer.copy_(value)


def block_outputs(blocks: Sequence[nn.Module], sample: object) -> list[object]:
    """What each block returns when the blocks run one after the other on ``sample`` (as
    in :func:`block_costs`), detached; a floating-point output requires grad exactly when
    the block's input or parameters do (as in training). Buffers and the random state are
    left unchanged."""
    outputs: list[object] = []
    args = tuple(_leaf(a) for a in _arguments(sample))
    with torch.enable_grad(), torch.random.fork_rng(devices=[]), preserved_buffers(blocks):
        for block in blocks:
            value = _leaf(block(*args))
            outputs.append(value)
            args = (value,)
    return outputs


def _leaf(value: object) -> object:
    """A detached copy of ``value``'s tensors keeping whether each requires grad."""
    if isinstance(value, torch.Tensor):
        return value.detach().requires_grad_(value.requires_grad and value.is_floating_point())
    if isinstance(value, (tuple, list)):
        return type(value)(_leaf(v) for v in value)
    return value


def _share(value: float, values: Sequence[float]) -> float:
    total = sum(values)
    return value / total if total > 0 else 1.0 / len(values)


def _time_forward(block: nn.Module, args: tuple[object, ...], repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        block(*args)
        best = min(best, time.perf_counter() - start)
    return best
