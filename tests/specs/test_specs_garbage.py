"""Bad input of any shape is a SpecError naming a field, never a TypeError or KeyError."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagescale.errors import SpecError
from sagescale.specs import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    TrainingJob,
    TuningJob,
    load_spec,
)

from .specs_data import framework_job, tuning_job

pytestmark = pytest.mark.filterwarnings("ignore::sagescale.specs.SpecWarning")
FUZZ = settings(
    max_examples=150,
    deadline=None,
    # too_slow times the generation of the nested garbage: a loaded machine trips it
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(10**12), 10**12)
    | st.floats()
    | st.text(max_size=6)
    | st.sampled_from(["", "s3://b/x", "ml.p3.16xlarge", "smddp", "Grid", "continuous"])
)
garbage = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=8,
)

DISTRIBUTIONS = {
    "data_parallel": ["engine", "processes_per_host", "custom_mpi_options"],
    "model_parallel": ["partitions", "microbatches", "pipeline", "default_partition", "ddp"],
    "torch_distributed": ["processes_per_host", "smp"],
}


def accepted_or_spec_error(model: Any, data: Any) -> None:
    try:
        model.model_validate(data)
    except SpecError as err:
        assert err.field, str(err)
        assert str(err).startswith(f"invalid {model.__name__}")


@pytest.mark.parametrize(
    "data",
    [None, [], [1, 2], "spec", 3, 1.5, True, {"": None}, {1: 2}, {"entry_point": None}],
    ids=repr,
)
def test_not_a_spec(data: Any) -> None:
    for model in (TrainingJob, TuningJob):
        with pytest.raises(SpecError) as info:
            model.model_validate(data)
        assert info.value.field


def test_json_and_strings_validation_are_spec_errors() -> None:
    with pytest.raises(SpecError) as info:
        TrainingJob.model_validate_json('{"entry_point": 3}')
    assert info.value.field == "entry_point"
    with pytest.raises(SpecError, match="not valid JSON"):
        TuningJob.model_validate_json("{not json")
    with pytest.raises(SpecError) as info:
        TrainingJob.model_validate_strings({"entry_point": "t.py", "instance_count": "x"})
    assert info.value.field == "instance_count"
    job = TrainingJob.model_validate_json('{"entry_point": "t.py", "instance_count": 2}')
    assert job.instance_count == 2


def test_constructor_garbage_is_a_spec_error() -> None:
    with pytest.raises(SpecError) as info:
        TrainingJob(entry_point="t.py", inputs=[("train", "s3://b")])
    assert info.value.field == "inputs"
    with pytest.raises(SpecError) as info:
        CategoricalParameter(values="abc")
    assert info.value.field == "values"
    with pytest.raises(SpecError):
        IntegerParameter(min_value=None, max_value=[1])
    with pytest.raises(SpecError):
        ContinuousParameter(min_value=float("nan"), max_value=1)


@FUZZ
@given(field=st.sampled_from(sorted(TrainingJob.model_fields)), value=garbage)
def test_training_job_field_garbage(field: str, value: Any) -> None:
    accepted_or_spec_error(TrainingJob, framework_job(**{field: value}))


@FUZZ
@given(
    kind=st.sampled_from(sorted(DISTRIBUTIONS)),
    field=st.sampled_from(sorted({f for fs in DISTRIBUTIONS.values() for f in fs})),
    value=garbage,
)
def test_distribution_garbage(kind: str, field: str, value: Any) -> None:
    distribution = {"type": kind, "partitions": 1, field: value}
    data = framework_job(instance_type="ml.p3.16xlarge", distribution=distribution)
    accepted_or_spec_error(TrainingJob, data)


@FUZZ
@given(field=st.sampled_from(sorted(TuningJob.model_fields)), value=garbage)
def test_tuning_job_field_garbage(field: str, value: Any) -> None:
    accepted_or_spec_error(TuningJob, tuning_job(**{field: value}))


@FUZZ
@given(
    kind=st.sampled_from(["integer", "continuous", "categorical", "other"]),
    field=st.sampled_from(["min_value", "max_value", "scaling_type", "values"]),
    value=garbage,
)
def test_range_garbage(kind: str, field: str, value: Any) -> None:
    rng = {"type": kind, "min_value": 0, "max_value": 1, "values": [1], field: value}
    if kind == "categorical":
        rng = {"type": kind, "values": value}
    accepted_or_spec_error(TuningJob, tuning_job(hyperparameter_ranges={"p": rng}))


@FUZZ
@given(value=garbage)
def test_multi_algorithm_garbage(value: Any) -> None:
    data = tuning_job(training_jobs={"a": value})
    del data["training_job"]
    del data["hyperparameter_ranges"]
    accepted_or_spec_error(TuningJob, data)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.text(max_size=80))
def test_any_file_text_loads_or_is_a_spec_error(text: str, tmp_path: Path) -> None:
    path = tmp_path / "spec.yaml"
    path.write_text(text, encoding="utf-8")
    try:
        load_spec(path)
    except SpecError as err:
        assert err.field


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.binary(max_size=80))
def test_any_file_bytes_load_or_are_a_spec_error(data: bytes, tmp_path: Path) -> None:
    """Binary files (not UTF-8) too: never a UnicodeDecodeError."""
    for suffix in (".yaml", ".json"):
        path = tmp_path / f"spec{suffix}"
        path.write_bytes(data)
        try:
            load_spec(path)
        except SpecError as err:
            assert err.field


def test_a_binary_file_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.yaml"
    path.write_bytes(b"\xff\xfe\x00 weights")
    with pytest.raises(SpecError, match="not a UTF-8 text file") as info:
        load_spec(path)
    assert info.value.field == str(path)
