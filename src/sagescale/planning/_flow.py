"""The decision flow for one instance family (SageMaker's distributed-training best practices).

1. Fits one device → data parallel; scale vertically, then horizontally.
2. Does not fit → smaller model, smaller batch, smaller inputs, mixed precision (each said
   with what it costs); the planner applies mixed precision, then a smaller per-device batch.
3. Still does not fit → model parallel with the fewest partitions that fit with headroom.
4. Many devices → check the per-device batch; suggest the global batch and learning rate.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

from sagescale.planning._evaluate import (
    MP_HEADROOM,
    Context,
    Rung,
    choose_microbatches,
    evaluate_dp,
    evaluate_mp,
    gib,
    largest_batch,
    stage_memory,
)
from sagescale.planning._layout import Layout, ladder
from sagescale.planning._memory import Precision
from sagescale.planning._plan import Decision, Remedy, Strategy
from sagescale.planning._remedies import mixed_precision_for, one_device_memory, remedies
from sagescale.planning._request import PlanRequest
from sagescale.planning._workload import Workload
from sagescale.specs import GpuSpec, InstanceType

__all__ = ["FamilyPlan", "plan_family"]

_MAX_PARTITIONS = 64  # SageMaker model parallel's limit


@dataclass
class FamilyPlan:
    """The flow's outcome on one instance family."""

    ctx: Context
    strategy: Strategy
    rungs: list[Rung]
    chosen: int
    steps: int
    remedies: list[Remedy] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def rung(self) -> Rung:
        return self.rungs[self.chosen]

    def hours(self, rung: Rung) -> float:
        return self.steps * rung.step.total / 3600.0

    def cost(self, rung: Rung) -> float:
        return self.hours(rung) * rung.layout.price_per_hour


def _resolve_precision(requested: Precision, gpu: GpuSpec) -> tuple[Precision, str]:
    if requested == "bf16" and gpu.bf16_tflops is None:
        return "fp16", (
            f"bf16 was asked for, but {gpu.model} has no bf16: fp16 with dynamic loss "
            "scaling (torch.amp.GradScaler) instead"
        )
    if requested == "fp32":
        return requested, "as asked (fp32); mixed precision is applied only if it is needed to fit"
    return requested, f"as asked; {gpu.model} runs {requested} on its tensor cores"


def _switched(before: Precision, ctx: Context, gpu: GpuSpec) -> str:
    why = f"{before} does not fit one GPU, mixed precision ({ctx.precision}) halves the activations"
    if ctx.precision == "fp16":
        why += f"; {gpu.model} has no bf16: fp16 with dynamic loss scaling (torch.amp.GradScaler)"
    return why


def _fit_decision(ctx: Context) -> tuple[bool, Decision]:
    memory = one_device_memory(ctx)
    used = f"{gib(memory.total)} of {gib(ctx.capacity)}"
    batch = ctx.req.batch_size
    if memory.fits:
        return True, Decision("fits one device", "yes", f"{used} with the whole batch {batch}")
    reason = f"{used} with the whole batch {batch}; {memory.dominant_phrase()}"
    return False, Decision("fits one device", "no", reason)


def _apply_remedy(ctx: Context, options: list[Remedy], gpu: GpuSpec) -> tuple[Context, Strategy]:
    """Mixed precision first (it keeps the experiment), then a smaller per-device batch."""
    by_name = {r.name: i for i, r in enumerate(options)}
    mixed, smaller = by_name["mixed precision"], by_name["smaller batch"]
    if options[mixed].fits:
        options[mixed] = dataclasses.replace(options[mixed], applied=True)
        return ctx.with_precision(mixed_precision_for(gpu)), "data_parallel"
    if options[smaller].fits:
        options[smaller] = dataclasses.replace(options[smaller], applied=True)
        return ctx, "data_parallel"
    if ctx.precision == "fp32":
        other = ctx.with_precision(mixed_precision_for(gpu))
        if largest_batch(other, ctx.work.params) >= 1:
            for i in (mixed, smaller):
                options[i] = dataclasses.replace(options[i], applied=True)
            return other, "data_parallel"
    return ctx, "model_parallel"


def _remedy_decision(options: list[Remedy], strategy: Strategy) -> Decision:
    applied = [r for r in options if r.applied]
    others = "; ".join(f"{r.name}: {r.change}" for r in options if r.fits and not r.applied)
    if applied:
        choice = " + ".join(r.name for r in applied)
        reason = "; ".join(f"{r.change} (cost: {r.cost})" for r in applied)
        reason += "; it keeps the model, the global batch and the inputs"
    else:
        choice = "none fits"
        reason = f"neither mixed precision nor a batch of one fits: {strategy.replace('_', ' ')}"
    if others:
        reason += f". Also possible, changing the experiment: {others}"
    return Decision("remedy", choice, reason)


def _partition_candidates(members: list[InstanceType], max_instances: int) -> list[int]:
    top = max(i.gpus for i in members)
    inside = [d for d in range(2, top + 1) if top % d == 0]
    across = [top * 2**j for j in range(1, 9) if 2**j <= max(max_instances, 2)]
    return [p for p in inside + across if p <= _MAX_PARTITIONS]


