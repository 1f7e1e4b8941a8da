"""Hand-off to the official SageMaker SDK v3 (skipped when the ``sagemaker`` extra is absent)."""

from __future__ import annotations

import io
import tarfile
import warnings
from pathlib import Path
from typing import Any

import pytest

from sagescale.backends.sagemaker import to_hyperparameter_tuner, to_model_trainer
from sagescale.specs import (
    AlgorithmDefinition,
    CategoricalParameter,
    Channel,
    CompletionCriteria,
    ContinuousParameter,
    DataParallel,
    ExperimentConfig,
    IntegerParameter,
    ModelParallel,
    Security,
    SpecWarning,
    TrainingJob,
    TuningJob,
    WarmStartConfig,
)

from .sagemaker_constants import ROLE

with warnings.catch_warnings():  # the SDK's own import-time deprecation notices
    warnings.simplefilter("ignore")
    pytest.importorskip("sagemaker.train.model_trainer")
    from sagemaker.train.model_trainer import ModelTrainer
    from sagemaker.train.tuner import HyperparameterTuner


@pytest.fixture(autouse=True)
def sdk_on_moto(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    # the SDK builds its own clients from boto3's configuration
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("SAGEMAKER_VALIDATE_ROLE", "false")


def test_model_trainer_from_a_spec(job: TrainingJob) -> None:
    job = job.model_copy(
        update={
            "role": ROLE,
            "inputs": {"train": "s3://data/train"},
            "instance_type": "ml.p4d.24xlarge",
            "instance_count": 2,
            "distribution": DataParallel(engine="smddp"),
            "output_path": "s3://out/path",
            "max_retry_attempts": 2,
        }
    )
    trainer = to_model_trainer(job, bucket="hand-off")
    assert isinstance(trainer, ModelTrainer)
    assert trainer.role == ROLE
    assert trainer.training_image.endswith("pytorch-training:2.3.0-gpu-py311")
    assert trainer.compute.instance_type == "ml.p4d.24xlarge"
    assert trainer.compute.instance_count == 2
    assert trainer.distributed.process_count_per_node == 8
    assert trainer.hyperparameters["epochs"] == 3
    assert trainer.hyperparameters["sagemaker_distributed_dataparallel_enabled"] is True
    assert [c.channel_name for c in trainer.input_data_config] == ["train"]
    assert trainer.output_data_config.s3_output_path == "s3://out/path"
    # the script imports sagescale.runtime: it travels packed with the runtime
    tarball = Path(trainer.source_code.source_dir)
    assert tarball.name == "sourcedir.tar.gz" and trainer.source_code.entry_script == "train.py"
    with tarfile.open(fileobj=io.BytesIO(tarball.read_bytes()), mode="r:gz") as tar:
        assert "sagescale/runtime/dist.py" in tar.getnames()


def test_channel_settings_and_output_key_reach_the_trainer(job: TrainingJob) -> None:
    job = job.model_copy(
        update={
            "role": ROLE,
            "inputs": {
                "train": Channel(
                    uri="s3://data/train",
                    input_mode="FastFile",
                    distribution="ShardedByS3Key",
                    content_type="text/csv",
                    compression="Gzip",
                )
            },
            "model_uri": "s3://models/model.tar.gz",
            "security": Security(output_kms_key="arn:aws:kms:us-east-1:123456789012:key/k"),
        }
    )
    trainer = to_model_trainer(job, bucket="hand-off")
    channels = {c.channel_name: c for c in trainer.input_data_config}
    train = channels["train"]
    assert train.input_mode == "FastFile" and train.compression_type == "Gzip"
    assert train.content_type == "text/csv"
    source = train.data_source.s3_data_source
    assert source.s3_uri == "s3://data/train"
    assert source.s3_data_distribution_type == "ShardedByS3Key"
    model = channels["model"]
    assert model.content_type == "application/x-sagemaker-model"
    assert model.data_source.s3_data_source.s3_uri == "s3://models/model.tar.gz"
    # no output_path: the SDK's default path, but the spec's KMS key
    assert trainer.output_data_config.kms_key_id == "arn:aws:kms:us-east-1:123456789012:key/k"


def test_model_parallel_goes_through_mpi(tmp_path: Path) -> None:
    (tmp_path / "train.py").write_text("print('plain')\n")
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(tmp_path),
        role=ROLE,
        instance_type="ml.p4d.24xlarge",
        distribution=ModelParallel(partitions=2, microbatches=4),
    )
    trainer = to_model_trainer(job, bucket="hand-off")
    assert type(trainer.distributed).__name__ == "MPI"
    assert trainer.source_code.source_dir == str(tmp_path)  # no runtime: the folder itself
    assert "mp_parameters" in trainer.hyperparameters


