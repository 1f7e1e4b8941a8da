"""The backend contract: run a :class:`~sagescale.specs.TrainingJob` somewhere."""

from __future__ import annotations

import abc
import enum
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sagescale.errors import SpecError
from sagescale.specs import ExperimentConfig, TrainingJob, check_job_name

__all__ = [
    "TERMINAL_STATUSES",
    "Backend",
    "JobDescription",
    "JobStatus",
    "MetricPoint",
    "StatusTransition",
    "SubmitArguments",
    "check_destination",
    "check_list_arguments",
    "check_submit_arguments",
    "check_timeout",
    "poll_sleep",
]

#: SageMaker's limits on one hyperparameter (``HyperParameterKey`` / ``HyperParameterValue``).
MAX_HYPERPARAMETER_KEY = 256
MAX_HYPERPARAMETER_VALUE = 2500


class JobStatus(str, enum.Enum):
    """``TrainingJobStatus`` of the SageMaker API."""

    IN_PROGRESS = "InProgress"
    COMPLETED = "Completed"
    FAILED = "Failed"
    STOPPING = "Stopping"
    STOPPED = "Stopped"

    def __str__(self) -> str:
        return self.value


TERMINAL_STATUSES = frozenset({JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.STOPPED})


@dataclass(frozen=True)
class MetricPoint:
    """One value of one metric: wall-clock ``timestamp`` (epoch seconds) and ``step``."""

    name: str
    value: float
    timestamp: float
    step: int | None = None


@dataclass(frozen=True)
class StatusTransition:
    """One secondary-status period (``Starting``, ``Downloading``, ``Training`` ...)."""

    status: str
    start_time: datetime
    end_time: datetime | None = None
    message: str = ""


@dataclass
class JobDescription:
    """What a backend knows about one training job (``DescribeTrainingJob``'s shape)."""

    job_name: str
    backend: str
    status: JobStatus
    secondary_status: str
    creation_time: datetime
    spec: TrainingJob | None = None
    hyperparameters: dict[str, str] = field(default_factory=dict)
    start_time: datetime | None = None
    end_time: datetime | None = None
    failure_reason: str | None = None
    exit_code: int | None = None
    model_artifacts: str | None = None
    output_path: str | None = None
    final_metrics: dict[str, float] = field(default_factory=dict)
    transitions: list[StatusTransition] = field(default_factory=list)
    tuning_job_name: str | None = None
    experiment_config: ExperimentConfig | None = None
    attempts: int = 1
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TERMINAL_STATUSES

    @property
    def elapsed_seconds(self) -> float | None:
        if self.start_time is None:
            return None
        end = self.end_time or datetime.now(tz=self.start_time.tzinfo)
        return (end - self.start_time).total_seconds()


class Backend(abc.ABC):
    """Runs training jobs. One conformance suite (``sagescale.testing.backends``) runs
    against every implementation.

    Invariants:

    - ``submit`` validates everything it can *before* anything runs or any API is called
      and raises :class:`~sagescale.errors.SpecError` for bad input; it returns the job
      name without waiting for the job. A job name is used once per backend.
    - A job that fails is *data*: ``describe`` reports ``Failed`` with ``failure_reason``;
      its logs and metrics stay readable. ``wait`` raises
      :class:`~sagescale.errors.JobFailedError` only with ``raise_on_failure=True``.
    - ``describe``, ``logs``, ``metrics``, ``stop`` raise
      :class:`~sagescale.errors.NotFoundError` for an unknown job name.
    - Once a job reached a terminal status (Completed, Failed, Stopped) its status, times,
      failure reason, final metrics and model artifact never change.
    - ``stop`` on a finished job is a no-op; on a running job it returns at once and the
      job goes Stopping → Stopped.
    - Every other failure of the backend itself raises
      :class:`~sagescale.errors.BackendError` naming the call and the job.
    - Implementations are safe to call from several threads of one process.
    """

    name: ClassVar[str]

    @abc.abstractmethod
    def submit(
        self,
        job: TrainingJob,
        *,
        job_name: str | None = None,
        hyperparameters: Mapping[str, str | int | float | bool] | None = None,
        experiment_config: ExperimentConfig | None = None,
        tuning_job_name: str | None = None,
    ) -> str:
        """Start ``job`` (``hyperparameters`` override the spec's) and return its name."""

    @abc.abstractmethod
    def describe(self, job_name: str) -> JobDescription:
        """The job's current description."""

    @abc.abstractmethod
    def wait(
        self,
        job_name: str,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        logs: bool = False,
    ) -> JobDescription:
        """Block until the job is terminal (or ``timeout`` seconds pass: ``BackendError``)."""

    @abc.abstractmethod
    def stop(self, job_name: str) -> None:
        """Ask a running job to stop."""

    @abc.abstractmethod
    def list_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        max_results: int = 100,
    ) -> list[JobDescription]:
        """Jobs, newest first."""

    @abc.abstractmethod
    def logs(self, job_name: str) -> str:
        """Everything the job printed so far (every host, prefixed with its name)."""

    @abc.abstractmethod
    def metrics(self, job_name: str, names: Sequence[str] | None = None) -> list[MetricPoint]:
        """Metric points seen so far, oldest first."""

    @abc.abstractmethod
    def download_model(self, job_name: str, destination: str | Path) -> Path:
        """Copy the job's ``model.tar.gz`` to ``destination`` (a folder); return the file."""