def _choose_partitions(ctx: Context, members: list[InstanceType]) -> tuple[int, Decision, bool]:
    tried: list[str] = []
    candidates = _partition_candidates(members, ctx.req.max_instances)
    for p in candidates:
        # the microbatches a one-replica pipeline of p stages gets for the whole batch: a
        # batch smaller than p leaves fewer than p one-sample microbatches in flight
        memory = stage_memory(ctx, p, 1, choose_microbatches(p, ctx.req.batch_size))
        tried.append(f"{p} -> {gib(memory.total)}")
        if memory.total <= MP_HEADROOM * ctx.capacity:
            reason = (
                f"fewest partitions whose first stage fits in {MP_HEADROOM:.0%} of "
                f"{gib(ctx.capacity)} with one-sample microbatches ({', '.join(tried)})"
            )
            return p, Decision("partitions", str(p), reason), True
    p = candidates[-1]
    reason = f"no partition count up to {p} fits ({', '.join(tried[-3:])})"
    return p, Decision("partitions", str(p), reason), False


def _mp_ladder(
    ctx: Context, members: list[InstanceType], start: InstanceType | None, p: int
) -> list[Layout]:
    top = max(i.gpus for i in members)
    if start is not None and start.gpus < p:
        start = None
    layouts = ladder(
        members,
        start=start,
        max_instances=max(ctx.req.max_instances, math.ceil(p / top)),
        requested=_requested(ctx.req),
    )
    return [r for r in layouts if _hosts_pipeline(r, p)]


def _hosts_pipeline(layout: Layout, p: int) -> bool:
    if p <= layout.per_host:
        return layout.per_host % p == 0
    return layout.gpus % p == 0 and p % layout.per_host == 0


def _requested(req: PlanRequest) -> tuple[InstanceType, int] | None:
    from sagescale.specs import get_instance_type

    if req.instance_type is None or req.instance_count is None:
        return None
    info = get_instance_type(req.instance_type)
    return None if info is None else (info, req.instance_count)


def plan_family(
    req: PlanRequest,
    work: Workload,
    members: list[InstanceType],
    *,
    start: InstanceType | None,
    steps: int,
) -> FamilyPlan:
    """Run the decision flow on one instance family."""
    from sagescale.planning._choose import choose_rung

    gpu = members[0].gpu
    assert gpu is not None
    precision, why = _resolve_precision(req.precision, gpu)
    ctx = Context(req, work, precision, members[0].gpu_memory_gib * 1024**3)
    decisions = [Decision("precision", precision, why)]
    fits, decision = _fit_decision(ctx)
    decisions.append(decision)
    options: list[Remedy] = []
    strategy: Strategy = "data_parallel"
    if not fits:
        options = remedies(ctx, gpu)
        ctx, strategy = _apply_remedy(ctx, options, gpu)
        decisions.append(_remedy_decision(options, strategy))
        if ctx.precision != precision:
            decisions[0] = Decision("precision", ctx.precision, _switched(precision, ctx, gpu))
    plan = FamilyPlan(ctx, strategy, [], 0, steps, options, decisions)
    _small_batch_warning(plan)
    if strategy == "data_parallel":
        layouts = ladder(
            members, start=start, max_instances=req.max_instances, requested=_requested(req)
        )
        plan.rungs = [evaluate_dp(ctx, layout) for layout in layouts]
        plan.decisions.append(_dp_decision(plan))
    else:
        p, decision, ok = _choose_partitions(ctx, members)
        plan.decisions.append(_mp_decision(p))
        plan.decisions.append(decision)
        if not ok:
            plan.warnings.append(
                f"the model does not fit even with {p} partitions: the first stage holds "
                f"about one sample's activations ({gib(ctx.act)}; p microbatches in flight x "
                "1/p of the layers) whatever the partitions; activation checkpointing (not "
                "modelled here), shorter inputs or a GPU with more memory are left"
            )
        plan.rungs = [evaluate_mp(ctx, lay, p) for lay in _mp_ladder(ctx, members, start, p)]
    choose_rung(plan)
    return plan


def _small_batch_warning(plan: FamilyPlan) -> None:
    if not any(r.applied and r.name == "smaller batch" for r in plan.remedies):
        return
    most = largest_batch(plan.ctx, plan.ctx.work.params)
    if most < plan.ctx.req.min_device_batch:
        plan.warnings.append(
            f"only {most} sample(s) fit a GPU next to the model: a per-device batch below "
            f"{plan.ctx.req.min_device_batch} leaves the GPU underused (model parallel or a GPU "
            "with more memory would allow larger batches)"
        )


def _dp_decision(plan: FamilyPlan) -> Decision:
    reason = "the model fits one GPU: replicate it and split each batch across the GPUs"
    if any(r.applied for r in plan.remedies):
        reason = "with the remedy above the model fits one GPU: replicate it, split the batch"
    return Decision("strategy", "data parallel", reason)


def _mp_decision(p: int) -> Decision:
    return Decision(
        "strategy",
        "model parallel",
        "no remedy short of changing the experiment fits one GPU: split the model into a "
        f"pipeline of {p} partitions (hybrid with data parallel when there are more GPUs)",
    )
