"""Pick a rung of the scaling ladder and explain the batch it implies (steps 1, 3 and 4)."""

from __future__ import annotations

import math

from sagescale.planning._evaluate import MP_HEADROOM, Rung, largest_batch, samples_fitting
from sagescale.planning._flow import FamilyPlan
from sagescale.planning._memory import activation_budget
from sagescale.planning._perf import pipeline_bubble
from sagescale.planning._plan import Decision

__all__ = ["choose_rung", "efficiency", "speedup"]


def speedup(plan: FamilyPlan, rung: Rung) -> float:
    """Throughput of ``rung`` over the first rung of the ladder."""
    return rung.samples_per_second / plan.rungs[0].samples_per_second


def efficiency(plan: FamilyPlan, rung: Rung) -> float:
    """Speed-up per added GPU: 1.0 is linear scaling."""
    return speedup(plan, rung) / (rung.layout.gpus / plan.rungs[0].layout.gpus)


def _path(plan: FamilyPlan, upto: int) -> str:
    return " -> ".join(
        f"{r.layout.label()} {speedup(plan, r):.1f}x" for r in plan.rungs[: upto + 1]
    )


def _requested(plan: FamilyPlan) -> tuple[int, str] | None:
    req = plan.ctx.req
    if req.instance_count is None:
        return None
    for i, rung in enumerate(plan.rungs):
        if (
            rung.layout.instance.name == req.instance_type
            and rung.layout.count == req.instance_count
        ):
            return i, f"as asked ({_path(plan, i)})"
    plan.warnings.append(
        f"{req.instance_count} x {req.instance_type} cannot host the plan's "
        f"{plan.rungs[0].partitions} partitions: chose another layout"
    )
    return None


def _deadline(plan: FamilyPlan) -> tuple[int, str] | None:
    limit = plan.ctx.req.max_hours
    if limit is None:
        return None
    ok = [i for i, r in enumerate(plan.rungs) if plan.hours(r) <= limit]
    if not ok:
        fastest = min(range(len(plan.rungs)), key=lambda i: plan.rungs[i].step.total)
        hours = plan.hours(plan.rungs[fastest])
        plan.warnings.append(
            f"no layout finishes within {limit:g} h: the fastest takes {hours:.1f} h"
        )
        return fastest, f"fastest layout; none finishes within {limit:g} h"
    best = min(ok, key=lambda i: plan.cost(plan.rungs[i]))
    rung = plan.rungs[best]
    return best, (
        f"cheapest layout that runs {plan.steps} steps within {limit:g} h "
        f"({plan.hours(rung):.2f} h, ${plan.cost(rung):,.2f} on demand)"
    )


def _auto(plan: FamilyPlan) -> tuple[int, str]:
    req = plan.ctx.req
    chosen, stop = 0, "the ladder ends there"
    for i, rung in enumerate(plan.rungs[1:], start=1):
        if rung.layout.kind == "requested":
            continue
        label = rung.layout.label()
        if rung.per_device_batch < req.min_device_batch:
            stop = (
                f"the next step, {label}, would cut the per-device batch to {rung.per_device_batch}"
            )
            break
        eff = efficiency(plan, rung)
        if eff < req.min_efficiency:
            stop = f"the next step, {label}, would scale at {eff:.0%} efficiency"
            break
        chosen = i
    reason = (
        f"vertically first, then horizontally (one Availability Zone), while the per-device "
        f"batch stays >= {req.min_device_batch} and efficiency >= {req.min_efficiency:.0%}: "
        f"{_path(plan, chosen)}; {stop}"
    )
    return chosen, reason


def choose_rung(plan: FamilyPlan) -> None:
    """Set ``plan.chosen`` and add the instance, batch and pipeline decisions."""
    chosen, reason = _requested(plan) or _deadline(plan) or _auto(plan)
    plan.chosen = chosen
    rung = plan.rung
    gpus = rung.layout.gpus
    plan.decisions.append(
        Decision("instances", f"{rung.layout.label()} ({gpus} GPU{'s' * (gpus > 1)})", reason)
    )
    plan.decisions.append(_batch_decision(plan))
    if plan.strategy == "model_parallel":
        plan.decisions.append(_microbatch_decision(plan))
        if rung.replicas > 1:
            plan.decisions.append(
                Decision(
                    "hybrid",
                    f"{rung.replicas} data-parallel replicas (ddp: true)",
                    f"{gpus} GPUs for {rung.partitions} partitions: the rest replicate the "
                    "pipeline",
                )
            )
    _check_device_batch(plan)


