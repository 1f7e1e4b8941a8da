"""The decision flow on the reference points of the planner issue."""

from __future__ import annotations

import json

import pytest

from sagescale.errors import SpecError
from sagescale.planning import Plan, plan
from sagescale.specs import DataParallel, ModelParallel, TrainingJob

GIB = 2**30


def _topics(p: Plan) -> dict[str, str]:
    return {d.topic: d.choice for d in p.decisions}


def _reasons(p: Plan) -> str:
    return " ".join(d.reason for d in p.decisions)


# ---- 1. fits one device → data parallel, vertical then horizontal -------------------------
def small_model(**kw: object) -> Plan:
    args: dict[str, object] = {
        "params": 25e6,
        "activation_bytes_per_sample": 50e6,
        "flops_per_sample": 12e9,
        "batch_size": 64,
        "instance_type": "ml.p3.2xlarge",
    }
    args.update(kw)
    return plan(**args)  # type: ignore[arg-type]


def test_small_model_on_p3_2xlarge_is_data_parallel() -> None:
    p = small_model()
    assert p.strategy == "data_parallel"
    assert _topics(p)["fits one device"] == "yes"
    assert p.remedies == ()
    assert p.memory.fits
    # the ladder starts at the given instance and scales vertically before horizontally
    first, *rest = p.scaling
    assert (first.instance_type, first.instance_count, first.speedup) == ("ml.p3.2xlarge", 1, 1.0)
    kinds = [s.kind for s in p.scaling]
    assert kinds.index("vertical") < kinds.index("horizontal")
    assert [s.instance_type for s in rest[:2]] == ["ml.p3.8xlarge", "ml.p3.16xlarge"]
    assert all(s.speedup > 0 and 0 < s.efficiency <= 1.0 + 1e-9 for s in p.scaling)
    # every chosen step is said with its speed-up
    assert "1.0x" in _reasons(p) and "x ->" not in _topics(p)["instances"]


def test_data_parallel_job_uses_smddp_where_supported() -> None:
    p = small_model()
    job = p.to_job(entry_point="train.py")
    assert job.instance_type == p.instance_type and job.instance_count == p.instance_count
    if p.total_gpus > 1:
        assert isinstance(job.distribution, DataParallel)
        assert job.distribution.engine == (
            "smddp" if p.instance_type == "ml.p3.16xlarge" else "ddp"
        )


def test_one_gpu_plan_has_no_distribution() -> None:
    p = small_model(instance_count=1)
    assert p.instance_type == "ml.p3.2xlarge" and p.total_gpus == 1
    assert p.to_job(entry_point="train.py").distribution is None


# ---- 2. does not fit → remedies, mixed precision --------------------------------------------
def test_fp32_adam_too_big_for_v100_fits_in_mixed_precision_fp16() -> None:
    # 300M params (16 B/param = 4.5 GiB) + 10 samples x 1 GiB of fp32 activations > 16 GiB
    p = plan(
        params=300e6,
        activation_bytes_per_sample=1 * GIB,
        flops_per_sample=1e12,
        batch_size=10,
        optimizer="adam",
        precision="fp32",
        instance_type="ml.p3.2xlarge",
    )
    assert _topics(p)["fits one device"] == "no"
    assert p.strategy == "data_parallel"
    assert p.precision == "fp16"  # V100: no bf16
    assert p.global_batch == 10 and p.gradient_accumulation == 1
    applied = [r.name for r in p.remedies if r.applied]
    assert applied == ["mixed precision"]
    assert [r.name for r in p.remedies] == [
        "smaller model",
        "smaller batch",
        "smaller inputs",
        "mixed precision",
    ]
    assert "V100 has no bf16" in _reasons(p)
    smaller_batch = next(r for r in p.remedies if r.name == "smaller batch")
    assert smaller_batch.fits and "gradient-accumulation" in smaller_batch.cost
    assert p.to_job(entry_point="train.py").mixed_precision == "fp16"


def test_same_kind_of_model_on_a100_gets_bf16() -> None:
    p = plan(
        params=300e6,
        activation_bytes_per_sample=1 * GIB,
        flops_per_sample=1e12,
        batch_size=34,
        instance_type="ml.p4d.24xlarge",
    )
    assert p.precision == "bf16" and p.strategy == "data_parallel"


def test_bf16_asked_on_v100_becomes_fp16_and_says_so() -> None:
    p = small_model(precision="bf16")
    assert p.precision == "fp16" and p.requested_precision == "bf16"
    assert "V100 has no bf16" in _reasons(p)


def test_smaller_batch_with_gradient_accumulation_when_mixed_precision_is_not_enough() -> None:
    p = plan(
        params=300e6,
        activation_bytes_per_sample=1 * GIB,
        flops_per_sample=1e12,
        batch_size=64,
        precision="fp16",
        instance_type="ml.p3.2xlarge",
        instance_count=1,
    )
    assert p.strategy == "data_parallel"
    assert p.gradient_accumulation > 1 and p.memory.fits
    assert p.per_device_batch == 64
    assert [r.name for r in p.remedies if r.applied] == ["smaller batch"]


