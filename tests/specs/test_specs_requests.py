"""Rendered requests: the seed scenarios, SDK-compatible hyperparameters, files and errors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from sagescale._botocore import validate_request
from sagescale.errors import SpecError
from sagescale.specs import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    SpecKindError,
    TrainingJob,
    TuningJob,
    dump_spec,
    load_spec,
    load_training_job,
    load_tuning_job,
    spec_kind,
)

from .specs_data import ROLE, framework_job, tuning_job

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "specs"
SEEDS = sorted(EXAMPLES.glob("*.yaml"))


def render(spec: TrainingJob | TuningJob, name: str = "seed-job") -> dict[str, Any]:
    """Render ``spec`` and validate it against botocore's SageMaker model."""
    if isinstance(spec, TuningJob):
        request = spec.to_request(tuning_job_name=name)
        validate_request("CreateHyperParameterTuningJob", request)
    else:
        request = spec.to_request(job_name=name)
        validate_request("CreateTrainingJob", request)
    return request


# ---- seeds ---------------------------------------------------------------------------------


def test_the_seed_files_are_there() -> None:
    names = {path.stem for path in SEEDS}
    assert {
        "data_parallel_smddp",
        "model_parallel",
        "xgboost_tuning",
        "xgboost_warm_start",
        "spot_incremental",
    } <= names


@pytest.mark.parametrize("path", SEEDS, ids=lambda p: p.stem)
def test_seed_loads_renders_validates_and_round_trips(path: Path, tmp_path: Path) -> None:
    spec = load_spec(path)
    render(spec)
    for suffix in (".yaml", ".json"):
        copy = tmp_path / f"copy{suffix}"
        dump_spec(spec, copy)
        assert load_spec(copy) == spec


def test_seed_1_smddp_hyperparameters() -> None:
    job = load_training_job(EXAMPLES / "data_parallel_smddp.yaml")
    hps = render(job, "mnist-1")["HyperParameters"]
    assert hps["sagemaker_distributed_dataparallel_enabled"] == "true"
    assert hps["sagemaker_distributed_dataparallel_custom_mpi_options"] == '""'
    assert hps["sagemaker_instance_type"] == '"ml.p3.16xlarge"'
    assert hps["sagemaker_program"] == '"train.py"'
    assert hps["sagemaker_job_name"] == '"mnist-1"'
    assert hps["sagemaker_region"] == '"us-east-1"'
    assert hps["sagemaker_container_log_level"] == "20"
    assert json.loads(hps["sagemaker_submit_directory"]).startswith("s3://")
    assert hps["epochs"] == "10"
    assert hps["lr"] == "1.0"
    assert "sagemaker_mpi_enabled" not in hps


def test_seed_2_model_parallel_hyperparameters() -> None:
    job = load_training_job(EXAMPLES / "model_parallel.yaml")
    request = render(job)
    hps = request["HyperParameters"]
    assert hps["sagemaker_mpi_enabled"] == "true"
    assert hps["sagemaker_mpi_num_of_processes_per_host"] == "4"
    assert hps["sagemaker_mpi_custom_mpi_options"] == '""'
    params = json.loads(hps["mp_parameters"])
    assert params["partitions"] == 4
    assert params["microbatches"] == 8
    assert params["optimize"] == "memory"
    assert params["memory_weight"] == 0.8
    assert request["ResourceConfig"]["InstanceType"] == "ml.p3.16xlarge"


def test_seed_3_tuning_and_its_warm_start_child() -> None:
    parent = load_tuning_job(EXAMPLES / "xgboost_tuning.yaml")
    request = render(parent, "xgb-tune-parent")
    config = request["HyperParameterTuningJobConfig"]
    assert config["ResourceLimits"] == {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2}
    assert config["HyperParameterTuningJobObjective"]["Type"] == "Minimize"
    assert config["TrainingJobEarlyStoppingType"] == "Auto"
    ranges = config["ParameterRanges"]
    assert {r["Name"] for r in ranges["ContinuousParameterRanges"]} == {
        "eta",
        "min_child_weight",
        "alpha",
    }
    assert ranges["IntegerParameterRanges"] == [
        {"Name": "max_depth", "MinValue": "1", "MaxValue": "10", "ScalingType": "Auto"}
    ]
    static = request["TrainingJobDefinition"]["StaticHyperParameters"]
    assert static == {"objective": "reg:squarederror", "num_round": "100", "eval_metric": "rmse"}

    child = load_tuning_job(EXAMPLES / "xgboost_warm_start.yaml")
    warm = render(child, "xgb-tune-child")["WarmStartConfig"]
    assert warm == {
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "xgb-tune-parent"}],
        "WarmStartType": "IdenticalDataAndAlgorithm",
    }


