"""Evaluate one layout: batch per device, memory per device, step time, throughput."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sagescale.planning._layout import Layout
from sagescale.planning._memory import (
    GIB,
    MemoryBreakdown,
    ModelStateBytes,
    Precision,
    activation_budget,
    breakdown,
    model_state_bytes_per_param,
)
from sagescale.planning._perf import (
    StepTime,
    allreduce_seconds,
    peak_flops,
    pipeline_bubble,
    ring_allreduce_seconds,
    step_time,
)
from sagescale.planning._request import PlanRequest
from sagescale.planning._workload import Workload

__all__ = [
    "MP_HEADROOM",
    "Context",
    "Rung",
    "evaluate_dp",
    "evaluate_mp",
    "largest_batch",
    "samples_fitting",
]

_MAX_MICROBATCHES = 1024  # SageMaker's limit
_MAX_SAMPLES = 1_000_000
MP_HEADROOM = 0.9
"""A pipeline stage must fit in this share of the device memory (10% headroom)."""


@dataclass(frozen=True)
class Context:
    """What every evaluation of one instance family needs."""

    req: PlanRequest
    work: Workload
    precision: Precision
    capacity: float

    @property
    def state(self) -> ModelStateBytes:
        return model_state_bytes_per_param(
            self.req.optimizer, self.precision, matrix_side=self.work.matrix_side
        )

    @property
    def act(self) -> float:
        """Activation bytes per sample at the plan's precision."""
        return self.work.activations_per_sample(self.precision)

    @property
    def grad_bytes(self) -> float:
        return self.state.gradients * self.work.params

    def with_precision(self, precision: Precision) -> Context:
        return Context(self.req, self.work, precision, self.capacity)


@dataclass(frozen=True)
class Rung:
    """A layout evaluated: per-device (per-replica) batch, memory, step time."""

    layout: Layout
    partitions: int
    per_device_batch: int
    accumulation: int
    microbatches: int
    memory: MemoryBreakdown
    step: StepTime
    global_batch: int

    @property
    def replicas(self) -> int:
        return self.layout.gpus // self.partitions

    @property
    def samples_per_second(self) -> float:
        return self.global_batch / self.step.total

    @property
    def fits(self) -> bool:
        return self.memory.fits


def largest_batch(ctx: Context, params_on_device: float, *, headroom: float = 1.0) -> int:
    """The most samples whose activations fit next to ``params_on_device`` (0 if none)."""
    budget = activation_budget(ctx.state, params_on_device, ctx.capacity * headroom)
    return samples_fitting(budget, ctx.act)