def _ranges() -> dict[str, Any]:
    return {
        "lr": ContinuousParameter(min_value=1e-4, max_value=0.1, scaling_type="Logarithmic"),
        "layers": IntegerParameter(min_value=1, max_value=4),
        "optimizer": CategoricalParameter(values=["adam", "sgd"]),
    }


def test_hyperparameter_tuner_from_a_spec(job: TrainingJob) -> None:
    spec = TuningJob(
        training_job=job.model_copy(update={"role": ROLE}),
        objective_metric_name="loss",
        objective_type="Minimize",
        hyperparameter_ranges=_ranges(),
        max_jobs=8,
        max_parallel_jobs=2,
        warm_start_config=WarmStartConfig(parents=["parent-job"]),
        completion_criteria=CompletionCriteria(max_jobs_not_improving=5),
    )
    tuner = to_hyperparameter_tuner(spec, bucket="hand-off")
    assert isinstance(tuner, HyperparameterTuner)
    assert tuner.objective_metric_name == "loss" and tuner.objective_type == "Minimize"
    assert tuner.max_jobs == 8 and tuner.max_parallel_jobs == 2
    assert set(tuner._hyperparameter_ranges) == {"lr", "layers", "optimizer"}
    assert tuner.metric_definitions == [{"Name": "loss", "Regex": r"loss=([0-9.]+)"}]
    assert (
        tuner.warm_start_config.parent_hyper_parameter_tuning_jobs[
            0
        ].hyper_parameter_tuning_job_name
        == "parent-job"
    )


def test_multi_algorithm_tuner(job: TrainingJob) -> None:
    job = job.model_copy(update={"role": ROLE})
    spec = TuningJob(
        training_jobs={
            "a": AlgorithmDefinition(training_job=job, hyperparameter_ranges=_ranges()),
            "b": AlgorithmDefinition(
                training_job=job,
                hyperparameter_ranges={"lr": ContinuousParameter(min_value=0.1, max_value=0.2)},
            ),
        },
        objective_metric_name="loss",
        strategy="Random",
        max_jobs=4,
    )
    tuner = to_hyperparameter_tuner(spec, bucket="hand-off")
    assert set(tuner.model_trainer_dict) == {"a", "b"}
    assert tuner.objective_metric_name_dict == {"a": "loss", "b": "loss"}


def test_experiment_config_left_out_of_the_trainer_is_said(job: TrainingJob) -> None:
    job = job.model_copy(
        update={
            "role": ROLE,
            "inputs": {"train": "s3://data/train"},
            "experiment_config": ExperimentConfig(experiment_name="mnist", trial_name="t1"),
        }
    )
    with pytest.warns(SpecWarning, match=r"experiment_config \(experiment 'mnist'\)") as seen:
        trainer = to_model_trainer(job, bucket="hand-off")
    assert len(seen) == 1 and "ModelTrainer has no experiment_config" in str(seen[0].message)
    assert isinstance(trainer, ModelTrainer)
    # the reason: the SDK's own CreateTrainingJob request has no place for it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        request = trainer._create_training_job_args(boto3=True)
    assert "TrainingJobName" in request and "ExperimentConfig" not in request


def test_trainer_without_experiment_config_warns_nothing(job: TrainingJob) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error", SpecWarning)
        to_model_trainer(job.model_copy(update={"role": ROLE}), bucket="hand-off")


def test_experiment_config_left_out_of_the_tuner_is_said_once(job: TrainingJob) -> None:
    with_config = job.model_copy(
        update={"role": ROLE, "experiment_config": ExperimentConfig(experiment_name="mnist")}
    )
    spec = TuningJob(
        training_jobs={
            "a": AlgorithmDefinition(training_job=with_config, hyperparameter_ranges=_ranges()),
            "b": AlgorithmDefinition(
                training_job=job.model_copy(update={"role": ROLE}),
                hyperparameter_ranges=_ranges(),
            ),
        },
        objective_metric_name="loss",
        strategy="Random",
        max_jobs=4,
    )
    with pytest.warns(SpecWarning) as seen:
        tuner = to_hyperparameter_tuner(spec, bucket="hand-off")
    messages = [str(w.message) for w in seen if issubclass(w.category, SpecWarning)]
    assert len(messages) == 1
    assert "experiment_config of training job definition(s) 'a' " in messages[0]
    assert "CreateHyperParameterTuningJob has no ExperimentConfig" in messages[0]
    assert set(tuner.model_trainer_dict) == {"a", "b"}