def test_seed_4_spot_checkpoint_incremental_encryption() -> None:
    job = load_training_job(EXAMPLES / "spot_incremental.yaml")
    request = render(job)
    assert request["EnableManagedSpotTraining"] is True
    assert request["StoppingCondition"] == {
        "MaxRuntimeInSeconds": 7200,
        "MaxWaitTimeInSeconds": 14400,
    }
    assert request["CheckpointConfig"]["S3Uri"].endswith("/checkpoints")
    assert request["EnableInterContainerTrafficEncryption"] is True
    model = [c for c in request["InputDataConfig"] if c["ChannelName"] == "model"]
    assert model[0]["ContentType"] == "application/x-sagemaker-model"
    assert model[0]["DataSource"]["S3DataSource"]["S3Uri"] == job.model_uri


# ---- the hyperparameters the SageMaker Python SDK sends ------------------------------------


def sdk_distribution_hyperparameters(distribution: dict[str, Any], instance_type: str) -> Any:
    """What ``sagemaker.pytorch.PyTorch.hyperparameters()`` adds for ``distribution``.

    Transcribed from the SageMaker Python SDK: ``PyTorch._pytorch_distribution_configuration``
    (pytorch/estimator.py; torch_distributed with smdistributed goes through the generic
    method) and ``EstimatorBase._distribution_configuration`` (estimator.py), values encoded
    with ``_json_encode_hyperparameters`` (``json.dumps``).
    """
    config: dict[str, Any] = {}
    if distribution.get("torch_distributed", {}).get("enabled"):
        if "smdistributed" in distribution:
            config = generic_distribution_configuration(distribution, instance_type)
        config["sagemaker_torch_distributed_enabled"] = True
        config["sagemaker_instance_type"] = instance_type
    else:
        config = generic_distribution_configuration(distribution, instance_type)
    return {key: json.dumps(value) for key, value in config.items()}


def generic_distribution_configuration(distribution: dict[str, Any], instance: str) -> Any:
    config: dict[str, Any] = {}
    smdistributed = distribution.get("smdistributed", {})
    modelparallel = smdistributed.get("modelparallel", {})
    if "mpi" in distribution:
        mpi = distribution["mpi"]
        config["sagemaker_mpi_enabled"] = mpi.get("enabled", False)
        if mpi.get("processes_per_host"):
            config["sagemaker_mpi_num_of_processes_per_host"] = mpi["processes_per_host"]
        config["sagemaker_mpi_custom_mpi_options"] = mpi.get("custom_mpi_options", "")
    if modelparallel.get("enabled"):
        config["mp_parameters"] = modelparallel.get("parameters", {})
    if smdistributed:
        dataparallel = smdistributed.get("dataparallel", {})
        config["sagemaker_distributed_dataparallel_enabled"] = dataparallel.get("enabled", False)
        config["sagemaker_instance_type"] = instance
        if dataparallel.get("enabled"):
            config["sagemaker_distributed_dataparallel_custom_mpi_options"] = dataparallel.get(
                "custom_mpi_options", ""
            )
    return config


MP_PARAMETERS = {
    "partitions": 2,
    "microbatches": 4,
    "pipeline": "interleaved",
    "optimize": "speed",
    "placement_strategy": "spread",
    "auto_partition": True,
    "default_partition": 0,
    "memory_weight": 0.2,
    "ddp": True,
    "tensor_parallel_degree": 1,
    "fp16": False,
    "shard_optimizer_state": False,
    "prescaled_batch": False,
}

