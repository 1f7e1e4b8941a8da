"""The backend contract: run a :class:`~sagescale.specs.TrainingJob` somewhere."""

from __future__ import annotations

import abc
import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, ClassVar

from sagescale.specs import ExperimentConfig, TrainingJob

__all__ = [
    "TERMINAL_STATUSES",
    "Backend",
    "JobDescription",
    "JobStatus",
    "MetricPoint",
    "StatusTransition",
]


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
