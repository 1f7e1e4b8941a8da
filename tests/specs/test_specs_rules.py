"""Every rule of the specs: the error names the field, the value and the rule."""

from __future__ import annotations

import json
from typing import Any

import pytest

from sagescale.errors import SpecError
from sagescale.specs import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    SpecWarning,
    TrainingJob,
    TuningJob,
    check_experiment_name,
    check_job_name,
    check_tuning_job_name,
)
from sagescale.specs import _training as training_module
from sagescale.specs._catalog import get_instance_type

from .specs_data import framework_job, image_job, tuning_job


def rejected(model: Any, data: Any, field: str, *fragments: str) -> SpecError:
    """Validate ``data``; assert a SpecError on ``field`` whose message holds ``fragments``."""
    with pytest.raises(SpecError) as info:
        model.model_validate(data)
    err = info.value
    assert err.field == field, str(err)
    message = str(err)
    assert field in message
    for fragment in fragments:
        assert fragment in message, message
    return err


def cat(*values: Any) -> dict[str, Any]:
    return {"type": "categorical", "values": list(values)}


# ---- names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["a", "A1", "a-b", "a--b", "0job", "x" * 63, "my-job-2024-01-01-00-00-00-000"]
)
def test_valid_job_names(name: str) -> None:
    assert check_job_name(name) == name
    assert TrainingJob.model_validate(framework_job(base_job_name=name)).base_job_name == name


@pytest.mark.parametrize("name", ["", "-a", "a-", "a_b", "a.b", "a b", "x" * 64, "é"])
def test_invalid_job_names(name: str) -> None:
    err = rejected(TrainingJob, framework_job(base_job_name=name), "base_job_name", "1-63")
    assert err.value == name
    assert "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$" in str(err)


def test_job_name_given_to_render_is_checked() -> None:
    job = TrainingJob.model_validate(framework_job())
    with pytest.raises(SpecError) as info:
        job.to_request(job_name="bad_name")
    assert info.value.field == "job_name"
    assert info.value.value == "bad_name"
    assert "1-63 characters" in str(info.value)
    for name in (123, None):
        with pytest.raises(SpecError, match="must be a string") as info:
            job.to_request(job_name=name)  # type: ignore[arg-type]
        assert (info.value.field, info.value.value) == ("job_name", name)


def test_tuning_job_names_are_32_characters() -> None:
    assert check_tuning_job_name("t" * 32) == "t" * 32
    err = rejected(TuningJob, tuning_job(base_tuning_job_name="t" * 33), "base_tuning_job_name")
    assert "1-32 characters" in str(err)
    assert err.value == "t" * 33
    spec = TuningJob.model_validate(tuning_job())
    with pytest.raises(SpecError) as info:
        spec.to_request(tuning_job_name="t" * 33)
    assert info.value.field == "tuning_job_name"


def test_experiment_names_are_120_characters() -> None:
    assert check_experiment_name("e" * 120) == "e" * 120
    ok = framework_job(experiment_config={"ExperimentName": "e" * 120, "TrialName": "t"})
    job = TrainingJob.model_validate(ok)
    assert job.experiment_config is not None
    assert job.experiment_config.trial_name == "t"
    bad = framework_job(experiment_config={"experiment_name": "e" * 121})
    err = rejected(TrainingJob, bad, "experiment_config.experiment_name", "1-120 characters")
    assert err.value == "e" * 121
    bad_trial = framework_job(experiment_config={"experiment_name": "e", "trial_name": "a_b"})
    rejected(TrainingJob, bad_trial, "experiment_config.trial_name", "1-120")
    for field in ("run_name", "trial_component_display_name"):
        bad = framework_job(experiment_config={"experiment_name": "e", field: "r" * 121})
        rejected(TrainingJob, bad, f"experiment_config.{field}", "1-120")


def test_warm_start_parents_are_tuning_job_names() -> None:
    data = tuning_job(warm_start_config={"parents": ["p" * 33]})
    rejected(TuningJob, data, "warm_start_config.parents", "1-32 characters")


