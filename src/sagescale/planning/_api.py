"""``plan()``: from a model (or its numbers) to a :class:`Plan`."""

from __future__ import annotations

from typing import Any

from sagescale.errors import SpecError
from sagescale.planning._choose import efficiency, speedup
from sagescale.planning._cost import cost_estimate, job_steps, spot_savings
from sagescale.planning._flow import FamilyPlan, plan_family
from sagescale.planning._layout import gpu_families
from sagescale.planning._memory import Optimizer, Precision
from sagescale.planning._perf import DEFAULT_MFU
from sagescale.planning._plan import Decision, Plan, ScalingStep
from sagescale.planning._request import PlanRequest
from sagescale.planning._workload import Workload, given_workload, transformer_workload
from sagescale.specs import CATALOG_INFO, TrainingJob, get_instance_type

__all__ = ["plan"]


def plan(
    job: TrainingJob | None = None,
    *,
    model: Any = None,
    sample_input: Any = None,
    params: float | None = None,
    optimizer: Optimizer = "adamw",
    precision: Precision | None = None,
    batch_size: int = 32,
    seq_len: int | None = None,
    hidden_size: int | None = None,
    num_layers: int | None = None,
    num_heads: int | None = None,
    flash_attention: bool = True,
    activation_bytes_per_sample: float | None = None,
    flops_per_sample: float | None = None,
    instance_type: str | None = None,
    instance_count: int | None = None,
    max_instances: int = 8,
    max_hours: float | None = None,
    steps: int | None = None,
    samples: int | None = None,
    epochs: float = 1.0,
    tuning_jobs: int | None = None,
    min_device_batch: int = 4,
    min_efficiency: float = 0.8,
    mfu: float = DEFAULT_MFU,
    spot_savings: float | None = None,
) -> Plan:
    """Choose the strategy, instances, precision and batch for training a model.

    Describe the model by a torch ``model`` with a ``sample_input`` batch (traced on the meta
    device: nothing is allocated), or by numbers: ``params`` and either ``seq_len`` (a
    transformer; ``hidden_size``/``num_layers``/``num_heads`` refine it, ``flash_attention``
    says whether a fused attention kernel keeps the ``s x s`` scores out of memory) or
    ``activation_bytes_per_sample`` (at ``precision``) and ``flops_per_sample`` (forward and
    backward). ``batch_size`` is the global batch. ``job`` is a starting point: its explicit
    ``instance_type`` (and ``instance_count``) and ``mixed_precision`` are used when the
    matching argument is not given, and :meth:`Plan.to_job` builds on it.

    Raises :class:`~sagescale.errors.SpecError` for bad input.
    """
    start = _from_job(job, instance_type, instance_count, precision)
    base, traced_params = _traced(model, sample_input)
    if params is None and traced_params is None:
        raise SpecError(
            "params: required unless a torch model is given (rule: the planner needs the "
            "parameter count)",
            field="params",
            value=None,
        )
    req = PlanRequest(
        params=params if params is not None else traced_params,
        optimizer=optimizer,
        precision=start["precision"],
        batch_size=batch_size,
        seq_len=seq_len,
        hidden_size=hidden_size,
        num_layers=num_layers,
        num_heads=num_heads,
        flash_attention=flash_attention,
        activation_bytes_per_sample=activation_bytes_per_sample,
        flops_per_sample=flops_per_sample,
        instance_type=start["instance_type"],
        instance_count=start["instance_count"],
        max_instances=max_instances,
        max_hours=max_hours,
        steps=steps,
        samples=samples,
        epochs=epochs,
        tuning_jobs=tuning_jobs,
        min_device_batch=min_device_batch,
        min_efficiency=min_efficiency,
        mfu=mfu,
        spot_savings=spot_savings,
    )
    work = _workload(req, base)
    return _assemble(req, work, job, start["notes"])