SDK_CASES: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
    (
        "ml.p4d.24xlarge",
        {"type": "data_parallel", "engine": "smddp", "custom_mpi_options": "-x NCCL_DEBUG=INFO"},
        {
            "smdistributed": {
                "dataparallel": {"enabled": True, "custom_mpi_options": "-x NCCL_DEBUG=INFO"}
            }
        },
    ),
    (
        "ml.g5.12xlarge",
        {"type": "data_parallel", "engine": "ddp"},
        {"torch_distributed": {"enabled": True}},
    ),
    (
        "ml.p3.16xlarge",
        {
            "type": "model_parallel",
            "partitions": 2,
            "microbatches": 4,
            "optimize": "speed",
            "placement_strategy": "spread",
            "ddp": True,
            "processes_per_host": 8,
            "custom_mpi_options": "--mca btl_vader_single_copy_mechanism none",
        },
        {
            "smdistributed": {"modelparallel": {"enabled": True, "parameters": MP_PARAMETERS}},
            "mpi": {
                "enabled": True,
                "processes_per_host": 8,
                "custom_mpi_options": "--mca btl_vader_single_copy_mechanism none",
            },
        },
    ),
    (
        "ml.p5.48xlarge",
        {"type": "torch_distributed"},
        {"torch_distributed": {"enabled": True}},
    ),
    (
        "ml.p5.48xlarge",
        {"type": "torch_distributed", "smp": {"hybrid_shard_degree": 8}},
        {
            "torch_distributed": {"enabled": True},
            "smdistributed": {
                "modelparallel": {
                    "enabled": True,
                    "parameters": {
                        "hybrid_shard_degree": 8,
                        "tensor_parallel_degree": 1,
                        "expert_parallel_degree": 1,
                        "sm_activation_offloading": False,
                    },
                }
            },
        },
    ),
]


@pytest.mark.parametrize(
    ("instance", "distribution", "sdk_distribution"),
    SDK_CASES,
    ids=["smddp", "ddp", "model_parallel", "torch_distributed", "smp_v2"],
)
def test_distribution_hyperparameters_match_the_sagemaker_sdk(
    instance: str, distribution: dict[str, Any], sdk_distribution: dict[str, Any]
) -> None:
    job = TrainingJob.model_validate(
        framework_job(instance_type=instance, instance_count=2, distribution=distribution)
    )
    hps = render(job)["HyperParameters"]
    expected = sdk_distribution_hyperparameters(sdk_distribution, instance)
    added = {key: hps[key] for key in hps if key in expected or key.startswith("sagemaker_")}
    for key in ("sagemaker_program", "sagemaker_submit_directory", "sagemaker_region"):
        added.pop(key)
    for key in ("sagemaker_container_log_level", "sagemaker_job_name"):
        added.pop(key)
    assert {k: json.loads(v) for k, v in added.items()} == {
        k: json.loads(v) for k, v in expected.items()
    }
    assert added == expected


def test_hyperparameters_are_json_encoded_like_the_sdk() -> None:
    job = TrainingJob.model_validate(
        framework_job(hyperparameters={"name": "resnet", "lr": 0.01, "flag": True, "n": 3})
    )
    hps = render(job)["HyperParameters"]
    assert hps["name"] == '"resnet"'
    assert hps["lr"] == "0.01"
    assert hps["flag"] == "true"
    assert hps["n"] == "3"
    image = TrainingJob(image_uri="img:1", role=ROLE, hyperparameters={"flag": True, "s": "x"})
    assert render(image)["HyperParameters"] == {"flag": "true", "s": "x"}


def test_no_distribution_no_distribution_hyperparameters() -> None:
    hps = render(TrainingJob.model_validate(framework_job()))["HyperParameters"]
    assert not {k for k in hps if "distributed" in k or "mpi" in k or k == "mp_parameters"}


# ---- tuning requests -----------------------------------------------------------------------


def test_tuned_names_leave_the_static_hyperparameters() -> None:
    job = framework_job(
        hyperparameters={"lr": 0.1, "epochs": 3, "optimizer": "sgd"},
        metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
    )
    ranges = {
        "lr": {
            "type": "continuous",
            "min_value": 1e-4,
            "max_value": 0.1,
            "scaling_type": "Logarithmic",
        },
        "optimizer": {"type": "categorical", "values": ["sgd", "adam"]},
        "batch": {"type": "integer", "min_value": 16, "max_value": 256},
    }
    spec = TuningJob.model_validate(tuning_job(training_job=job, hyperparameter_ranges=ranges))
    request = render(spec, "tune-1")
    definition = request["TrainingJobDefinition"]
    static = definition["StaticHyperParameters"]
    assert "lr" not in static and "optimizer" not in static and "batch" not in static
    assert static["epochs"] == "3"
    assert static["sagemaker_program"] == '"train.py"'
    assert static["sagemaker_estimator_class_name"] == '"PyTorch"'
    assert static["sagemaker_estimator_module"] == '"sagemaker.pytorch.estimator"'
    assert "_tuning_objective_metric" not in static
    assert "sagemaker_job_name" not in static
    categorical = request["HyperParameterTuningJobConfig"]["ParameterRanges"][
        "CategoricalParameterRanges"
    ]
    assert categorical == [{"Name": "optimizer", "Values": ['"sgd"', '"adam"']}]
    assert definition["AlgorithmSpecification"]["MetricDefinitions"] == [
        {"Name": "loss", "Regex": r"loss=([0-9.]+)"}
    ]