def samples_fitting(budget: float, per_sample: float) -> int:
    """How many samples of ``per_sample`` bytes fit in ``budget`` (capped at a million)."""
    if budget < 0:
        return 0
    if per_sample <= 0 or budget / per_sample >= _MAX_SAMPLES:
        return _MAX_SAMPLES
    return int(budget // per_sample)


def _split(per_device: int, fits_at_most: int) -> tuple[int, int]:
    """(accumulation steps, micro-batch) so that the micro-batch fits."""
    if fits_at_most >= per_device or fits_at_most < 1:
        return 1, per_device
    accumulation = math.ceil(per_device / fits_at_most)
    return accumulation, math.ceil(per_device / accumulation)


def evaluate_dp(ctx: Context, layout: Layout) -> Rung:
    """Data parallel: every GPU holds the model and ``global batch / GPUs`` samples."""
    n = layout.gpus
    per_device = math.ceil(ctx.req.batch_size / n)
    accumulation, micro = _split(per_device, largest_batch(ctx, ctx.work.params))
    memory = breakdown(ctx.state, ctx.work.params, micro * ctx.act, ctx.capacity)
    reduce = allreduce_seconds(
        ctx.grad_bytes, layout.instance, local_ranks=layout.per_host, nodes=layout.count
    )
    step = step_time(
        flops_per_device=ctx.work.flops_per_sample * per_device,
        flops_per_second=peak_flops(layout.instance, ctx.precision) * ctx.req.mfu,
        allreduce=reduce,
        bubble=0.0,
    )
    return Rung(layout, 1, per_device, accumulation, 1, memory, step, per_device * n)


def choose_microbatches(partitions: int, per_replica: int) -> int:
    """At least the partitions and at least 4, dividing the per-replica batch if a divisor
    lies within twice that (else the last microbatch is smaller)."""
    target = min(max(partitions, 4), per_replica, _MAX_MICROBATCHES)
    for m in range(target, min(2 * target, per_replica, _MAX_MICROBATCHES) + 1):
        if per_replica % m == 0:
            return m
    return target


def _mp_allreduce(ctx: Context, layout: Layout, partitions: int) -> float:
    """Gradient all-reduce between the replicas of each pipeline stage."""
    replicas = layout.gpus // partitions
    if replicas <= 1:
        return 0.0
    net = layout.instance.network_gbps / 8.0
    if partitions <= layout.per_host:
        local = layout.per_host // partitions
        intra = ring_allreduce_seconds(
            ctx.grad_bytes / partitions, local, layout.instance.intra_node_gbytes_per_s
        )
        return intra + ring_allreduce_seconds(ctx.grad_bytes, layout.count, net)
    stage_share = ctx.grad_bytes * layout.per_host / partitions
    return ring_allreduce_seconds(stage_share, replicas, net)


def stage_memory(ctx: Context, partitions: int, micro: int, microbatches: int) -> MemoryBreakdown:
    """First pipeline stage: 1/p of the model state, ``min(m, p)`` microbatches in flight of
    1/p of the layers each (1F1B schedule, SageMaker's ``interleaved`` pipeline)."""
    in_flight = min(microbatches, partitions)
    activations = in_flight * micro * ctx.act / partitions
    return breakdown(ctx.state, ctx.work.params / partitions, activations, ctx.capacity)


def _mp_batches(ctx: Context, partitions: int, per_replica: int) -> tuple[int, int, int]:
    """(accumulation, microbatches, microbatch size) for ``per_replica`` samples per step."""
    capacity = ctx.capacity * MP_HEADROOM
    budget = activation_budget(ctx.state, ctx.work.params / partitions, capacity)
    m = choose_microbatches(partitions, per_replica)
    if ctx.act > 0:
        # the first stage holds min(m, p) microbatches of 1/p of the layers
        per_microbatch = samples_fitting(budget, ctx.act * min(m, partitions) / partitions)
        accumulation, per_pass = _split(per_replica, max(1, per_microbatch) * m)
    else:
        accumulation, per_pass = 1, per_replica
    if accumulation > 1:
        m = choose_microbatches(partitions, per_pass)
    return accumulation, m, math.ceil(per_pass / m)


def evaluate_mp(ctx: Context, layout: Layout, partitions: int) -> Rung:
    """Model parallel with ``partitions`` pipeline stages; hybrid when GPUs > partitions."""
    replicas = layout.gpus // partitions
    per_replica = math.ceil(ctx.req.batch_size / replicas)
    accumulation, m, micro = _mp_batches(ctx, partitions, per_replica)
    memory = stage_memory(ctx, partitions, micro, m)
    step = step_time(
        flops_per_device=ctx.work.flops_per_sample * per_replica / partitions,
        flops_per_second=peak_flops(layout.instance, ctx.precision) * ctx.req.mfu,
        allreduce=_mp_allreduce(ctx, layout, partitions),
        bubble=pipeline_bubble(partitions, m),
    )
    return Rung(
        layout, partitions, per_replica, accumulation, m, memory, step, per_replica * replicas
    )


def gib(nbytes: float) -> str:
    """``12.3 GiB``."""
    return f"{nbytes / GIB:.1f} GiB"