def _from_job(
    job: TrainingJob | None,
    instance_type: str | None,
    instance_count: int | None,
    precision: Precision | None,
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "instance_type": instance_type,
        "instance_count": instance_count,
        "precision": precision or "fp32",
        "notes": [],
    }
    if job is None:
        return out
    if precision is None and job.mixed_precision is not None:
        out["precision"] = job.mixed_precision
    explicit = job.model_fields_set
    if instance_type is None and "instance_type" in explicit:
        info = get_instance_type(job.instance_type)
        if info is not None and info.gpus > 0:
            out["instance_type"] = job.instance_type
            if instance_count is None and "instance_count" in explicit:
                out["instance_count"] = job.instance_count
        else:
            out["notes"].append(
                f"the job's instance_type {job.instance_type} has no GPU (or is not in the "
                "catalog): the planner chose a GPU instance"
            )
    return out


def _traced(model: Any, sample_input: Any) -> tuple[Workload | None, float | None]:
    if model is None:
        if sample_input is not None:
            raise SpecError(
                "sample_input: given without model (rule: it is the batch the model is traced "
                "with)",
                field="sample_input",
                value=type(sample_input).__name__,
            )
        return None, None
    if sample_input is None:
        raise SpecError(
            "sample_input: required with model (rule: the model is traced on the meta device "
            "with a sample batch)",
            field="sample_input",
            value=None,
        )
    from sagescale.planning._trace import trace_model

    profile = trace_model(model, sample_input)
    work = Workload(
        params=float(profile.params),
        activation_float_bytes=profile.activation_float_bytes,
        activation_other_bytes=profile.activation_other_bytes,
        flops_per_sample=3.0 * profile.forward_flops,
        seq_len=None,
        matrix_side=profile.largest_matrix_side,
        source="traced torch model (meta device)",
        assumptions=(
            "activations: tensors autograd saves for backward in a meta-device trace "
            f"(batch {profile.batch_size}), plus 3x the output (output, loss, its gradient) "
            "and 2x the largest saved tensor (the backward pass's gradients)",
        ),
    )
    return work, float(profile.params)


def _workload(req: PlanRequest, base: Workload | None) -> Workload:
    if base is None and req.seq_len is not None and req.activation_bytes_per_sample is None:
        base = transformer_workload(
            req.params,
            req.seq_len,
            hidden=req.hidden_size,
            layers=req.num_layers,
            heads=req.num_heads,
            flash_attention=req.flash_attention,
        )
    elif base is not None:
        base = Workload(**{**base.__dict__, "params": req.params, "seq_len": req.seq_len})
    return given_workload(
        req.params,
        activation_bytes_per_sample=req.activation_bytes_per_sample,
        flops_per_sample=req.flops_per_sample,
        seq_len=req.seq_len,
        precision=req.precision,
        base=base,
    )


def _families(req: PlanRequest) -> tuple[dict[str, list[Any]], Any]:
    families = gpu_families()
    if req.instance_type is None:
        return families, None
    info = get_instance_type(req.instance_type)
    assert info is not None
    return {info.family: families[info.family]}, info


def _pick_family(req: PlanRequest, plans: dict[str, FamilyPlan]) -> tuple[str, str]:
    names = list(plans)
    if len(names) == 1:
        return names[0], f"given instance_type {req.instance_type}"
    fitting = [n for n in names if plans[n].rung.fits]
    if not fitting:
        best = min(names, key=lambda n: plans[n].rung.memory.utilization)
        return best, "nothing fits by this estimate: the family that comes closest"
    limit = req.max_hours
    in_time = [n for n in fitting if limit is None or plans[n].hours(plans[n].rung) <= limit]
    pool = in_time or fitting
    best = min(pool, key=lambda n: (plans[n].cost(plans[n].rung), plans[n].rung.step.total))
    ranked = sorted(pool, key=lambda n: plans[n].cost(plans[n].rung))[:4]
    listing = ", ".join(f"ml.{n} ${plans[n].cost(plans[n].rung):,.2f}" for n in ranked)
    what = "cheapest estimated job" + (f" within {limit:g} h" if limit and in_time else "")
    return best, f"{what} of the GPU families where it fits ({listing})"