def test_image_job_categorical_values_are_plain() -> None:
    spec = TuningJob.model_validate(
        tuning_job(
            training_job={"image_uri": "img:1", "role": ROLE},
            hyperparameter_ranges={"booster": {"type": "categorical", "values": ["gbtree", True]}},
        )
    )
    request = render(spec)
    ranges = request["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["CategoricalParameterRanges"] == [
        {"Name": "booster", "Values": ["gbtree", "true"]}
    ]
    assert "sagemaker_estimator_class_name" not in request["TrainingJobDefinition"].get(
        "StaticHyperParameters", {}
    )


def test_multi_algorithm_tuning_request() -> None:
    metric = [{"name": "acc", "regex": r"acc=([0-9.]+)"}]
    data = {
        "objective_metric_name": "acc",
        "strategy": "Random",
        "max_jobs": 20,
        "max_parallel_jobs": 4,
        "training_jobs": {
            "resnet": {
                "training_job": framework_job(
                    hyperparameters={"depth": 18, "lr": 0.1}, metric_definitions=metric
                ),
                "hyperparameter_ranges": {
                    "lr": {"type": "continuous", "min_value": 0.01, "max_value": 0.5}
                },
            },
            "xgb": {
                "training_job": {"image_uri": "img:1", "role": ROLE},
                "hyperparameter_ranges": {
                    "eta": {"type": "continuous", "min_value": 0, "max_value": 1}
                },
                "objective_metric_name": "validation:auc",
            },
        },
    }
    request = render(TuningJob.model_validate(data), "multi-1")
    assert "TrainingJobDefinition" not in request
    config = request["HyperParameterTuningJobConfig"]
    assert "ParameterRanges" not in config and "HyperParameterTuningJobObjective" not in config
    resnet, xgb = request["TrainingJobDefinitions"]
    assert resnet["DefinitionName"] == "resnet"
    assert resnet["TuningObjective"] == {"Type": "Maximize", "MetricName": "acc"}
    assert "lr" not in resnet["StaticHyperParameters"]
    assert resnet["StaticHyperParameters"]["depth"] == "18"
    assert xgb["TuningObjective"]["MetricName"] == "validation:auc"
    assert xgb["HyperParameterRanges"]["ContinuousParameterRanges"][0]["Name"] == "eta"


def test_completion_criteria_hyperband_and_seed() -> None:
    data = tuning_job(
        strategy="Hyperband",
        hyperband={"min_resource": 1, "max_resource": 27},
        completion_criteria={
            "target_objective_value": 0.05,
            "max_jobs_not_improving": 5,
            "complete_on_convergence": True,
        },
        random_seed=7,
        max_runtime_seconds=3600,
    )
    config = render(TuningJob.model_validate(data))["HyperParameterTuningJobConfig"]
    assert config["StrategyConfig"] == {
        "HyperbandStrategyConfig": {"MinResource": 1, "MaxResource": 27}
    }
    assert config["TuningJobCompletionCriteria"] == {
        "TargetObjectiveMetricValue": 0.05,
        "BestObjectiveNotImproving": {"MaxNumberOfTrainingJobsNotImproving": 5},
        "ConvergenceDetected": {"CompleteOnConvergence": "Enabled"},
    }
    assert config["RandomSeed"] == 7
    assert config["ResourceLimits"]["MaxRuntimeInSeconds"] == 3600


# ---- YAML / JSON files ---------------------------------------------------------------------

RANGES_YAML = """
objective_metric_name: loss
objective_type: Minimize
training_job:
  entry_point: train.py
  role: arn:aws:iam::111122223333:role/SageMakerRole
hyperparameter_ranges:
  lr: {type: continuous, min_value: 0.0001, max_value: 0.1, scaling_type: Logarithmic}
  layers: {type: integer, min_value: 1, max_value: 8}
  optimizer: {type: categorical, values: [sgd, adam]}
  momentum:
    type: continuous
    min_value: 0.5
    max_value: 0.99
    scaling_type: ReverseLogarithmic
"""