# ---- collection limits ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "limit", "make"),
    [
        ("hyperparameters", 100, lambda n: {f"h{i}": i for i in range(n)}),
        ("environment", 100, lambda n: {f"E{i}": "v" for i in range(n)}),
        ("inputs", 20, lambda n: {f"c{i}": f"s3://my-bucket/c{i}" for i in range(n)}),
        ("tags", 50, lambda n: {f"k{i}": "v" for i in range(n)}),
        (
            "metric_definitions",
            40,
            lambda n: [{"name": f"m{i}", "regex": f"m{i}=(\\d+)"} for i in range(n)],
        ),
    ],
)
def test_collection_limits(field: str, limit: int, make: Any) -> None:
    TrainingJob.model_validate(image_job(**{field: make(limit)}))
    err = rejected(TrainingJob, image_job(**{field: make(limit + 1)}), field, f"at most {limit}")
    assert f"got {limit + 1}" in str(err)
    assert len(err.value) == limit + 1  # type: ignore[arg-type]


def test_hyperparameter_key_and_value_lengths() -> None:
    TrainingJob.model_validate(image_job(hyperparameters={"k" * 256: "v" * 2500}))
    err = rejected(
        TrainingJob, framework_job(hyperparameters={"k" * 257: 1}), "hyperparameters", "1-256"
    )
    assert err.value == "k" * 257
    err = rejected(
        TrainingJob,
        framework_job(hyperparameters={"big": "v" * 2501}),
        "hyperparameters.big",
        "at most 2500 characters",
        "got 2501",
    )
    assert err.value == "v" * 2501


def test_limits_hold_for_what_a_framework_job_sends() -> None:
    # a framework job adds sagemaker_program, _submit_directory, _container_log_level,
    # _job_name and _region; smddp adds three more
    TrainingJob.model_validate(framework_job(hyperparameters={f"h{i}": i for i in range(95)}))
    err = rejected(
        TrainingJob,
        framework_job(hyperparameters={f"h{i}": i for i in range(96)}),
        "hyperparameters",
        "adds 5 of its own",
        "at most 95 are left, got 96",
    )
    assert err.value == 96
    smddp = framework_job(
        instance_type="ml.p4d.24xlarge",
        distribution={"type": "data_parallel"},
        hyperparameters={f"h{i}": i for i in range(93)},
    )
    rejected(TrainingJob, smddp, "hyperparameters", "adds 8 of its own")
    # JSON encoding adds two quotes to a string value
    TrainingJob.model_validate(image_job(hyperparameters={"s": "v" * 2500}))
    TrainingJob.model_validate(framework_job(hyperparameters={"s": "v" * 2498}))
    err = rejected(
        TrainingJob,
        framework_job(hyperparameters={"s": "v" * 2499}),
        "hyperparameters.s",
        "as sent (JSON-encoded",
        "got 2501",
    )
    assert err.value == "v" * 2499


def test_bad_channel_and_environment_names() -> None:
    rejected(TrainingJob, framework_job(inputs={"a b": "s3://my-bucket/x"}), "inputs", "'a b'")
    rejected(TrainingJob, framework_job(environment={"1X": "v"}), "environment", "'1X'")
    rejected(TrainingJob, framework_job(environment={"X": "v" * 513}), "environment.X", "512")
    rejected(TrainingJob, framework_job(tags={"k": "v" * 257}), "tags.k", "0-256")


# ---- smddp ---------------------------------------------------------------------------------

SMDDP = {"type": "data_parallel", "engine": "smddp"}


@pytest.mark.parametrize(
    "instance", ["ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.p4de.24xlarge"]
)
def test_smddp_supported_instances(instance: str) -> None:
    job = TrainingJob.model_validate(framework_job(instance_type=instance, distribution=SMDDP))
    assert job.processes_per_host() == 8


@pytest.mark.parametrize(
    "instance", ["ml.p3.2xlarge", "ml.p3.8xlarge", "ml.g5.12xlarge", "ml.m5.xlarge"]
)
def test_smddp_unsupported_instances(instance: str) -> None:
    data = framework_job(instance_type=instance, distribution=SMDDP, instance_count=2)
    err = rejected(TrainingJob, data, "instance_type", "smddp runs only on", "ml.p4d.24xlarge")
    assert err.value == instance


def test_smddp_on_p5_points_to_torch_distributed() -> None:
    data = framework_job(instance_type="ml.p5.48xlarge", distribution=SMDDP)
    rejected(TrainingJob, data, "instance_type", "use type torch_distributed")
    p5 = {"type": "torch_distributed", "smp": {"hybrid_shard_degree": 8}}
    TrainingJob.model_validate(framework_job(instance_type="ml.p5.48xlarge", distribution=p5))


