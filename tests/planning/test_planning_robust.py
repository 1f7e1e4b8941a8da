"""Any input is a plan that serialises, or a SpecError: never another exception."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from sagescale.errors import SpecError
from sagescale.planning import plan
from sagescale.specs import instance_types

GPU_TYPES = [t.name for t in instance_types() if t.gpus]

inputs = st.fixed_dictionaries(
    {
        "params": st.floats(1e5, 2e11),
        "batch_size": st.integers(1, 4096),
        "optimizer": st.sampled_from(["adam", "adamw", "sgd", "sgd_momentum", "adafactor"]),
        "precision": st.sampled_from(["fp32", "fp16", "bf16"]),
    },
    optional={
        "seq_len": st.integers(1, 8192),
        "activation_bytes_per_sample": st.floats(0, 2**34),
        "flops_per_sample": st.floats(1e6, 1e16),
        "instance_type": st.sampled_from(GPU_TYPES),
        "max_instances": st.integers(1, 16),
        "max_hours": st.floats(0.001, 1000),
        "steps": st.integers(1, 10**6),
        "tuning_jobs": st.integers(1, 100),
    },
)


@settings(max_examples=60, deadline=None)
@given(inputs)
def test_every_input_gives_a_plan_or_a_spec_error(kwargs: dict[str, object]) -> None:
    try:
        result = plan(**kwargs)  # type: ignore[arg-type]
    except SpecError:
        return
    data = json.loads(json.dumps(result.to_dict(), allow_nan=False))
    assert data["instance_count"] >= 1 and data["step_seconds"] > 0
    assert result.memory.capacity > 0
    assert result.global_batch >= result.per_device_batch >= 1
    if result.strategy == "model_parallel":
        assert result.total_gpus % result.partitions == 0
    job = result.to_job(entry_point="train.py")  # the specs accept every planned layout
    assert job.instance_type == result.instance_type
    str(result)
    result._repr_html_()
