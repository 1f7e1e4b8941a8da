"""Hook points through which the local backend and the tuner record jobs automatically.

Every training job is wrapped in an experiment without the user writing a line:

* :func:`record_training_job_start` — when the job is created: experiment (its
  ``experiment_config`` or one per base job name), trial, and a trial component
  ``<job-name>-aws-training-job`` with hyperparameters, instance type and count,
  distribution, input channels (as input artifacts), code, and the *names* of the
  environment variables given to the job (never their values: they often hold tokens).
  Hyperparameters are stored in clear, as on SageMaker.
* :func:`record_training_job_end` — status, failure reason, model artifact, final and
  per-epoch metrics.
* :func:`record_tuning_job` — a tuning job becomes a trial group (a trial named after it)
  whose training jobs' components are associated with it.

All functions take plain data and an :class:`ExperimentStore`; they are idempotent where a
caller may retry (start, tuning) and raise :class:`~sagescale.errors.SpecError` on bad input.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from sagescale.errors import NotFoundError, SpecError, TrackingError
from sagescale.tracking._model import STATUSES, Artifact, MetricPoint, ParameterValue
from sagescale.tracking._names import check_name, sanitize_name
from sagescale.tracking._store import ExperimentStore

__all__ = [
    "CODE_ENTRY_POINT",
    "CODE_IMAGE_URI",
    "CODE_SOURCE_DIR",
    "MODEL_ARTIFACT",
    "TRAINING_JOB_TAG",
    "TUNING_JOB_TAG",
    "TrackingNames",
    "component_name_for_job",
    "record_training_job_end",
    "record_training_job_start",
    "record_tuning_job",
]

MODEL_ARTIFACT = "SageMaker.ModelArtifact"
CODE_SOURCE_DIR = "SageScale.SourceDir"
CODE_ENTRY_POINT = "SageScale.EntryPoint"
CODE_IMAGE_URI = "SageMaker.ImageUri"
TRAINING_JOB_TAG = "sagescale:training-job-name"
TUNING_JOB_TAG = "sagescale:tuning-job-name"
INSTANCE_TYPE = "SageMaker.InstanceType"
INSTANCE_COUNT = "SageMaker.InstanceCount"
DISTRIBUTION = "SageScale.Distribution"
ENVIRONMENT_NAMES = "SageScale.EnvironmentNames"
#: parameter names recorded by sagescale itself (everything else is a hyperparameter)
SYSTEM_PARAMETERS = frozenset({INSTANCE_TYPE, INSTANCE_COUNT, DISTRIBUTION, ENVIRONMENT_NAMES})
_CONFIG_KEYS = ("ExperimentName", "TrialName", "TrialComponentDisplayName", "RunName")


@dataclass(frozen=True)
class TrackingNames:
    """Where a training job is recorded."""

    experiment_name: str
    trial_name: str
    trial_component_name: str


def component_name_for_job(job_name: str) -> str:
    """``<job-name>-aws-training-job``, SageMaker's name for a training job's component."""
    return f"{job_name}-aws-training-job"


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _ensure_experiment(store: ExperimentStore, name: str, **tags: str) -> None:
    try:
        store.describe_experiment(name)
    except NotFoundError:
        try:
            store.create_experiment(name, tags=tags or None)
        except TrackingError:
            store.describe_experiment(name)


def _ensure_trial(
    store: ExperimentStore,
    name: str,
    experiment: str,
    tags: Mapping[str, str] | None = None,
    *,
    field: str = "experiment_config.TrialName",
) -> None:
    try:
        trial = store.describe_trial(name)
    except NotFoundError:
        _ensure_experiment(store, experiment)
        try:
            trial = store.create_trial(name, experiment_name=experiment, tags=tags)
        except TrackingError:
            trial = store.describe_trial(name)
    if trial.experiment_name != experiment:
        raise SpecError(
            f"{field}={name!r} is a trial of experiment {trial.experiment_name!r}, not of "
            f"{experiment!r}: a trial belongs to exactly one experiment",
            field=field,
            value=name,
        )


def _names_for(
    job_name: str, experiment_config: Mapping[str, str] | None, base_job_name: str | None
) -> tuple[TrackingNames, str | None]:
    config = dict(experiment_config or {})
    unknown = set(config) - set(_CONFIG_KEYS)
    if unknown:
        raise SpecError(
            f"experiment_config has unknown keys {sorted(unknown)}; allowed: {_CONFIG_KEYS}",
            field="experiment_config",
            value=experiment_config,
        )
    experiment = config.get("ExperimentName") or sanitize_name(base_job_name or job_name)
    check_name(experiment, field="experiment_config.ExperimentName")
    if config.get("TrialName"):
        trial = config["TrialName"]
    elif config.get("RunName"):
        trial = sanitize_name(f"Default-Run-Group-{experiment}")
    else:
        trial = job_name
    check_name(trial, field="experiment_config.TrialName")
    names = TrackingNames(experiment, trial, component_name_for_job(job_name))
    return names, config.get("TrialComponentDisplayName") or config.get("RunName")


def record_training_job_start(
    store: ExperimentStore,
    *,
    job_name: str,
    experiment_config: Mapping[str, str] | None,
    base_job_name: str | None,
    hyperparameters: Mapping[str, str],
    instance_type: str,
    instance_count: int,
    distribution: Mapping[str, object] | None,
    input_channels: Mapping[str, str],
    environment_names: Sequence[str],
    source_dir: str | None = None,
    entry_point: str | None = None,
    image_uri: str | None = None,
    source_arn: str | None = None,
) -> TrackingNames:
    """Record a training job that is starting; return where it is recorded.

    ``input_channels`` maps channel name → data URI. ``environment_names`` are the *names*
    of the environment variables given to the job. ``source_arn`` defaults to
    ``local:training-job/<job_name>``. Calling it again for the same job updates the record.
    """
    check_name(job_name, field="job_name")
    names, display = _names_for(job_name, experiment_config, base_job_name)
    _ensure_trial(store, names.trial_name, names.experiment_name)  # and its experiment
    arn = source_arn or f"local:training-job/{job_name}"
    try:
        store.create_trial_component(
            names.trial_component_name,
            display_name=display or job_name,
            trial_name=names.trial_name,
            status="InProgress",
            start_time=_now(),
            source_arn=arn,
            source_type="SageMakerTrainingJob",
            tags={TRAINING_JOB_TAG: job_name},
        )
    except TrackingError:
        store.associate_trial_component(names.trial_component_name, names.trial_name)
    store.update_trial_component(
        names.trial_component_name,
        parameters=_start_parameters(
            hyperparameters, instance_type, instance_count, distribution, environment_names
        ),
        input_artifacts=_code_and_data(input_channels, source_dir, entry_point, image_uri),
    )
    return names


def _start_parameters(
    hyperparameters: Mapping[str, str],
    instance_type: str,
    instance_count: int,
    distribution: Mapping[str, object] | None,
    environment_names: Sequence[str],
) -> dict[str, ParameterValue]:
    params: dict[str, ParameterValue] = {str(k): str(v) for k, v in hyperparameters.items()}
    params[INSTANCE_TYPE] = str(instance_type)
    params[INSTANCE_COUNT] = float(instance_count)
    if distribution:
        params[DISTRIBUTION] = json.dumps(distribution, sort_keys=True, default=str)
    names = sorted({str(n).split("=", 1)[0] for n in environment_names})
    if names:
        params[ENVIRONMENT_NAMES] = ",".join(names)
    return params


def _code_and_data(
    input_channels: Mapping[str, str],
    source_dir: str | None,
    entry_point: str | None,
    image_uri: str | None,
) -> dict[str, Artifact]:
    artifacts = {str(k): Artifact(located(str(v)), None) for k, v in input_channels.items()}
    if source_dir:
        artifacts[CODE_SOURCE_DIR] = Artifact(located(source_dir), "application/x-directory")
    if entry_point:
        artifacts[CODE_ENTRY_POINT] = Artifact(entry_point, "text/x-python")
    if image_uri:
        artifacts[CODE_IMAGE_URI] = Artifact(image_uri, None)
    return artifacts


def located(value: str) -> str:
    """A local path as an absolute path (a relative one names different data in every
    folder); URIs (``s3://``, ``file://`` ...) as they are."""
    if not value or "://" in value:
        return value
    return str(Path(value).expanduser().resolve())


MetricSeries = Mapping[str, Sequence[tuple[int | None, float] | tuple[int | None, float, float]]]


def record_training_job_end(
    store: ExperimentStore,
    *,
    job_name: str,
    status: str,
    failure_reason: str | None = None,
    model_artifact: str | None = None,
    final_metrics: Mapping[str, float] | None = None,
    metric_series: MetricSeries | None = None,
    end_time: datetime | None = None,
    skip_logged: bool = False,
) -> None:
    """Record how a training job ended. Call it once per job.

    ``metric_series`` maps metric name → ``(step, value)`` or ``(step, value, timestamp)``
    (e.g. per-epoch values matched by ``metric_definitions``). ``final_metrics`` are logged
    as one last point only for metrics that have no point yet. With ``skip_logged`` (a
    retry after an interrupted call), points the component already holds (same metric,
    step, value and timestamp) are not logged again.
    """
    if status not in STATUSES:
        raise SpecError(f"status={status!r} must be one of {STATUSES}", field="status")
    name = component_name_for_job(job_name)
    now = end_time or _now()
    points = [
        MetricPoint(metric, float(p[1]), p[0], float(p[2]) if len(p) > 2 else now.timestamp())
        for metric, series in (metric_series or {}).items()
        for p in series
    ]
    if skip_logged and points:
        logged = {
            _point_key(p)
            for metric in {p.name for p in points}
            for p in store.metric_series(name, metric)
        }
        points = [p for p in points if _point_key(p) not in logged]
    if points:
        store.log_metrics(name, points)
    known = store.describe_trial_component(name).metrics
    finals = [
        MetricPoint(k, float(v), None, now.timestamp())
        for k, v in (final_metrics or {}).items()
        if k not in known
    ]
    if finals:
        store.log_metrics(name, finals)
    store.update_trial_component(
        name,
        status=status,
        status_message=failure_reason,
        end_time=now,
        output_artifacts=(
            {MODEL_ARTIFACT: Artifact(model_artifact, "application/x-tar")}
            if model_artifact
            else None
        ),
    )


def _point_key(point: MetricPoint) -> tuple[str, int | None, str, float]:
    return point.name, point.step, repr(float(point.value)), float(point.timestamp)


def record_tuning_job(
    store: ExperimentStore,
    tuning_job_name: str,
    training_job_names: Sequence[str],
    *,
    experiment_name: str | None = None,
) -> list[str]:
    """Make the tuning job a trial group and associate its training jobs' components.

    The trial is named after the tuning job and tagged ``sagescale:tuning-job-name``; the
    experiment defaults to one named after the tuning job. Call it as often as training jobs
    start (idempotent). Training jobs not recorded yet are skipped; returns the components
    associated.
    """
    check_name(tuning_job_name, field="tuning_job_name")
    experiment = experiment_name or sanitize_name(tuning_job_name)
    check_name(experiment, field="experiment_name")
    _ensure_trial(
        store,
        tuning_job_name,
        experiment,
        {TUNING_JOB_TAG: tuning_job_name},
        field="tuning_job_name",
    )
    done = []
    for job in training_job_names:
        component = component_name_for_job(job)
        try:
            store.associate_trial_component(component, tuning_job_name)
        except NotFoundError:
            continue
        done.append(component)
    return done