def test_smddp_needs_more_than_one_gpu(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every instance type smddp supports has 8 GPUs; a catalog entry with one GPU shows
    # that the multi-GPU rule holds on its own.
    p3 = get_instance_type("ml.p3.16xlarge")
    assert p3 is not None
    one_gpu = type(p3)(**{**p3.__dict__, "gpus": 1})
    monkeypatch.setattr(training_module, "get_instance_type", lambda name: one_gpu)
    data = framework_job(instance_type="ml.p3.16xlarge", distribution=SMDDP)
    err = rejected(TrainingJob, data, "instance_count", "more than one GPU in total")
    assert err.value == 1
    TrainingJob.model_validate({**data, "instance_count": 2})


def test_ddp_runs_anywhere() -> None:
    ddp = {"type": "data_parallel", "engine": "ddp"}
    TrainingJob.model_validate(framework_job(instance_type="ml.g4dn.xlarge", distribution=ddp))


# ---- model parallel ------------------------------------------------------------------------


def mp_job(instance_count: int = 1, **dist: Any) -> dict[str, Any]:
    distribution = {"type": "model_parallel", "partitions": 2, **dist}
    return framework_job(
        instance_type="ml.p3.16xlarge", instance_count=instance_count, distribution=distribution
    )


def test_model_parallel_defaults_are_sagemakers() -> None:
    job = TrainingJob.model_validate(mp_job())
    dist = job.distribution
    assert dist is not None and dist.type == "model_parallel"
    params = dist.mp_parameters()
    assert params["microbatches"] == 1
    assert params["pipeline"] == "interleaved"
    assert params["optimize"] == "memory"
    assert params["placement_strategy"] == "cluster"
    assert params["auto_partition"] is True
    assert params["default_partition"] == 0
    assert params["memory_weight"] == 0.8
    assert params["ddp"] is False
    assert params["tensor_parallel_degree"] == 1
    speed = TrainingJob.model_validate(mp_job(optimize="speed")).distribution
    assert speed is not None and speed.type == "model_parallel"
    assert speed.mp_parameters()["memory_weight"] == 0.2


@pytest.mark.parametrize(
    "strategy", ["cluster", "spread", "DPT", "DTP", "PDT", "PTD", "TDP", "TPD"]
)
def test_placement_strategy_cluster_spread_or_a_permutation_of_dpt(strategy: str) -> None:
    job = TrainingJob.model_validate(
        mp_job(placement_strategy=strategy, tensor_parallel_degree=2, ddp=True)
    )
    dist = job.distribution
    assert dist is not None and dist.type == "model_parallel"
    assert dist.mp_parameters()["placement_strategy"] == strategy
    # rendered unchanged into the request SageMaker's model parallel library reads
    request = job.to_request(job_name="placement")
    assert json.loads(request["HyperParameters"]["mp_parameters"])["placement_strategy"] == (
        strategy
    )


@pytest.mark.parametrize("strategy", ["DPX", "DP", "DPTT", "DDP", "dpt", "Cluster", ""])
def test_placement_strategy_other_strings_are_rejected(strategy: str) -> None:
    err = rejected(
        TrainingJob,
        mp_job(placement_strategy=strategy),
        "distribution.placement_strategy",
        repr(strategy),
        "'cluster', 'spread' or a permutation of the letters D, P and T",
    )
    assert err.value == strategy


def test_processes_per_host_at_most_gpus() -> None:
    TrainingJob.model_validate(mp_job(processes_per_host=8))
    err = rejected(TrainingJob, mp_job(processes_per_host=16), "distribution.processes_per_host")
    assert err.value == 16
    assert "GPUs per instance of ml.p3.16xlarge (8)" in str(err)


def test_total_processes_divisible_by_partitions_times_tensor_parallel() -> None:
    TrainingJob.model_validate(mp_job(partitions=4, processes_per_host=4))
    TrainingJob.model_validate(mp_job(partitions=3, processes_per_host=3, instance_count=2))
    err = rejected(
        TrainingJob,
        mp_job(partitions=3, processes_per_host=4),
        "distribution.partitions",
        "total processes (4 = 4 per host x 1 hosts)",
        "divisible by partitions x tensor_parallel_degree",
    )
    assert err.value == 3
    rejected(
        TrainingJob,
        mp_job(partitions=2, tensor_parallel_degree=3, ddp=True),
        "distribution.partitions",
        "(2 x 3 = 6)",
    )


def test_tensor_parallel_needs_ddp() -> None:
    TrainingJob.model_validate(mp_job(tensor_parallel_degree=2, ddp=True))
    err = rejected(
        TrainingJob,
        mp_job(tensor_parallel_degree=2),
        "distribution.tensor_parallel_degree",
        "needs ddp: true",
    )
    assert err.value == 2


def test_default_partition_below_partitions_without_auto_partition() -> None:
    TrainingJob.model_validate(mp_job(auto_partition=False, default_partition=1))
    err = rejected(
        TrainingJob,
        mp_job(auto_partition=False, default_partition=2),
        "distribution.default_partition",
        "less than partitions (2)",
    )
    assert err.value == 2


def test_model_parallel_needs_a_gpu_instance() -> None:
    data = framework_job(
        instance_type="ml.m5.xlarge", distribution={"type": "model_parallel", "partitions": 1}
    )
    rejected(TrainingJob, data, "instance_type", "GPU instance type")


# ---- spot ----------------------------------------------------------------------------------


def test_spot_wait_at_least_run() -> None:
    ok = framework_job(
        max_run_seconds=3600,
        spot={"max_wait_seconds": 3600},
        checkpoint={"s3_uri": "s3://my-bucket/c"},
    )
    TrainingJob.model_validate(ok)
    err = rejected(
        TrainingJob,
        {**ok, "spot": {"max_wait_seconds": 3599}},
        "spot.max_wait_seconds",
        ">= max_run_seconds (3600)",
    )
    assert err.value == 3599


def test_spot_without_checkpoint_warns() -> None:
    with pytest.warns(SpecWarning, match="checkpoint"):
        job = TrainingJob.model_validate(framework_job(spot={"max_wait_seconds": 90_000}))
    assert job.spot is not None


def test_model_channel_must_not_clash() -> None:
    data = framework_job(
        model_uri="s3://my-bucket/model.tar.gz", inputs={"model": "s3://my-bucket/m"}
    )
    rejected(TrainingJob, data, "model_channel_name", "'model'", "clashes")


# ---- s3:// URIs -----------------------------------------------------------------------------

BAD_S3_URIS = [
    ("s3://", "must name a bucket"),
    ("s3:///key", "must name a bucket"),
    ("s3://ab/key", "'ab' is 2 characters long"),
    ("s3://" + "a" * 64 + "/key", "is 64 characters long"),
    ("s3://My-Bucket/key", "holds 'M'"),
    ("s3://my_bucket/key", "holds '_'"),
    ("S3://-bucket/key", "does not begin and end with a letter or digit"),
    ("s3://bucket./key", "does not begin and end with a letter or digit"),
    ("s3://my..bucket/key", "two dots in a row"),
    ("s3://192.168.5.4/key", "is an IP address"),
]
# (field reported, spec data holding the URI); a channel given as a mapping names its uri
S3_FIELDS = [
    ("inputs.train", lambda uri: {"inputs": {"train": uri}}),
    ("inputs.train.uri", lambda uri: {"inputs": {"train": {"uri": uri}}}),
    ("output_path", lambda uri: {"output_path": uri}),
    ("checkpoint.s3_uri", lambda uri: {"checkpoint": {"s3_uri": uri}}),
    ("model_uri", lambda uri: {"model_uri": uri}),
    ("source_dir", lambda uri: {"source_dir": uri}),
]


@pytest.mark.parametrize(("field", "make"), S3_FIELDS, ids=[f for f, _ in S3_FIELDS])
@pytest.mark.parametrize(("uri", "problem"), BAD_S3_URIS, ids=[u for u, _ in BAD_S3_URIS])
def test_s3_uris_need_a_valid_bucket(field: str, make: Any, uri: str, problem: str) -> None:
    with pytest.raises(SpecError) as info:
        TrainingJob.model_validate(framework_job(**make(uri)))
    err = info.value
    message = str(err)
    assert f"{field} = {uri!r}" in message, message
    assert problem in message
    assert "3-63 characters of lowercase letters, digits, dots and hyphens" in message
    assert "not an IP address" in message
    # a channel given as a mapping is a union member: the channel is the field reported
    assert err.field == field.removesuffix(".uri")
    assert err.value == (uri if err.field == field else {"uri": uri})


def test_s3_uris_are_checked_in_a_tuning_jobs_training_job() -> None:
    data = tuning_job()
    data["training_job"]["output_path"] = "s3:///out"
    rejected(TuningJob, data, "training_job.output_path", "must name a bucket")


@pytest.mark.parametrize(
    "uri",
    [
        "s3://abc",
        "s3://my-bucket",
        "s3://my-bucket/",
        "s3://my.bucket.2024/a/b",
        "S3://my-bucket/key",
        "s3://" + "a" * 63 + "/key",
        "s3://1.2.3/key",
        "s3://123/key",
        "file:///data/train",
        "/data/train",
        "relative/path",
    ],
)
def test_valid_s3_uris_and_local_paths_pass(uri: str) -> None:
    job = TrainingJob.model_validate(
        framework_job(
            inputs={"train": uri, "more": {"uri": uri}},
            output_path=uri,
            checkpoint={"s3_uri": uri},
            model_uri=uri,
            source_dir=uri,
        )
    )
    assert job.output_path == uri and job.channels()["more"].uri == uri


def test_vpc_ids() -> None:
    good = {"subnets": ["subnet-0a1b"], "security_group_ids": ["sg-01"]}
    TrainingJob.model_validate(framework_job(security=good))
    bad = {**good, "subnets": ["subnet-1", "subnet_2"]}
    err = rejected(TrainingJob, framework_job(security=bad), "security.subnets[1]", "1-32")
    assert err.value == "subnet_2"
    rejected(
        TrainingJob,
        framework_job(security={"security_group_ids": ["sg-1"]}),
        "security.subnets",
        "given together",
    )


def test_entry_point_or_image() -> None:
    rejected(TrainingJob, {"role": framework_job()["role"]}, "entry_point", "image_uri")
    assert not TrainingJob.model_validate({"image_uri": "img:1"}).uses_framework


def test_vpc_needs_subnets_and_security_groups() -> None:
    data = framework_job(security={"subnets": ["subnet-1"]})
    rejected(TrainingJob, data, "security.security_group_ids", "subnets and security_group_ids")


# ---- ranges --------------------------------------------------------------------------------


def test_min_below_max() -> None:
    for low, high in [(1, 1), (2, 1)]:
        with pytest.raises(SpecError) as info:
            IntegerParameter(min_value=low, max_value=high)
        assert info.value.field == "min_value"
        assert info.value.value == low
        assert f"less than max_value ({high})" in str(info.value)
    with pytest.raises(SpecError, match="less than max_value"):
        ContinuousParameter(min_value=0.5, max_value=0.5)


def test_ranges_inside_a_tuning_job_name_their_path() -> None:
    data = tuning_job(
        hyperparameter_ranges={"lr": {"type": "continuous", "min_value": 1, "max_value": 0}}
    )
    err = rejected(TuningJob, data, "hyperparameter_ranges.lr.min_value", "less than max_value")
    assert err.value == 1.0


def test_logarithmic_needs_positive_min() -> None:
    ContinuousParameter(min_value=1e-5, max_value=1, scaling_type="Logarithmic")
    IntegerParameter(min_value=1, max_value=1000, scaling_type="Logarithmic")
    for low in (0, -1):
        with pytest.raises(SpecError) as info:
            ContinuousParameter(min_value=low, max_value=1, scaling_type="Logarithmic")
        assert info.value.field == "min_value"
        assert "Logarithmic needs min_value > 0" in str(info.value)
    with pytest.raises(SpecError, match="min_value > 0"):
        IntegerParameter(min_value=0, max_value=10, scaling_type="Logarithmic")


def test_reverse_logarithmic_needs_zero_to_one() -> None:
    ContinuousParameter(min_value=0, max_value=0.999, scaling_type="ReverseLogarithmic")
    with pytest.raises(SpecError) as info:
        ContinuousParameter(min_value=0.5, max_value=1, scaling_type="ReverseLogarithmic")
    assert info.value.field == "max_value"
    assert info.value.value == 1
    with pytest.raises(SpecError) as info:
        ContinuousParameter(min_value=-0.1, max_value=0.5, scaling_type="ReverseLogarithmic")
    assert info.value.field == "min_value"
    assert "0 <= min_value and max_value < 1" in str(info.value)
    with pytest.raises(SpecError) as info:
        IntegerParameter(min_value=0, max_value=1, scaling_type="ReverseLogarithmic")
    assert info.value.field == "scaling_type"


def test_non_finite_bounds() -> None:
    with pytest.raises(SpecError) as info:
        ContinuousParameter(min_value=0, max_value=float("inf"))
    assert info.value.field == "max_value"


def test_at_most_30_ranges() -> None:
    ranges = {f"p{i}": cat("a", "b") for i in range(31)}
    err = rejected(
        TuningJob, tuning_job(hyperparameter_ranges=ranges), "hyperparameter_ranges", "at most 30"
    )
    assert "got 31" in str(err)


def test_more_than_20_ranges_warns() -> None:
    ranges = {f"p{i}": cat("a", "b") for i in range(21)}
    with pytest.warns(SpecWarning, match="21 tuned hyperparameters"):
        TuningJob.model_validate(tuning_job(hyperparameter_ranges=ranges))


def test_at_most_30_categorical_values() -> None:
    CategoricalParameter(values=list(range(30)))
    with pytest.raises(SpecError) as info:
        CategoricalParameter(values=list(range(31)))
    assert info.value.field == "values"
    assert "at most 30 categorical values" in str(info.value)
    with pytest.raises(SpecError, match="distinct"):
        CategoricalParameter(values=["a", "a"])
    with pytest.raises(SpecError) as info:
        CategoricalParameter(values=[])
    assert info.value.field == "values"


def test_linear_range_over_three_orders_of_magnitude_warns() -> None:
    with pytest.warns(SpecWarning, match="orders of magnitude"):
        ContinuousParameter(min_value=0.001, max_value=1, scaling_type="Linear")
    with pytest.warns(SpecWarning, match="Logarithmic"):
        IntegerParameter(min_value=1, max_value=1000, scaling_type="Linear")
    ContinuousParameter(min_value=0.01, max_value=1, scaling_type="Linear")  # two: no warning


# ---- strategies ----------------------------------------------------------------------------


def test_grid_takes_categorical_ranges_only() -> None:
    data = tuning_job(strategy="Grid")
    err = rejected(TuningJob, data, "hyperparameter_ranges.lr.type", "categorical ranges only")
    assert err.value == "continuous"


def test_grid_max_jobs_is_the_number_of_combinations() -> None:
    ranges = {"a": cat(1, 2, 3), "b": cat("x", "y")}
    spec = TuningJob.model_validate(
        tuning_job(strategy="Grid", hyperparameter_ranges=ranges, max_jobs=6)
    )
    assert spec.grid_size() == 6
    assert len(spec.grid()) == 6
    implicit = TuningJob.model_validate(tuning_job(strategy="Grid", hyperparameter_ranges=ranges))
    assert implicit.effective_max_jobs() == 6
    err = rejected(
        TuningJob,
        tuning_job(strategy="Grid", hyperparameter_ranges=ranges, max_jobs=5),
        "max_jobs",
        "number of combinations (6)",
    )
    assert err.value == 5


def test_hyperband_early_stopping_off() -> None:
    hb = tuning_job(strategy="Hyperband", hyperband={"min_resource": 1, "max_resource": 9})
    TuningJob.model_validate(hb)
    err = rejected(
        TuningJob, {**hb, "early_stopping_type": "Auto"}, "early_stopping_type", "Hyperband"
    )
    assert err.value == "Auto"
    rejected(TuningJob, tuning_job(hyperband={"max_resource": 9}), "strategy", "Hyperband")
    rejected(
        TuningJob,
        tuning_job(strategy="Hyperband", hyperband={"min_resource": 9, "max_resource": 9}),
        "hyperband.min_resource",
        "less than max_resource (9)",
    )


@pytest.mark.parametrize("count", [1, 5])
def test_warm_start_parents_one_to_five(count: int) -> None:
    parents = [f"parent-{i}" for i in range(count)]
    TuningJob.model_validate(tuning_job(warm_start_config={"parents": parents}))


@pytest.mark.parametrize("count", [0, 6])
def test_warm_start_parents_out_of_range(count: int) -> None:
    parents = [f"parent-{i}" for i in range(count)]
    err = rejected(
        TuningJob, tuning_job(warm_start_config={"parents": parents}), "warm_start_config.parents"
    )
    assert err.value == parents
    assert ("at least 1" if count == 0 else "at most 5") in str(err)


def test_max_jobs_not_improving_at_least_3() -> None:
    TuningJob.model_validate(tuning_job(completion_criteria={"max_jobs_not_improving": 3}))
    err = rejected(
        TuningJob,
        tuning_job(completion_criteria={"max_jobs_not_improving": 2}),
        "completion_criteria.max_jobs_not_improving",
        "greater than or equal to 3",
    )
    assert err.value == 2


def definitions(count: int) -> dict[str, Any]:
    job = tuning_job()["training_job"]
    return {
        f"algo-{i}": {"training_job": job, "hyperparameter_ranges": {"lr": cat(0.1, 0.01)}}
        for i in range(count)
    }


@pytest.mark.parametrize("count", [1, 10])
def test_training_job_definitions_one_to_ten(count: int) -> None:
    data = tuning_job(training_jobs=definitions(count), hyperparameter_ranges={})
    del data["training_job"]
    assert len(TuningJob.model_validate(data).definitions()) == count


@pytest.mark.parametrize("count", [0, 11])
def test_training_job_definitions_out_of_range(count: int) -> None:
    data = tuning_job(training_jobs=definitions(count), hyperparameter_ranges={})
    del data["training_job"]
    err = rejected(TuningJob, data, "training_jobs", "1-10 training job definitions")
    assert f"got {count}" in str(err)


def test_exactly_one_of_training_job_and_training_jobs() -> None:
    data = tuning_job(training_jobs=definitions(1))
    rejected(TuningJob, data, "training_job", "exactly one")
    data = tuning_job()
    del data["training_job"]
    rejected(TuningJob, data, "training_job", "exactly one")


def test_multi_algorithm_ranges_live_in_definitions() -> None:
    data = tuning_job(training_jobs=definitions(2))
    del data["training_job"]
    rejected(TuningJob, data, "hyperparameter_ranges", "inside each definition")


def test_single_job_needs_a_range() -> None:
    rejected(TuningJob, tuning_job(hyperparameter_ranges={}), "hyperparameter_ranges", "at least")


def test_several_errors_are_reported_together() -> None:
    data = framework_job(instance_count=0, volume_size_gb=0)
    err = rejected(TrainingJob, data, "instance_count", "(2 errors)", "volume_size_gb = 0")
    assert err.value == 0


def test_categorical_values_and_range_names_fit_the_api() -> None:
    CategoricalParameter(values=["v" * 254])
    with pytest.raises(SpecError) as info:
        CategoricalParameter(values=["ok", "v" * 255])
    assert info.value.field == "values[1]"
    assert "at most 256 characters" in str(info.value)
    data = tuning_job(hyperparameter_ranges={"n" * 257: cat(1, 2)})
    err = rejected(TuningJob, data, "hyperparameter_ranges", "1-256 characters")
    assert err.value == "n" * 257


def test_definition_names() -> None:
    data = tuning_job(training_jobs={"my_algo": definitions(1)["algo-0"]}, hyperparameter_ranges={})
    del data["training_job"]
    err = rejected(TuningJob, data, "training_jobs", "1-64 letters, digits and hyphens")
    assert err.value == "my_algo"


def test_tuned_jobs_get_at_most_100_hyperparameters() -> None:
    def spec(static: int) -> dict[str, Any]:
        job = framework_job(
            hyperparameters={f"h{i}": i for i in range(static)},
            metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
        )
        ranges = {f"r{i}": cat(1, 2) for i in range(3)}
        return tuning_job(training_job=job, hyperparameter_ranges=ranges)

    # 4 framework (no sagemaker_job_name when tuning) + 2 tuner + 3 tuned leave 91
    TuningJob.model_validate(spec(91))
    err = rejected(TuningJob, spec(92), "hyperparameter_ranges", "would get 101")
    assert err.value == 3


def test_tuning_tags() -> None:
    tags = {f"k{i}": "v" for i in range(51)}
    rejected(TuningJob, tuning_job(tags=tags), "tags", "at most 50 tags")