# -- argument checks shared by every backend ---------------------------------------------------
@dataclass(frozen=True)
class SubmitArguments:
    """The checked keyword arguments of :meth:`Backend.submit`."""

    job_name: str | None
    hyperparameters: dict[str, str | int | float | bool] | None
    experiment_config: ExperimentConfig | None
    tuning_job_name: str | None


def _bad(where: str, value: object, rule: str) -> SpecError:
    return SpecError(f"{where} = {value!r}: {rule}", field=where, value=value)


def check_submit_arguments(
    job: object,
    *,
    job_name: object = None,
    hyperparameters: object = None,
    experiment_config: object = None,
    tuning_job_name: object = None,
) -> SubmitArguments:
    """Check what a caller handed to ``submit`` before anything runs or any API is called.

    Every broken rule is a :class:`~sagescale.errors.SpecError` naming the argument, the value
    and the rule (never a ``TypeError`` or ``AttributeError`` from deeper down). An
    ``experiment_config`` given as a mapping is validated into an :class:`ExperimentConfig`.
    """
    if not isinstance(job, TrainingJob):
        raise _bad("job", type(job).__name__, "must be a TrainingJob")
    if job_name is not None:
        if not isinstance(job_name, str):
            raise _bad("job_name", job_name, "must be a string")
        try:
            check_job_name(job_name)
        except ValueError as exc:
            raise _bad("job_name", job_name, str(exc)) from None
    if tuning_job_name is not None and not isinstance(tuning_job_name, str):
        raise _bad("tuning_job_name", tuning_job_name, "must be a string")
    return SubmitArguments(
        job_name=job_name,
        hyperparameters=_check_overrides(hyperparameters),
        experiment_config=_check_experiment_config(experiment_config),
        tuning_job_name=tuning_job_name,
    )


def _check_overrides(value: object) -> dict[str, str | int | float | bool] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _bad("hyperparameters", value, "must be a mapping of names to values")
    out: dict[str, str | int | float | bool] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_HYPERPARAMETER_KEY:
            raise _bad(
                "hyperparameters",
                key,
                f"a name must be a 1-{MAX_HYPERPARAMETER_KEY} character string",
            )
        where = f"hyperparameters.{key}"
        if not isinstance(item, str | int | float | bool):
            raise _bad(where, item, "must be a string, number or boolean")
        if len(str(item)) > MAX_HYPERPARAMETER_VALUE:
            raise _bad(where, item, f"must be at most {MAX_HYPERPARAMETER_VALUE} characters")
        out[key] = item
    return out


def _check_experiment_config(value: object) -> ExperimentConfig | None:
    if value is None or isinstance(value, ExperimentConfig):
        return value
    if isinstance(value, Mapping):
        try:
            return ExperimentConfig.model_validate(dict(value))
        except SpecError as exc:
            where = f"experiment_config.{exc.field}"
            raise SpecError(f"{where}: {exc}", field=where, value=exc.value) from None
    raise _bad("experiment_config", value, "must be an ExperimentConfig or a mapping")


def check_timeout(timeout: object) -> float | None:
    """``wait``'s ``timeout``: ``None`` or a number of seconds >= 0."""
    if timeout is None:
        return None
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout >= 0:
        raise _bad("timeout", timeout, "must be a number of seconds >= 0 (or None)")
    return float(timeout)


def poll_sleep(interval: float, deadline: float | None) -> None:
    """Sleep one poll ``interval``, or only until ``deadline`` (``time.monotonic()``) when
    that comes sooner, so that a wait's timeout is kept to the poll, not overrun by it."""
    if deadline is not None:
        interval = min(interval, max(0.0, deadline - time.monotonic()))
    time.sleep(interval)


def check_destination(destination: object) -> Path:
    """The folder a download goes to: a path that is not an existing file."""
    if not isinstance(destination, str | Path):
        raise _bad("destination", destination, "must be a folder path")
    folder = Path(destination)
    if folder.exists() and not folder.is_dir():
        raise _bad("destination", str(destination), "is a file, must be a folder")
    return folder


def check_list_arguments(
    *,
    name_contains: object = None,
    created_after: object = None,
    created_before: object = None,
    max_results: object = 100,
) -> None:
    """Check the filters of :meth:`Backend.list_jobs` (``status`` is checked by each backend)."""
    if name_contains is not None and not isinstance(name_contains, str):
        raise _bad("name_contains", name_contains, "must be a string")
    for where, value in (("created_after", created_after), ("created_before", created_before)):
        if value is not None and not isinstance(value, datetime):
            raise _bad(where, value, "must be a datetime")
    if isinstance(max_results, bool) or not isinstance(max_results, int) or max_results < 1:
        raise _bad("max_results", max_results, "must be a positive integer")