def test_yaml_range_syntax_loads(tmp_path: Path) -> None:
    path = tmp_path / "tune.yaml"
    path.write_text(RANGES_YAML)
    spec = load_spec(path)
    assert isinstance(spec, TuningJob)
    ranges = spec.hyperparameter_ranges
    assert isinstance(ranges["lr"], ContinuousParameter)
    assert ranges["lr"].scaling_type == "Logarithmic"
    assert isinstance(ranges["layers"], IntegerParameter)
    assert isinstance(ranges["optimizer"], CategoricalParameter)
    assert ranges["optimizer"].values == ["sgd", "adam"]
    assert isinstance(ranges["momentum"], ContinuousParameter)
    assert load_spec(path) == spec
    render(spec)


def test_a_spec_of_the_other_kind_is_one_error_saying_which_it_looks_like() -> None:
    training, tuning = EXAMPLES / "model_parallel.yaml", EXAMPLES / "xgboost_tuning.yaml"
    assert (spec_kind(training), spec_kind(tuning)) == ("training", "tuning")
    with pytest.raises(SpecKindError) as info:
        load_tuning_job(training)
    err = info.value
    assert isinstance(err, SpecError)
    assert (err.found, err.expected, err.field) == ("training", "tuning", str(training))
    assert "entry_point" in err.clues and "instance_type" in err.clues
    assert str(err).startswith(f"{training} looks like a training job spec, not a tuning job")
    assert str(err).endswith("load it with load_training_job() or load_spec()")
    assert "Extra inputs" not in str(err)
    with pytest.raises(SpecKindError, match=r"looks like a tuning job spec, not a train") as info:
        load_training_job(tuning)
    assert info.value.clues == ["objective_metric_name", "training_job"]


