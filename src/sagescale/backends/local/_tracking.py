"""How local training jobs are recorded in experiments (``sagescale.tracking.autotrack``).

Every training job is wrapped in an experiment: the job's ``experiment_config`` or a default
experiment named after its base job name (``pytorch-training`` when the spec has none), a
trial (the config's trial, else one per job) and the trial component
``<job-name>-aws-training-job``. The names reach the training process as
``SAGESCALE_EXPERIMENT_NAME``, ``SAGESCALE_TRIAL_NAME`` and
``SAGESCALE_TRIAL_COMPONENT_NAME``; records the job writes with ``Tracker.load()`` go to
``SAGESCALE_TRACKING_DIR`` and are ingested while the job runs and once at its end.

A failure of tracking never fails or loses a job: it is logged as a warning, and a job
whose end could not be recorded (its orchestrator died, or the store failed) is recorded by
the next process that describes it (``LocalBackend._reconcile_tracking``).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sagescale._workspace import Workspace
from sagescale.backends._base import JobDescription, MetricPoint
from sagescale.specs import ExperimentConfig, TrainingJob

__all__ = ["JobTracking", "tracking_names"]

_LOG = logging.getLogger("sagescale.backends.local")
TRACKING_URI_ENV = "SAGESCALE_TRACKING_URI"
#: The base of generated job names (the SageMaker SDK's default for PyTorch jobs), and so
#: the default experiment of jobs without ``base_job_name``.
DEFAULT_BASE_JOB_NAME = "pytorch-training"


def _sanitize(value: str) -> str:
    from sagescale.tracking._names import sanitize_name

    return sanitize_name(value)


def base_job_name(job: TrainingJob) -> str:
    """The spec's ``base_job_name``, else the default the job name was made from."""
    return job.base_job_name or DEFAULT_BASE_JOB_NAME


def tracking_names(
    job: TrainingJob, job_name: str, config: ExperimentConfig | None
) -> dict[str, str]:
    """The experiment, trial and trial component a job is recorded under (the same rule as
    ``sagescale.tracking.autotrack.record_training_job_start``)."""
    experiment = config.experiment_name if config is not None else _sanitize(base_job_name(job))
    if config is not None and config.trial_name:
        trial = config.trial_name
    elif config is not None and config.run_name:
        trial = _sanitize(f"Default-Run-Group-{experiment}")
    else:
        trial = job_name
    return {
        "SAGESCALE_EXPERIMENT_NAME": experiment,
        "SAGESCALE_TRIAL_NAME": trial,
        "SAGESCALE_TRIAL_COMPONENT_NAME": f"{job_name}-aws-training-job",
    }


class JobTracking:
    """Calls the tracking hooks for one backend; every call swallows and logs failures."""

    def __init__(self, workspace: Workspace, store: Any = None, *, enabled: bool = True) -> None:
        self.workspace = workspace
        self._store = store
        self.enabled = enabled

    def store(self) -> Any:
        if self._store is None:
            from sagescale.tracking._sqlite import SQLiteStore
            from sagescale.tracking._store import get_store

            uri = os.environ.get(TRACKING_URI_ENV)
            self._store = get_store(uri) if uri else SQLiteStore(self.workspace)
        return self._store

    def start(
        self,
        job: TrainingJob,
        job_name: str,
        hyperparameters: Mapping[str, str],
        config: ExperimentConfig | None,
        environment_names: Sequence[str],
    ) -> None:
        if not self.enabled:
            return
        try:
            from sagescale.tracking.autotrack import record_training_job_start

            record_training_job_start(
                self.store(),
                job_name=job_name,
                experiment_config=None if config is None else config.to_request(),
                base_job_name=base_job_name(job),
                hyperparameters=hyperparameters,
                instance_type=job.instance_type,
                instance_count=job.instance_count,
                distribution=(
                    None if job.distribution is None else job.distribution.model_dump(mode="json")
                ),
                input_channels={name: ch.uri for name, ch in job.channels().items()},
                environment_names=sorted(environment_names),
                source_dir=job.source_dir,
                entry_point=job.entry_point,
                image_uri=job.image_uri,
            )
        except Exception as exc:
            _LOG.warning("tracking: recording the start of %s failed: %s", job_name, exc)

    def ingest(self, job_name: str, job_dir: Path) -> None:
        """Ingest the records the job's processes wrote to ``output/tracking``."""
        if not self.enabled:
            return
        directory = job_dir / "output" / "tracking"
        try:
            if not any(directory.glob("*.jsonl")):
                return
            from sagescale.tracking._jobfiles import ingest_job_files

            ingest_job_files(self.store(), directory, f"{job_name}-aws-training-job")
        except Exception as exc:
            _LOG.warning("tracking: ingesting the records of %s failed: %s", job_name, exc)

    def end(
        self,
        desc: JobDescription,
        points: Sequence[MetricPoint],
        job_dir: Path,
        *,
        reconcile: bool = False,
    ) -> bool:
        """Record how the job ended; True when it is recorded (or has nothing to record).

        ``reconcile``: a later attempt for a job whose end may be recorded in part or in
        full already (its orchestrator died, or a first attempt failed): a component that
        is not ``InProgress`` any more, or that was never created, is left as it is, and
        metric points already logged are not logged again."""
        if not self.enabled:
            return False
        self.ingest(desc.job_name, job_dir)
        try:
            from sagescale.errors import NotFoundError
            from sagescale.tracking.autotrack import (
                component_name_for_job,
                record_training_job_end,
            )

            store = self.store()
            if reconcile:
                try:
                    component = store.describe_trial_component(
                        component_name_for_job(desc.job_name)
                    )
                except NotFoundError:
                    return True  # submitted without tracking: nothing to record
                if component.status not in ("InProgress", "Stopping"):
                    return True
            series: dict[str, list[tuple[int | None, float, float]]] = defaultdict(list)
            for p in points:
                series[p.name].append((p.step, p.value, p.timestamp))
            end: datetime | None = desc.end_time
            record_training_job_end(
                store,
                job_name=desc.job_name,
                status=desc.status.value,
                failure_reason=desc.failure_reason,
                model_artifact=desc.model_artifacts,
                final_metrics=desc.final_metrics,
                metric_series=series,
                end_time=end,
                skip_logged=reconcile,
            )
        except Exception as exc:
            _LOG.warning("tracking: recording the end of %s failed: %s", desc.job_name, exc)
            return False
        return True