def _assemble(req: PlanRequest, work: Workload, job: TrainingJob | None, notes: list[str]) -> Plan:
    families, start = _families(req)
    steps, steps_note = job_steps(req.steps, req.samples, req.epochs, req.batch_size)
    plans = {
        name: plan_family(req, work, members, start=start, steps=steps)
        for name, members in families.items()
    }
    name, why = _pick_family(req, plans)
    chosen = plans[name]
    gpu = families[name][0]
    family_decision = Decision(
        "instance family", f"ml.{name} ({gpu.gpu_model}, {gpu.gpu_memory_gib:g} GiB)", why
    )
    assumptions = [*notes, *work.assumptions]
    if steps_note:
        assumptions.append(steps_note)
    return _to_plan(req, chosen, [family_decision, *chosen.decisions], assumptions, job)


def _scaling(plan: FamilyPlan) -> tuple[ScalingStep, ...]:
    return tuple(
        ScalingStep(
            kind=r.layout.kind,
            instance_type=r.layout.instance.name,
            instance_count=r.layout.count,
            gpus=r.layout.gpus,
            per_device_batch=r.per_device_batch,
            gradient_accumulation=r.accumulation,
            step_seconds=r.step.total,
            allreduce_seconds=r.step.allreduce,
            samples_per_second=r.samples_per_second,
            speedup=speedup(plan, r),
            efficiency=efficiency(plan, r),
            price_per_hour=r.layout.price_per_hour,
            job_hours=plan.hours(r),
            job_cost=plan.cost(r),
            fits=r.fits,
        )
        for r in plan.rungs
    )


def _to_plan(
    req: PlanRequest,
    fam: FamilyPlan,
    decisions: list[Decision],
    assumptions: list[str],
    job: TrainingJob | None,
) -> Plan:
    rung, ctx = fam.rung, fam.ctx
    savings, spot_note = spot_savings()
    if req.spot_savings is not None:
        savings, spot_note = req.spot_savings, "managed-spot saving given by the caller"
    cost = cost_estimate(
        steps=fam.steps,
        step_seconds=rung.step.total,
        price_per_hour=rung.layout.price_per_hour,
        savings=savings,
        tuning_jobs=req.tuning_jobs,
    )
    warnings = list(fam.warnings)
    if not rung.fits:
        warnings.append("the chosen layout does not fit in device memory by this estimate")
    return Plan(
        strategy=fam.strategy,
        instance_type=rung.layout.instance.name,
        instance_count=rung.layout.count,
        processes_per_host=rung.layout.per_host,
        precision=ctx.precision,
        requested_precision=req.precision,
        optimizer=req.optimizer,
        params=req.params,
        global_batch=rung.global_batch,
        per_device_batch=rung.per_device_batch,
        gradient_accumulation=rung.accumulation,
        partitions=rung.partitions,
        microbatches=rung.microbatches,
        data_parallel_degree=rung.replicas,
        memory=rung.memory,
        state_bytes_per_param=ctx.state,
        activation_bytes_per_sample=ctx.act,
        flops_per_sample=fam.ctx.work.flops_per_sample,
        step_seconds=rung.step.total,
        compute_seconds=rung.step.compute,
        allreduce_seconds=rung.step.allreduce,
        pipeline_bubble=rung.step.bubble,
        samples_per_second=rung.samples_per_second,
        scaling=_scaling(fam),
        remedies=tuple(fam.remedies),
        cost=cost,
        decisions=tuple(decisions),
        warnings=tuple(warnings),
        assumptions=(*assumptions, *_model_assumptions(req, spot_note)),
        catalog=dict(CATALOG_INFO),
        base_job=job,
    )


def _model_assumptions(req: PlanRequest, spot_note: str) -> list[str]:
    return [
        f"step time: FLOPs at {req.mfu:.0%} of the GPU's dense peak (catalog); the gradient "
        "all-reduce overlaps the backward pass (2/3 of compute), ring all-reduce "
        "2(N-1)/N x bytes / bandwidth over NVLink inside and the network (EFA) between "
        "instances, at peak bandwidth",
        "memory: model state as in the ZeRO paper (16 bytes/param for mixed-precision Adam), "
        "1 GiB framework overhead plus 10% fragmentation; gradients all-reduced in their "
        "own dtype",
        f"managed spot: {spot_note}",
        "prices: the catalog's on-demand prices; instance start-up time is not billed here",
    ]