def _batch_decision(plan: FamilyPlan) -> Decision:
    rung = plan.rung
    asked = plan.ctx.req.batch_size
    unit = "device" if plan.strategy == "data_parallel" else "replica"
    ways = rung.replicas
    choice = f"{rung.per_device_batch} per {unit} x {ways} = {rung.global_batch}"
    reason = f"the global batch {asked} is kept"
    if rung.global_batch != asked:
        reason = f"the global batch {asked} rounded up to split evenly over {ways} {unit}s"
    if rung.accumulation > 1:
        micro = math.ceil(rung.per_device_batch / rung.accumulation)
        choice += f" ({rung.accumulation} accumulation passes of {micro})"
        reason += f"; only {micro} samples per {unit} fit at once: gradient accumulation"
    return Decision("batch", choice, reason)


def _microbatch_decision(plan: FamilyPlan) -> Decision:
    rung = plan.rung
    p, m = rung.partitions, rung.microbatches
    per_pass = math.ceil(rung.per_device_batch / rung.accumulation)
    size = math.ceil(per_pass / m)
    reason = (
        f"at least the partitions ({p}) and starting at 4, dividing the {per_pass} samples per "
        f"replica: microbatches of {size}; pipeline bubble (p-1)/(m+p-1) = "
        f"{pipeline_bubble(p, m):.0%}"
    )
    if per_pass >= 2 * m:
        reason += f"; {2 * m} microbatches would cut it to {pipeline_bubble(p, 2 * m):.0%}"
    else:
        reason += f"; a larger batch (>= {2 * m} per replica) would allow {2 * m} microbatches"
    room = _replica_room(plan, p, m)
    if room > per_pass:
        reason += f"; memory allows up to {room} samples per replica and pass: a larger batch fits"
    if m < p:
        plan.warnings.append(
            f"{m} microbatches for {p} partitions: the pipeline idles "
            f"{pipeline_bubble(p, m):.0%} of the step; raise the batch per replica to >= {p}"
        )
    return Decision("microbatches", str(m), reason)


def _replica_room(plan: FamilyPlan, p: int, m: int) -> int:
    """Samples per replica and pass that fit: the first stage holds min(m, p) microbatches
    of 1/p of the layers."""
    ctx = plan.ctx
    budget = activation_budget(ctx.state, ctx.work.params / p, ctx.capacity * MP_HEADROOM)
    if ctx.act <= 0:
        return 0
    return samples_fitting(budget, ctx.act * min(m, p) / p) * m


def _check_device_batch(plan: FamilyPlan) -> None:
    """Step 4: a global batch spread over many GPUs leaves each too few samples."""
    rung = plan.rung
    req = plan.ctx.req
    ways, per = rung.replicas, rung.per_device_batch
    if ways <= 1 or per >= req.min_device_batch:
        return
    fits = largest_batch(plan.ctx, plan.ctx.work.params / rung.partitions)
    keep = max(per, min(req.batch_size, max(fits, 1)))
    new_global = keep * ways
    factor = new_global / req.batch_size
    plan.warnings.append(
        f"global batch {req.batch_size} on {ways} GPUs gives a per-device batch of {per} "
        f"(below {req.min_device_batch}): each GPU is underused and communication dominates"
    )
    plan.decisions.append(
        Decision(
            "learning rate",
            f"global batch {new_global}, learning rate x{factor:g}",
            f"to keep convergence while keeping {keep} samples per device: scale the learning "
            f"rate with the global batch (linear rule, x{factor:g}, with a few epochs of "
            f"warm-up; for Adam-type optimizers start from x{math.sqrt(factor):.1f}, the square "
            "root) - or use fewer GPUs",
        )
    )