def _fp32_v100(act: float, batch: int = 10, **kw: object) -> Plan:
    return plan(
        params=300e6,
        activation_bytes_per_sample=act,
        flops_per_sample=1e12,
        batch_size=batch,
        optimizer="adam",
        precision="fp32",
        instance_type="ml.p3.2xlarge",
        instance_count=1,
        **kw,  # type: ignore[arg-type]
    )


def test_smaller_inputs_names_the_longest_sequence_that_fits() -> None:
    p = _fp32_v100(1 * GIB, seq_len=2048)
    inputs = next(r for r in p.remedies if r.name == "smaller inputs")
    assert inputs.fits and inputs.change.startswith("sequence length 2048 -> ")
    shorter = int(inputs.change.rsplit(" ", 1)[1])
    assert 0 < shorter < 2048
    # activations scale with the sequence: the named length fits in fp32, a bit more does not
    assert _topics(_fp32_v100(GIB * shorter / 2048))["fits one device"] == "yes"
    assert _topics(_fp32_v100(GIB * (shorter + 64) / 2048))["fits one device"] == "no"


def test_smaller_batch_warns_when_the_per_device_batch_gets_too_small() -> None:
    p = _fp32_v100(4 * GIB, batch=16)
    batch = next(r for r in p.remedies if r.name == "smaller batch")
    assert batch.applied and batch.change == "per-device batch 16 -> 2"
    assert "a per-device batch of 2 is below 4" in batch.cost
    assert any("below 4 leaves the GPU underused" in w for w in p.warnings)


def test_remedy_names_what_dominates() -> None:
    p = plan(
        params=300e6,
        activation_bytes_per_sample=1 * GIB,
        batch_size=40,
        precision="bf16",
        instance_type="ml.g5.xlarge",
        flops_per_sample=1e12,
    )
    smaller_model = next(r for r in p.remedies if r.name == "smaller model")
    assert smaller_model.change.startswith("activations dominate")


# ---- 3. still does not fit → model parallel --------------------------------------------------
def test_model_needing_four_partitions_is_model_parallel_with_sensible_microbatches() -> None:
    # 2.5e9 params x 16 B = 37 GiB: 2 partitions give 18.6 GiB a GPU (> 16), 4 give 9.3 GiB
    p = plan(
        params=2.5e9,
        activation_bytes_per_sample=0.5 * GIB,
        flops_per_sample=1e13,
        batch_size=64,
        precision="fp16",
        instance_type="ml.p3.2xlarge",
    )
    assert p.strategy == "model_parallel"
    assert p.partitions == 4
    assert p.microbatches >= p.partitions and p.microbatches >= 2
    per_pass = p.per_device_batch // p.gradient_accumulation
    assert per_pass % p.microbatches == 0
    assert p.pipeline_bubble == pytest.approx((4 - 1) / (p.microbatches + 4 - 1))
    assert p.memory.fits
    assert "2 -> " in _reasons(p)  # says why 2 partitions were not enough
    job = p.to_job(entry_point="train.py")
    assert isinstance(job.distribution, ModelParallel)
    assert job.distribution.partitions == 4
    assert job.distribution.microbatches == p.microbatches
    assert job.distribution.ddp == (p.data_parallel_degree > 1)


def test_model_parallel_on_more_gpus_than_partitions_is_hybrid() -> None:
    p = plan(
        params=2.5e9,
        activation_bytes_per_sample=0.5 * GIB,
        flops_per_sample=1e13,
        batch_size=64,
        precision="fp16",
        instance_type="ml.p3.16xlarge",
        instance_count=2,
    )
    assert p.strategy == "model_parallel" and p.total_gpus == 16
    assert p.data_parallel_degree == 16 // p.partitions
    assert "hybrid" in _topics(p)
    assert p.to_job(entry_point="train.py").distribution.ddp  # type: ignore[union-attr]


# ---- 4. many devices → per-device batch warning --------------------------------------------
def test_global_batch_64_on_32_gpus_warns_about_per_device_batch_of_2() -> None:
    p = small_model(instance_type="ml.p3.16xlarge", instance_count=4)
    assert p.total_gpus == 32 and p.per_device_batch == 2
    assert any("global batch 64 on 32 GPUs gives a per-device batch of 2" in w for w in p.warnings)
    lr = _topics(p)["learning rate"]
    assert "global batch 2048" in lr and "x32" in lr


def test_auto_scaling_keeps_the_per_device_batch_reasonable() -> None:
    p = small_model()
    assert p.per_device_batch >= 4
    assert not p.warnings


def test_deadline_picks_the_cheapest_layout_that_meets_it() -> None:
    slow = small_model(steps=200_000)
    one_gpu_hours = slow.scaling[0].job_hours
    p = small_model(steps=200_000, max_hours=one_gpu_hours / 3)
    assert p.cost.job_hours <= one_gpu_hours / 3
    assert p.total_gpus > 1


