"""Tuning jobs on SageMaker AMT (moto's server; ``fake_operation`` for the list call moto
lacks) and the association of their training jobs with an experiment."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from sagescale.backends.sagemaker import SageMakerBackend, trial_component_name
from sagescale.errors import BackendError, NotFoundError, SpecError
from sagescale.specs import (
    AlgorithmDefinition,
    CategoricalParameter,
    ContinuousParameter,
    ExperimentConfig,
    IntegerParameter,
    TrainingJob,
    TuningJob,
    WarmStartConfig,
)
from sagescale.tuning._service import TuningService

from .sagemaker_constants import BUCKET, ROLE, FakeOperation

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


@pytest.fixture
def tuning_name() -> str:
    return f"tj-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def spec(job: TrainingJob) -> TuningJob:
    return TuningJob(
        training_job=job,
        objective_metric_name="loss",
        objective_type="Minimize",
        hyperparameter_ranges={
            "lr": ContinuousParameter(min_value=1e-4, max_value=0.1, scaling_type="Logarithmic"),
            "layers": IntegerParameter(min_value=1, max_value=4),
            "optimizer": CategoricalParameter(values=["adam", "sgd"]),
        },
        max_jobs=4,
        max_parallel_jobs=2,
        early_stopping_type="Auto",
    )


def _summary(name: str, minutes: int, tuned: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "CreationTime": T0 + timedelta(minutes=minutes),
        "TrainingJobStatus": "Completed",
        "TunedHyperParameters": tuned,
        **extra,
    }


def test_the_backend_is_a_tuning_service(backend: SageMakerBackend) -> None:
    assert isinstance(backend, TuningService)


def test_create_and_describe(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str, moto_endpoint: str
) -> None:
    backend.create_tuning_job(spec, tuning_name)
    description = backend.describe_tuning_job(tuning_name)
    assert description.name == tuning_name and description.backend == "sagemaker"
    assert description.spec is spec and description.done
    raw = backend._describe_raw(tuning_name)
    static = raw["TrainingJobDefinition"]["StaticHyperParameters"]
    submit = json.loads(static["sagemaker_submit_directory"])
    assert submit == f"s3://{BUCKET}/{tuning_name}/source/sourcedir.tar.gz"
    s3 = boto3.client("s3", region_name="us-east-1", endpoint_url=moto_endpoint)
    s3.head_object(Bucket=BUCKET, Key=f"{tuning_name}/source/sourcedir.tar.gz")
    assert json.loads(static["sagemaker_program"]) == "train.py"
    assert "lr" not in static and static["epochs"] == "3"


def test_attach_from_another_process_rebuilds_the_spec(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str, moto_endpoint: str
) -> None:
    backend.create_tuning_job(spec, tuning_name)
    other = SageMakerBackend(role=ROLE, endpoint_url=moto_endpoint)
    rebuilt = other.attach_tuning_job(tuning_name).spec
    assert rebuilt.objective_metric_name == "loss" and rebuilt.objective_type == "Minimize"
    assert rebuilt.max_jobs == 4 and rebuilt.max_parallel_jobs == 2
    assert rebuilt.hyperparameter_ranges == spec.hyperparameter_ranges
    assert rebuilt.training_job is not None
    assert rebuilt.training_job.entry_point == "train.py"
    assert rebuilt.training_job.hyperparameters == {"epochs": "3"}


def test_multi_algorithm_definitions_get_their_own_source(
    backend: SageMakerBackend, job: TrainingJob, tmp_path: Path, tuning_name: str
) -> None:
    other_dir = tmp_path / "other"
    other_dir.mkdir()
    (other_dir / "fit.py").write_text("print('loss=1')\n")
    other = TrainingJob(entry_point="fit.py", source_dir=str(other_dir))
    spec = TuningJob(
        training_jobs={
            "first": AlgorithmDefinition(
                training_job=job,
                hyperparameter_ranges={"lr": ContinuousParameter(min_value=0.1, max_value=0.5)},
            ),
            "second": AlgorithmDefinition(
                training_job=other,
                hyperparameter_ranges={"depth": IntegerParameter(min_value=2, max_value=8)},
            ),
        },
        objective_metric_name="loss",
        objective_type="Minimize",
        strategy="Random",
        max_jobs=6,
    )
    backend.create_tuning_job(spec, tuning_name)
    raw = backend._describe_raw(tuning_name)
    dirs = {
        d["DefinitionName"]: json.loads(d["StaticHyperParameters"]["sagemaker_submit_directory"])
        for d in raw["TrainingJobDefinitions"]
    }
    assert dirs == {
        "first": f"s3://{BUCKET}/{tuning_name}/first/source/sourcedir.tar.gz",
        "second": f"s3://{BUCKET}/{tuning_name}/second/source/sourcedir.tar.gz",
    }
    fresh = SageMakerBackend(role=ROLE, endpoint_url=backend.aws.endpoint_url)
    rebuilt = fresh.describe_tuning_job(tuning_name).spec
    assert rebuilt.training_jobs is not None and set(rebuilt.training_jobs) == {"first", "second"}


def test_warm_start_reaches_amt(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str
) -> None:
    """Warm start is for a single algorithm (SageMaker's rule), so it is shown on one."""
    warm = TuningJob.model_validate(
        {**spec.model_dump(), "warm_start_config": WarmStartConfig(parents=["parent-tuning-job"])}
    )
    backend.create_tuning_job(warm, tuning_name)
    raw = backend._describe_raw(tuning_name)
    assert raw["WarmStartConfig"]["ParentHyperParameterTuningJobs"] == [
        {"HyperParameterTuningJobName": "parent-tuning-job"}
    ]


def test_bad_tuning_input(backend: SageMakerBackend, spec: TuningJob, moto_endpoint: str) -> None:
    with pytest.raises(SpecError, match="tuning job name"):
        backend.create_tuning_job(spec, "x" * 40)
    with pytest.raises(SpecError, match="role is required"):
        SageMakerBackend(endpoint_url=moto_endpoint).create_tuning_job(spec, "no-role")
    with pytest.raises(NotFoundError):
        backend.describe_tuning_job("never-created")


def test_training_jobs_typed_and_analytics(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str, fake_operation: FakeOperation
) -> None:
    backend.create_tuning_job(spec, tuning_name)
    objective = {"MetricName": "loss", "Value": 0.5}
    seen = fake_operation(
        "ListTrainingJobsForHyperParameterTuningJob",
        {
            "TrainingJobSummaries": [
                _summary(
                    "tj-002",
                    2,
                    {"lr": "0.01", "layers": "3", "optimizer": '"sgd"'},
                    TrainingJobStatus="Stopped",
                    ObjectiveStatus="Succeeded",
                    FinalHyperParameterTuningJobObjectiveMetric=objective,
                ),
                _summary(
                    "tj-001",
                    1,
                    {"lr": "0.001", "layers": "1", "optimizer": '"adam"'},
                    ObjectiveStatus="Succeeded",
                    TrainingStartTime=T0,
                    TrainingEndTime=T0 + timedelta(seconds=90),
                    FinalHyperParameterTuningJobObjectiveMetric={
                        "MetricName": "loss",
                        "Value": 0.25,
                    },
                ),
            ]
        },
    )
    jobs = backend.list_training_jobs_for_tuning_job(tuning_name)
    assert seen[0]["HyperParameterTuningJobName"] == tuning_name
    assert [j.job_name for j in jobs] == ["tj-001", "tj-002"]  # oldest first
    assert jobs[0].hyperparameters == {"lr": 0.001, "layers": 1, "optimizer": "adam"}
    assert isinstance(jobs[0].hyperparameters["layers"], int)
    assert jobs[0].final_objective == 0.25 and jobs[0].elapsed_seconds == 90
    assert jobs[1].early_stopped and jobs[1].definition_name is None
    frame = backend.tuning_dataframe(tuning_name)
    assert list(frame.columns) == [
        "layers",
        "lr",
        "optimizer",
        "TrainingJobName",
        "TrainingJobStatus",
        "FinalObjectiveValue",
        "TrainingStartTime",
        "TrainingEndTime",
        "TrainingElapsedTimeSeconds",
    ]
    assert frame["FinalObjectiveValue"].tolist() == [0.25, 0.5]


def test_stop_tuning_job(backend: SageMakerBackend, spec: TuningJob, tuning_name: str) -> None:
    backend.create_tuning_job(spec, tuning_name)
    backend.stop_tuning_job(tuning_name)  # Completed on moto: a no-op (moto has no Stop call)
    running = backend._describe_raw(tuning_name)
    running.pop("ResponseMetadata")
    running = {k: v for k, v in running.items() if v is not None}
    running["HyperParameterTuningJobStatus"] = "InProgress"
    with Stubber(backend.aws.client("sagemaker")) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", running)
        stub.add_response(
            "stop_hyper_parameter_tuning_job", {}, {"HyperParameterTuningJobName": tuning_name}
        )
        stub.add_response(
            "add_tags",
            {},
            {"ResourceArn": running["HyperParameterTuningJobArn"], "Tags": ANY},
        )
        backend.stop_tuning_job(tuning_name)
        stub.assert_no_pending_responses()


def _stopped_jobs(stop_at: datetime) -> dict[str, Any]:
    tuned = {"lr": "0.01", "layers": "2", "optimizer": '"adam"'}
    ended = {"TrainingJobStatus": "Stopped", "TrainingStartTime": T0}
    return {
        "TrainingJobSummaries": [
            # early-stopped by the median rule before the user stopped the tuning job
            _summary("j-1", 1, tuned, **ended, TrainingEndTime=stop_at - timedelta(seconds=5)),
            # stopped by the user's stop (ended at or after the request, or not yet ended)
            _summary("j-2", 2, tuned, **ended, TrainingEndTime=stop_at),
            _summary("j-3", 3, tuned, **ended, TrainingEndTime=stop_at + timedelta(minutes=1)),
            _summary("j-4", 4, tuned, TrainingJobStatus="Stopped"),
            _summary("j-5", 5, tuned),
        ]
    }


def test_jobs_the_user_stopped_are_not_early_stopped(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str, moto_endpoint: str
) -> None:
    """Early stopping Auto: a Stopped training job is early-stopped only if it ended before
    the user asked the tuning job to stop (recorded by stop_tuning_job, in this process or,
    from another, in a tag; while the job is Stopping, its LastModifiedTime)."""
    backend.create_tuning_job(spec, tuning_name)
    base = backend._describe_raw(tuning_name)
    base.pop("ResponseMetadata")
    base = {k: v for k, v in base.items() if v is not None}
    arn = base["HyperParameterTuningJobArn"]
    running = {**base, "HyperParameterTuningJobStatus": "InProgress"}
    stopped = {**base, "HyperParameterTuningJobStatus": "Stopped"}
    listing = "list_training_jobs_for_hyper_parameter_tuning_job"
    tags: list[dict[str, str]] = []
    with Stubber(backend.aws.client("sagemaker")) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", running)
        stub.add_response("stop_hyper_parameter_tuning_job", {})
        stub.add_response("add_tags", {}, {"ResourceArn": arn, "Tags": ANY})
        backend.stop_tuning_job(tuning_name)
        stop_at = backend._stop_requested[tuning_name]
        stub.add_response(listing, _stopped_jobs(stop_at))
        stub.add_response("describe_hyper_parameter_tuning_job", stopped)
        jobs = backend.list_training_jobs_for_tuning_job(tuning_name)
        stub.assert_no_pending_responses()
    assert [j.early_stopped for j in jobs] == [True, False, False, False, False]

    # another process reads the stop request from the tag stop_tuning_job wrote
    tags = [{"Key": "sagescale:stop-requested-at", "Value": stop_at.isoformat()}]
    other = SageMakerBackend(role=ROLE, region="us-east-1", endpoint_url=moto_endpoint)
    with Stubber(other.aws.client("sagemaker")) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", base)  # rebuilds the spec
        stub.add_response(listing, _stopped_jobs(stop_at))
        stub.add_response("describe_hyper_parameter_tuning_job", stopped)
        stub.add_response("list_tags", {"Tags": tags}, {"ResourceArn": arn})
        jobs = other.list_training_jobs_for_tuning_job(tuning_name)
        assert [j.early_stopped for j in jobs] == [True, False, False, False, False]
        stub.assert_no_pending_responses()

    # stopped outside sagescale: Stopping's LastModifiedTime is the request; once Stopped,
    # the request time is unknown and no Stopped job counts as early-stopped
    third = SageMakerBackend(role=ROLE, region="us-east-1", endpoint_url=moto_endpoint)
    stopping = {**base, "HyperParameterTuningJobStatus": "Stopping", "LastModifiedTime": stop_at}
    with Stubber(third.aws.client("sagemaker")) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", base)
        for status in (stopping, stopped):
            stub.add_response(listing, _stopped_jobs(stop_at))
            stub.add_response("describe_hyper_parameter_tuning_job", status)
            stub.add_response("list_tags", {"Tags": []}, {"ResourceArn": arn})
        jobs = third.list_training_jobs_for_tuning_job(tuning_name)
        assert [j.early_stopped for j in jobs] == [True, False, False, False, False]
        jobs = third.list_training_jobs_for_tuning_job(tuning_name)
        assert not any(j.early_stopped for j in jobs)
        stub.assert_no_pending_responses()
    # a tuning job that was not stopped: every Stopped job is early-stopped (Auto)
    with Stubber(third.aws.client("sagemaker")) as stub:
        stub.add_response(listing, _stopped_jobs(stop_at))
        stub.add_response("describe_hyper_parameter_tuning_job", base)
        jobs = third.list_training_jobs_for_tuning_job(tuning_name)
        assert [j.early_stopped for j in jobs] == [True, True, True, True, False]
        stub.assert_no_pending_responses()


def test_stop_tuning_job_races_with_its_end(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str
) -> None:
    """The job ends between the describe and the stop: SageMaker refuses the stop, which is
    then a no-op as for a finished job; a refusal of a job still running is raised."""
    backend.create_tuning_job(spec, tuning_name)
    completed = backend._describe_raw(tuning_name)
    completed.pop("ResponseMetadata")
    completed = {k: v for k, v in completed.items() if v is not None}
    running = {**completed, "HyperParameterTuningJobStatus": "InProgress"}
    with Stubber(backend.aws.client("sagemaker")) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", running)
        stub.add_client_error(
            "stop_hyper_parameter_tuning_job",
            "ValidationException",
            f"Cannot stop tuning job {tuning_name} as it has already completed",
        )
        stub.add_response("describe_hyper_parameter_tuning_job", completed)
        backend.stop_tuning_job(tuning_name)
        stub.add_response("describe_hyper_parameter_tuning_job", running)
        stub.add_client_error(
            "stop_hyper_parameter_tuning_job", "AccessDeniedException", "not authorized"
        )
        stub.add_response("describe_hyper_parameter_tuning_job", running)
        with pytest.raises(BackendError, match=r"StopHyperParameterTuningJob \[.*AccessDenied"):
            backend.stop_tuning_job(tuning_name)
        stub.assert_no_pending_responses()


def _make_components(endpoint: str, names: list[str]) -> Any:
    client = boto3.client("sagemaker", region_name="us-east-1", endpoint_url=endpoint)
    for name in names:  # SageMaker creates these itself for every training job
        client.create_trial_component(TrialComponentName=trial_component_name(name))
    return client


def test_tuning_jobs_join_the_experiment(
    backend: SageMakerBackend,
    spec: TuningJob,
    tuning_name: str,
    fake_operation: FakeOperation,
    moto_endpoint: str,
) -> None:
    experiment = f"exp-{tuning_name}"
    config = ExperimentConfig(experiment_name=experiment)
    backend.create_tuning_job(spec, tuning_name, experiment_config=config)
    jobs = [f"{tuning_name}-001-a", f"{tuning_name}-002-b", f"{tuning_name}-003-c"]
    client = _make_components(moto_endpoint, jobs)
    tuned = {"lr": "0.01", "layers": "2", "optimizer": '"adam"'}
    listed = {"TrainingJobSummaries": [_summary(n, i, tuned) for i, n in enumerate(jobs[:2])]}
    fake_operation("ListTrainingJobsForHyperParameterTuningJob", listed)
    backend.wait_tuning_job(tuning_name, timeout=30)
    components = client.list_trial_components(TrialName=tuning_name)["TrialComponentSummaries"]
    assert sorted(c["TrialComponentName"] for c in components) == [
        trial_component_name(n) for n in jobs[:2]
    ]
    trial = client.describe_trial(TrialName=tuning_name)
    assert trial["ExperimentName"] == experiment
    # once associated, a component is not associated again; a later job's is
    listed["TrainingJobSummaries"].append(_summary(jobs[2], 3, tuned))
    assert backend.associate_tuning_job_trials(tuning_name) == [trial_component_name(jobs[2])]


def test_association_defaults_to_the_tuning_jobs_own_experiment(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str, fake_operation: FakeOperation
) -> None:
    """Without an experiment_config the tuning job gets an experiment and a trial named after
    it (as on the local backend); another config can still be given explicitly."""
    backend.create_tuning_job(spec, tuning_name)
    fake_operation("ListTrainingJobsForHyperParameterTuningJob", {"TrainingJobSummaries": []})
    backend.wait_tuning_job(tuning_name)
    tagged = backend._tagged_experiment(tuning_name)
    assert tagged is not None
    assert (tagged.experiment_name, tagged.trial_name) == (tuning_name, tuning_name)
    assert backend.associate_tuning_job_trials(tuning_name) == []
    config = ExperimentConfig(experiment_name=f"e-{tuning_name}", trial_name=f"t-{tuning_name}")
    assert backend.associate_tuning_job_trials(tuning_name, config) == []


def test_wait_tuning_job_checks_its_timeout(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str, tmp_path: Path
) -> None:
    """A NaN timeout never compared >= the clock: it waited forever. As Backend.wait: a
    SpecError naming timeout, before any call."""
    from sagescale.tuning import HyperparameterTuner

    for bad in (float("nan"), -1.0, "10"):
        with pytest.raises(SpecError, match="timeout") as info:
            backend.wait_tuning_job("never-created", timeout=bad)  # type: ignore[arg-type]
        assert info.value.field == "timeout"
    backend.create_tuning_job(spec, tuning_name)
    assert backend.wait_tuning_job(tuning_name, timeout=0).done  # Completed on moto
    tuner = HyperparameterTuner.from_spec(spec, backend=backend, workspace=tmp_path / "ws")
    tuner.latest_tuning_job = tuning_name
    with pytest.raises(SpecError, match="timeout"):
        tuner.wait(timeout=float("nan"))


def test_best_training_job_is_this_jobs_not_a_warm_start_parents(
    backend: SageMakerBackend, spec: TuningJob, tuning_name: str
) -> None:
    """OverallBestTrainingJob may be a parent's training job (warm start): the best training
    job is BestTrainingJob, as the SDK's best_training_job() and tuner.best_training_job()."""
    backend.create_tuning_job(spec, tuning_name)
    raw = backend._describe_raw(tuning_name)
    raw.pop("ResponseMetadata")
    raw = {k: v for k, v in raw.items() if v is not None}

    def best(job_name: str, value: float) -> dict[str, Any]:
        return _summary(
            job_name,
            0,
            {"lr": "0.01"},
            FinalHyperParameterTuningJobObjectiveMetric={"MetricName": "loss", "Value": value},
        )

    raw["BestTrainingJob"] = best("child-job", 0.3)
    raw["OverallBestTrainingJob"] = best("parent-job", 0.1)
    with Stubber(backend.aws.client("sagemaker")) as stub:
        stub.add_response("describe_hyper_parameter_tuning_job", raw)
        assert backend.best_training_job(tuning_name) == "child-job"
        stub.assert_no_pending_responses()