def test_a_file_with_neither_kinds_fields_gets_the_field_errors(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text("colour: blue\n")
    assert spec_kind(path) is None
    with pytest.raises(SpecError, match="colour") as info:
        load_tuning_job(path)
    assert not isinstance(info.value, SpecKindError)


def test_a_file_without_tuning_fields_is_a_training_job(tmp_path: Path) -> None:
    path = tmp_path / "job.json"
    path.write_text(json.dumps(framework_job()))
    assert isinstance(load_spec(path), TrainingJob)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("a: [unclosed", "not valid YAML"),
        ("- a\n- b\n", "mapping"),
        ("just a string", "mapping"),
        ("", "mapping"),
        ("entry_point: 3\nrole: x\n", "entry_point"),
        ("entry_point: t.py\nunknown_field: 1\n", "unknown_field"),
        ("entry_point: t.py\nentry_point: u.py\n", "duplicate key 'entry_point'"),
        ("entry_point: t.py\nhyperparameters:\n  lr: 1\n  lr: 2\n", "duplicate key 'lr'"),
    ],
)
def test_bad_files_are_spec_errors(tmp_path: Path, text: str, fragment: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(text)
    with pytest.raises(SpecError, match=fragment):
        load_spec(path)


def test_duplicate_json_keys_are_spec_errors(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text('{"entry_point": "t.py", "hyperparameters": {"lr": 1, "lr": 2}}')
    with pytest.raises(SpecError, match="duplicate key 'lr'") as info:
        load_spec(path)
    assert info.value.field == str(path)


def test_missing_file_is_a_spec_error(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="cannot read"):
        load_spec(tmp_path / "nope.yaml")


# ---- render-time errors --------------------------------------------------------------------


def test_render_needs_a_role() -> None:
    job = TrainingJob(entry_point="train.py")
    with pytest.raises(SpecError) as info:
        job.to_request(job_name="a")
    assert info.value.field == "role"
    assert job.to_request(job_name="a", role=ROLE)["RoleArn"] == ROLE


def test_render_needs_s3_locations() -> None:
    job = TrainingJob.model_validate(framework_job(inputs={"train": "/data/train"}))
    with pytest.raises(SpecError) as info:
        job.to_request(job_name="a")
    assert info.value.field == "inputs.train"
    assert info.value.value == "/data/train"
    request = job.to_request(job_name="a", inputs={"train": "s3://my-bucket/uploaded"})
    assert request["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://my-bucket/uploaded"
    )
    local_output = TrainingJob.model_validate(framework_job(output_path="/tmp/out"))
    with pytest.raises(SpecError) as info:
        local_output.to_request(job_name="a")
    assert info.value.field == "output_path"


def test_default_bucket_comes_from_the_role_account() -> None:
    request = render(TrainingJob.model_validate(framework_job()))
    assert request["OutputDataConfig"]["S3OutputPath"] == "s3://sagemaker-us-east-1-111122223333"


def test_unknown_framework_version_is_a_spec_error() -> None:
    job = TrainingJob.model_validate(framework_job(framework_version="0.1"))
    with pytest.raises(SpecError) as info:
        job.to_request(job_name="a")
    assert info.value.field == "framework_version"
    assert "known:" in str(info.value)


def test_an_s3_source_dir_is_the_submit_directory() -> None:
    job = TrainingJob.model_validate(
        framework_job(source_dir="s3://my-bucket/code/sourcedir.tar.gz")
    )
    hps = render(job)["HyperParameters"]
    assert hps["sagemaker_submit_directory"] == '"s3://my-bucket/code/sourcedir.tar.gz"'
    given = job.to_request(job_name="a", submit_directory="s3://other/src.tar.gz")
    assert given["HyperParameters"]["sagemaker_submit_directory"] == '"s3://other/src.tar.gz"'


def test_checkpoints_go_to_s3() -> None:
    job = TrainingJob.model_validate(
        framework_job(checkpoint={"s3_uri": "/tmp/checkpoints"}, spot={"max_wait_seconds": 90_000})
    )
    with pytest.raises(SpecError) as info:
        job.to_request(job_name="a")
    assert info.value.field == "checkpoint.s3_uri"
    assert info.value.value == "/tmp/checkpoints"


def test_tuning_objective_reported_by_the_runtime_gets_a_metric_definition() -> None:
    """A framework job without a definition for its objective: SageMaker AMT still sees it."""
    import re

    from sagescale.runtime._metrics import format_metric_line

    spec = TuningJob(
        training_job=TrainingJob(entry_point="train.py", role=ROLE),
        objective_metric_name="val_loss",
        objective_type="Minimize",
        hyperparameter_ranges={"lr": {"type": "continuous", "min_value": 1e-4, "max_value": 0.1}},
    )
    request = spec.to_request(tuning_job_name="obj-def")
    validate_request("CreateHyperParameterTuningJob", request)
    (definition,) = request["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"]
    assert definition["Name"] == "val_loss"
    match = re.search(definition["Regex"], "[rank0]: " + format_metric_line("val_loss", 0.125, 3))
    assert match is not None and float(match.group(1)) == 0.125


@pytest.mark.parametrize(
    "distribution",
    [
        {"type": "data_parallel", "engine": "ddp", "processes_per_host": 2},
        {"type": "data_parallel", "engine": "smddp", "processes_per_host": 4},
        {"type": "torch_distributed", "processes_per_host": 2},
    ],
    ids=["ddp", "smddp", "torch_distributed"],
)
def test_processes_per_host_reaches_sagemaker(distribution: dict[str, Any]) -> None:
    # the training toolkit reads sagemaker_mpi_num_of_processes_per_host for torchrun and
    # smddp alike; without it SageMaker starts one process per GPU, not what the spec says
    job = TrainingJob.model_validate(
        framework_job(instance_type="ml.p4d.24xlarge", instance_count=2, distribution=distribution)
    )
    hps = render(job)["HyperParameters"]
    sent = json.loads(hps["sagemaker_mpi_num_of_processes_per_host"])
    assert sent == distribution["processes_per_host"]
    unset = {k: v for k, v in distribution.items() if k != "processes_per_host"}
    job = TrainingJob.model_validate(
        framework_job(instance_type="ml.p4d.24xlarge", instance_count=2, distribution=unset)
    )
    assert "sagemaker_mpi_num_of_processes_per_host" not in render(job)["HyperParameters"]


@pytest.mark.parametrize("instance", ["ml.p3.16xlarg", "ml.t2.medium", "ml.gpu.big"])
def test_an_instance_type_sagemaker_does_not_train_on_is_rejected_at_render(
    instance: str,
) -> None:
    # the spec runs locally (any ml.* name), but CreateTrainingJob would be refused
    job = TrainingJob.model_validate(framework_job(instance_type=instance))
    with pytest.raises(SpecError) as info:
        job.to_request(job_name="j")
    assert info.value.field == "instance_type" and info.value.value == instance
    assert instance in str(info.value) and "not a SageMaker training instance type" in str(
        info.value
    )
    assert "pip install -U botocore" in str(info.value)  # a type newer than botocore's list
    tuning = TuningJob(
        training_job=job,
        objective_metric_name="loss",
        hyperparameter_ranges={"lr": ContinuousParameter(min_value=0.1, max_value=0.2)},
    )
    with pytest.raises(SpecError, match="instance_type"):
        tuning.to_request(tuning_job_name="t")