# ---- instance family choice, job in / job out -------------------------------------------------
def test_family_is_chosen_by_cost_when_no_instance_is_given() -> None:
    p = plan(params=1.3e9, optimizer="adamw", precision="bf16", batch_size=64, seq_len=2048)
    family = next(d for d in p.decisions if d.topic == "instance family")
    assert "cheapest" in family.reason and "$" in family.reason
    assert p.memory.fits and p.precision == "bf16"
    assert p.cost.on_demand_per_job > p.cost.managed_spot_per_job > 0


def test_training_job_is_a_starting_point() -> None:
    job = TrainingJob(
        entry_point="train.py",
        source_dir="src",
        instance_type="ml.p3.2xlarge",
        mixed_precision="fp16",
        hyperparameters={"epochs": 3},
    )
    p = plan(
        job, params=25e6, activation_bytes_per_sample=50e6, batch_size=64, flops_per_sample=12e9
    )
    assert p.instance_type.startswith("ml.p3.") and p.precision == "fp16"
    out = p.to_job()
    assert out.entry_point == "train.py" and out.source_dir == "src"
    assert out.hyperparameters == {"epochs": 3}
    assert out.instance_type == p.instance_type and out.mixed_precision == "fp16"


def test_cpu_job_instance_is_replaced_by_a_gpu_plan() -> None:
    job = TrainingJob(entry_point="train.py", instance_type="ml.m5.xlarge")
    p = plan(job, params=25e6, seq_len=128, batch_size=32)
    assert p.total_gpus >= 1
    assert any("has no GPU" in a for a in p.assumptions)


def test_to_job_needs_an_entry_point() -> None:
    with pytest.raises(SpecError) as err:
        small_model().to_job()
    assert err.value.field == "entry_point"


def test_tuning_cost_and_json() -> None:
    p = small_model(tuning_jobs=10, samples=50_000, epochs=2)
    assert p.cost.steps == -(-100_000 // 64)
    assert p.cost.on_demand_per_tuning_job == pytest.approx(10 * p.cost.on_demand_per_job)
    data = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert data["strategy"] == "data_parallel"
    assert data["memory"]["total"] == pytest.approx(p.memory.total)
    assert data["state_bytes_per_param"]["total"] == 16.0
    assert {d["topic"] for d in data["decisions"]} >= {"instance family", "strategy", "batch"}
    assert len(data["scaling"]) == len(p.scaling)


# ---- bad input ----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"params": 1e9, "batch_size": 0}, "batch_size"),
        ({"params": -1.0}, "params"),
        ({"params": 1e9, "optimizer": "lion"}, "optimizer"),
        ({"params": 1e9, "precision": "fp8"}, "precision"),
        ({"params": 1e9, "instance_type": "ml.p9.huge"}, "instance_type"),
        ({"params": 1e9, "instance_type": "ml.m5.xlarge"}, "instance_type"),
        ({"params": 1e9, "instance_count": 2}, "instance_count"),
        ({"params": 1e9, "mfu": 1.5}, "mfu"),
        ({}, "params"),
        ({"params": 1e9, "sample_input": [1, 2]}, "sample_input"),
        (
            {"params": 1e9, "activation_bytes_per_sample": float("inf")},
            "activation_bytes_per_sample",
        ),
        ({"params": 1e9, "flops_per_sample": float("nan")}, "flops_per_sample"),
        ({"params": 1e9, "epochs": float("inf")}, "epochs"),
        ({"params": 1e9, "max_hours": float("inf")}, "max_hours"),
    ],
)
def test_bad_input_is_a_spec_error_naming_the_field(kwargs: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as err:
        plan(**kwargs)  # type: ignore[arg-type]
    assert err.value.field == field
    assert field in str(err.value)


def test_job_with_an_explicit_count_is_planned_as_is() -> None:
    job = TrainingJob(entry_point="train.py", instance_type="ml.p3.16xlarge", instance_count=2)
    p = plan(
        job, params=25e6, activation_bytes_per_sample=50e6, flops_per_sample=12e9, batch_size=256
    )
    assert (p.instance_type, p.instance_count) == ("ml.p3.16xlarge", 2)
    assert "as asked" in next(d.reason for d in p.decisions if d.topic == "instances")
    out = p.to_job()
    assert isinstance(out.distribution, DataParallel) and out.distribution.engine == "smddp"


def test_a_batch_smaller_than_the_partitions_is_partitioned_for_its_own_microbatches() -> None:
    # 2.5e9 params x 16 B = 37 GiB; one sample's activations are 10 GiB. With batch 1 there
    # is one microbatch in flight, so 4 partitions hold 9.3 GiB of state + 2.5 GiB of
    # activations: they fit (14.0 GiB); assuming 4 in flight (10 GiB) none fitted, and 64
    # partitions over 8 instances idled 98% of the step
    p = plan(
        params=2.5e9,
        activation_bytes_per_sample=10 * GIB,
        flops_per_sample=1e13,
        batch_size=1,
        precision="fp16",
        instance_type="ml.p3.2xlarge",
    )
    assert p.strategy == "model_parallel"
    assert p.partitions == 4 and p.microbatches == 1
    assert p.memory.fits
    assert not any("does not fit" in w for w in p.warnings)
