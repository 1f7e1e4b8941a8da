"""``DescribeTrainingJob`` / ``ListTrainingJobs`` responses as :class:`JobDescription`."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sagescale.backends._base import JobDescription, JobStatus, StatusTransition
from sagescale.specs import ExperimentConfig, TrainingJob

__all__ = ["decode_hyperparameters", "from_describe", "from_summary", "name_of_arn"]

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
_INTERNAL = ("sagemaker_", "_tuning_objective_metric")


def name_of_arn(arn: str | None) -> str | None:
    return None if not arn else arn.rsplit("/", 1)[-1]


def _plain(value: str) -> str:
    try:
        decoded = json.loads(value)
    except ValueError:
        return value
    if isinstance(decoded, str):
        return decoded
    if isinstance(decoded, bool):
        return "true" if decoded else "false"
    return value if isinstance(decoded, (dict, list)) else str(decoded)


def decode_hyperparameters(values: dict[str, str], *, framework: bool) -> dict[str, str]:
    """The user's hyperparameters: SageMaker's own keys dropped, JSON strings unwrapped."""
    if not framework:
        return dict(values)
    return {k: _plain(v) for k, v in values.items() if not k.startswith(_INTERNAL)}


def _status(value: str) -> JobStatus:
    try:
        return JobStatus(value)
    except ValueError:
        return JobStatus.IN_PROGRESS


def _transitions(raw: list[dict[str, Any]]) -> list[StatusTransition]:
    return [
        StatusTransition(
            status=str(t["Status"]),
            start_time=t["StartTime"],
            end_time=t.get("EndTime"),
            message=str(t.get("StatusMessage", "")),
        )
        for t in raw
    ]


def _experiment(raw: dict[str, Any] | None) -> ExperimentConfig | None:
    if not raw or "ExperimentName" not in raw:
        return None
    return ExperimentConfig.model_validate(raw)


def from_describe(raw: dict[str, Any], spec: TrainingJob | None = None) -> JobDescription:
    """A ``DescribeTrainingJob`` response (the raw response stays in ``extra["response"]``)."""
    hyperparameters = raw.get("HyperParameters", {})
    framework = "sagemaker_program" in hyperparameters
    return JobDescription(
        job_name=str(raw["TrainingJobName"]),
        backend="sagemaker",
        status=_status(str(raw["TrainingJobStatus"])),
        secondary_status=str(raw.get("SecondaryStatus", "")),
        creation_time=raw.get("CreationTime", _EPOCH),
        spec=spec,
        hyperparameters=decode_hyperparameters(hyperparameters, framework=framework),
        start_time=raw.get("TrainingStartTime"),
        end_time=raw.get("TrainingEndTime"),
        failure_reason=raw.get("FailureReason") or None,
        model_artifacts=raw.get("ModelArtifacts", {}).get("S3ModelArtifacts"),
        output_path=raw.get("OutputDataConfig", {}).get("S3OutputPath"),
        final_metrics={
            str(m["MetricName"]): float(m["Value"])
            for m in raw.get("FinalMetricDataList", [])
            if "Value" in m
        },
        transitions=_transitions(raw.get("SecondaryStatusTransitions", [])),
        tuning_job_name=name_of_arn(raw.get("TuningJobArn")),
        experiment_config=_experiment(raw.get("ExperimentConfig")),
        extra={
            "arn": raw.get("TrainingJobArn"),
            "billable_seconds": raw.get("BillableTimeInSeconds"),
            "response": raw,
        },
    )


def from_summary(raw: dict[str, Any]) -> JobDescription:
    """A ``TrainingJobSummaries`` item (fewer fields than a full description)."""
    return JobDescription(
        job_name=str(raw["TrainingJobName"]),
        backend="sagemaker",
        status=_status(str(raw["TrainingJobStatus"])),
        secondary_status=str(raw.get("SecondaryStatus", "")),
        creation_time=raw.get("CreationTime", _EPOCH),
        end_time=raw.get("TrainingEndTime"),
        extra={"arn": raw.get("TrainingJobArn"), "summary": raw},
    )
