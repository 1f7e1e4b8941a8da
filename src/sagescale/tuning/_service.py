"""What a tuning job looks like from outside, and the contract of a remote tuning service.

:class:`TuningService` is implemented by a backend that runs whole tuning jobs itself
(the ``sagemaker`` backend hands them to SageMaker Automatic Model Tuning). The tuner calls
it instead of its own local search loop when ``isinstance(backend, TuningService)``.
Both paths produce the same :class:`TuningJobDescription` and :class:`TrainingJobSummary`
records, so analytics look the same whichever backend ran the job.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from sagescale.specs import TuningJob

__all__ = [
    "TUNING_TERMINAL_STATUSES",
    "TrainingJobSummary",
    "TuningJobDescription",
    "TuningService",
]

#: ``HyperParameterTuningJobStatus`` values after which nothing changes.
TUNING_TERMINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})

HyperparameterValue = str | int | float | bool


@dataclass
class TrainingJobSummary:
    """One training job of a tuning job (``HyperParameterTrainingJobSummary``'s shape).

    ``hyperparameters`` holds the *tuned* values only. ``final_objective`` is the last
    objective value the job reported (also for a job stopped early); ``curve`` maps epochs
    (1-based) to objective values. ``objective_status`` is ``Pending``, ``Succeeded`` or
    ``Failed`` (no objective value).
    """

    job_name: str
    status: str
    hyperparameters: dict[str, HyperparameterValue]
    definition_name: str | None = None
    final_objective: float | None = None
    objective_status: str = "Pending"
    start_time: datetime | None = None
    end_time: datetime | None = None
    failure_reason: str | None = None
    early_stopped: bool = False
    curve: dict[int, float] = field(default_factory=dict)
    position: int = 0

    @property
    def elapsed_seconds(self) -> float | None:
        if self.start_time is None or self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()


@dataclass
class TuningJobDescription:
    """A tuning job (``DescribeHyperParameterTuningJob``'s shape, trimmed)."""

    name: str
    spec: TuningJob
    backend: str
    status: str
    creation_time: datetime
    end_time: datetime | None = None
    completion_reason: str | None = None
    failure_reason: str | None = None
    best_training_job: str | None = None
    inputs: dict[str, str] = field(default_factory=dict)

    @property
    def done(self) -> bool:
        return self.status in TUNING_TERMINAL_STATUSES


class TuningService(abc.ABC):
    """A backend that runs whole tuning jobs (SageMaker AMT).

    Invariants:

    - ``create_tuning_job`` validates and starts the job and returns at once; the name is
      used once. Bad input raises :class:`~sagescale.errors.SpecError` before any call.
    - ``describe_tuning_job``, ``list_training_jobs_for_tuning_job`` and
      ``stop_tuning_job`` raise :class:`~sagescale.errors.NotFoundError` for an unknown
      name and :class:`~sagescale.errors.BackendError` when the service call fails.
    - ``list_training_jobs_for_tuning_job`` returns every training job started so far,
      oldest first, with the tuned hyperparameters typed as in the spec's ranges (numbers
      as numbers) and ``definition_name`` set for a multi-algorithm job. ``curve`` may be
      empty; the tuner then reads the curve from ``Backend.metrics``.
    - ``stop_tuning_job`` on a finished job is a no-op.
    """

    @abc.abstractmethod
    def create_tuning_job(
        self, spec: TuningJob, name: str, *, inputs: Mapping[str, str] | None = None
    ) -> None:
        """Start tuning job ``name`` from ``spec`` (``CreateHyperParameterTuningJob``)."""

    @abc.abstractmethod
    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        """The tuning job's status (``DescribeHyperParameterTuningJob``)."""

    @abc.abstractmethod
    def list_training_jobs_for_tuning_job(self, name: str) -> list[TrainingJobSummary]:
        """Its training jobs (``ListTrainingJobsForHyperParameterTuningJob``)."""

    @abc.abstractmethod
    def stop_tuning_job(self, name: str) -> None:
        """Stop the tuning job and its running training jobs."""
