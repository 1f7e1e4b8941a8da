"""``HyperparameterTuner(..., backend=<sagemaker>)`` hands the tuning job to SageMaker AMT
(moto) and reads the results back in the same analytics form as local tuning."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import boto3
import pytest

from sagescale.backends.sagemaker import LOG_GROUP, SageMakerBackend
from sagescale.specs import ContinuousParameter, TrainingJob
from sagescale.tuning import HyperparameterTuner

from .sagemaker_constants import FakeOperation

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)
ARN = "arn:aws:sagemaker:us-east-1:123456789012:training-job/"


def _job_logs(endpoint: str, job_name: str, losses: list[float]) -> None:
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=endpoint)
    if not logs.describe_log_groups(logGroupNamePrefix=LOG_GROUP)["logGroups"]:
        logs.create_log_group(logGroupName=LOG_GROUP)
    stream = f"{job_name}/algo-1-1700000000"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": f"loss={v}"} for i, v in enumerate(losses)]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


def test_tuner_on_sagemaker(
    backend: SageMakerBackend,
    job: TrainingJob,
    name: str,
    tmp_path: Path,
    fake_operation: FakeOperation,
    moto_endpoint: str,
) -> None:
    # the training jobs AMT would start (moto's AMT starts none), with their logs
    jobs = [backend.submit(job, job_name=f"{name}-{i}") for i in (1, 2)]
    _job_logs(moto_endpoint, jobs[0], [0.9, 0.4])
    summaries: list[dict[str, Any]] = [
        {
            "TrainingJobName": job_name,
            "TrainingJobArn": ARN + job_name,
            "CreationTime": T0 + timedelta(minutes=i),
            "TrainingJobStatus": "Completed",
            "TunedHyperParameters": {"lr": lr},
            "ObjectiveStatus": "Succeeded",
            "FinalHyperParameterTuningJobObjectiveMetric": {"MetricName": "loss", "Value": v},
        }
        for i, (job_name, lr, v) in enumerate(zip(jobs, ["0.01", "0.05"], [0.4, 0.7], strict=True))
    ]
    fake_operation(
        "ListTrainingJobsForHyperParameterTuningJob", {"TrainingJobSummaries": summaries}
    )
    tuner = HyperparameterTuner(
        job,
        objective_metric_name="loss",
        objective_type="Minimize",
        hyperparameter_ranges={"lr": ContinuousParameter(min_value=0.001, max_value=0.1)},
        strategy="Random",
        max_jobs=2,
        backend=backend,
        workspace=tmp_path / "ws",
    )
    description = tuner.fit(job_name=f"tj-{name[2:14]}")
    assert description.status == "Completed" and description.backend == "sagemaker"
    assert tuner.best_training_job() == jobs[0]
    frame = tuner.analytics().dataframe()
    assert frame["TrainingJobName"].tolist() == jobs
    assert frame["lr"].tolist() == [0.01, 0.05]
    assert frame["FinalObjectiveValue"].tolist() == [0.4, 0.7]
    curves = tuner.analytics().curves()
    assert curves[curves["TrainingJobName"] == jobs[0]]["ObjectiveValue"].tolist() == [0.9, 0.4]


def test_results_read_no_training_job_one_by_one(
    backend: SageMakerBackend,
    job: TrainingJob,
    name: str,
    tmp_path: Path,
    fake_operation: FakeOperation,
    moto_endpoint: str,
) -> None:
    """dataframe() and best_training_job() need only ListTrainingJobsForHyperParameterTuning
    Job (as the SageMaker SDK's analytics): no DescribeTrainingJob nor CloudWatch Logs read per
    training job, which for hundreds of jobs meant throttling, and failed outright for a role
    without CloudWatch Logs access. curves() still reads the logs."""
    from botocore.stub import Stubber

    jobs = [backend.submit(job, job_name=f"{name}-{i}") for i in (1, 2)]
    _job_logs(moto_endpoint, jobs[1], [0.8, 0.3])
    fake_operation(
        "ListTrainingJobsForHyperParameterTuningJob",
        {
            "TrainingJobSummaries": [
                {
                    "TrainingJobName": job_name,
                    "TrainingJobArn": ARN + job_name,
                    "CreationTime": T0 + timedelta(minutes=i),
                    "TrainingJobStatus": "Completed",
                    "TunedHyperParameters": {"lr": lr},
                    "ObjectiveStatus": "Succeeded",
                    "FinalHyperParameterTuningJobObjectiveMetric": {
                        "MetricName": "loss",
                        "Value": v,
                    },
                }
                for i, (job_name, lr, v) in enumerate(
                    zip(jobs, ["0.01", "0.05"], [0.7, 0.3], strict=True)
                )
            ]
        },
    )
    tuner = HyperparameterTuner(
        job,
        objective_metric_name="loss",
        objective_type="Minimize",
        hyperparameter_ranges={"lr": ContinuousParameter(min_value=0.001, max_value=0.1)},
        strategy="Random",
        max_jobs=2,
        backend=backend,
        workspace=tmp_path / "ws",
    )
    tuner.fit(job_name=f"tj-{name[2:14]}", wait=False)
    described: list[str] = []

    def count(params: Any, **_: Any) -> None:
        described.append(params["body"])

    client = backend.aws.client("sagemaker")
    client.meta.events.register("before-call.sagemaker.DescribeTrainingJob", count)
    try:
        with Stubber(backend.aws.client("logs")):  # nothing queued: any Logs call fails
            frame = tuner.analytics().dataframe()
            best = tuner.best_training_job()
    finally:
        client.meta.events.unregister("before-call.sagemaker.DescribeTrainingJob", count)
    assert described == []
    assert frame["FinalObjectiveValue"].tolist() == [0.7, 0.3] and best == jobs[1]
    curves = tuner.analytics().curves()
    assert curves["ObjectiveValue"].tolist() == [0.8, 0.3]


def test_fit_ends_when_the_logs_cannot_be_read(
    backend: SageMakerBackend,
    job: TrainingJob,
    name: str,
    tmp_path: Path,
    fake_operation: FakeOperation,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The tuning job completed: a role without CloudWatch Logs access still gets its result
    recorded (curves left empty, with a warning) instead of an AccessDenied from fit()."""
    from botocore.stub import Stubber

    job_name = backend.submit(job, job_name=f"{name}-1")
    fake_operation(
        "ListTrainingJobsForHyperParameterTuningJob",
        {
            "TrainingJobSummaries": [
                {
                    "TrainingJobName": job_name,
                    "TrainingJobArn": ARN + job_name,
                    "CreationTime": T0,
                    "TrainingJobStatus": "Completed",
                    "TunedHyperParameters": {"lr": "0.01"},
                    "ObjectiveStatus": "Succeeded",
                    "FinalHyperParameterTuningJobObjectiveMetric": {
                        "MetricName": "loss",
                        "Value": 0.2,
                    },
                }
            ]
        },
    )
    tuner = HyperparameterTuner(
        job,
        objective_metric_name="loss",
        objective_type="Minimize",
        hyperparameter_ranges={"lr": ContinuousParameter(min_value=0.001, max_value=0.1)},
        strategy="Random",
        max_jobs=1,
        backend=backend,
        workspace=tmp_path / "ws",
    )
    with Stubber(backend.aws.client("logs")) as logs:
        logs.add_client_error("describe_log_streams", "AccessDeniedException", "not authorized")
        description = tuner.fit(job_name=f"tj-{name[2:14]}")
        logs.assert_no_pending_responses()
    assert description.status == "Completed"
    recorded = tuner.store.jobs(description.name)
    assert [(j.job_name, j.final_objective, j.curve) for j in recorded] == [(job_name, 0.2, {})]
    assert "its curve is not read" in caplog.text and "AccessDenied" in caplog.text
