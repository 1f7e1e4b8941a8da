"""The facade: one :class:`Session` composes backends, tuning, tracking and planning."""

from __future__ import annotations

import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagescale.backends import Backend, JobDescription, MetricPoint, backend_name, get_backend
from sagescale.specs import Channel, ExperimentConfig, TrainingJob

if TYPE_CHECKING:
    import pandas as pd

    from sagescale.planning import Plan
    from sagescale.tracking import Experiment, ExperimentAnalytics, ExperimentStore
    from sagescale.tuning import HyperparameterTuner

__all__ = ["Session", "TrainingRun"]


class TrainingRun:
    """A handle on one training job: status, metrics, logs, model artifact, stop."""

    def __init__(self, backend: Backend, job_name: str) -> None:
        self.backend = backend
        self.job_name = job_name

    def __repr__(self) -> str:
        return f"TrainingRun({self.job_name!r}, backend={self.backend.name!r})"

    def describe(self) -> JobDescription:
        return self.backend.describe(self.job_name)

    @property
    def status(self) -> str:
        return self.describe().status.value

    def wait(
        self, *, timeout: float | None = None, raise_on_failure: bool = True, logs: bool = False
    ) -> JobDescription:
        """Block until the job ends; raise :class:`JobFailedError` if it did not complete."""
        return self.backend.wait(
            self.job_name, timeout=timeout, raise_on_failure=raise_on_failure, logs=logs
        )

    def stop(self) -> None:
        self.backend.stop(self.job_name)

    def logs(self) -> str:
        return self.backend.logs(self.job_name)

    def metric_points(self, names: list[str] | None = None) -> list[MetricPoint]:
        return self.backend.metrics(self.job_name, names)

    def metrics(self, names: list[str] | None = None) -> pd.DataFrame:
        """Metric points as a DataFrame: ``name, value, step, timestamp``."""
        import pandas as pd

        rows = [
            {"name": p.name, "value": p.value, "step": p.step, "timestamp": p.timestamp}
            for p in self.metric_points(names)
        ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=["name", "value", "step", "timestamp"])
        return frame

    @property
    def final_metrics(self) -> dict[str, float]:
        return self.describe().final_metrics

    @property
    def model_artifact(self) -> str | None:
        return self.describe().model_artifacts

    def download_model(self, destination: str | Path = ".") -> Path:
        return self.backend.download_model(self.job_name, destination)

    def _repr_html_(self) -> str:
        desc = self.describe()
        rows = [
            ("Job", desc.job_name),
            ("Backend", desc.backend),
            ("Status", f"{desc.status.value} ({desc.secondary_status})"),
            ("Failure reason", desc.failure_reason or ""),
            ("Model artifact", desc.model_artifacts or ""),
        ]
        rows += [(f"metric {k}", f"{v:.6g}") for k, v in sorted(desc.final_metrics.items())]
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
            f"<td>{html.escape(str(v))}</td></tr>"
            for k, v in rows
        )
        return f"<table class='sagescale-run'>{cells}</table>"


class Session:
    """Where jobs run and where their records live.

    ``backend`` is ``"local"`` (default: this machine, no AWS account), ``"sagemaker"``
    or a :class:`~sagescale.backends.Backend`; resolution: argument → ``SAGESCALE_BACKEND``
    → ``local``. ``workspace`` (local records) resolves argument →
    ``SAGESCALE_WORKSPACE`` → ``./.sagescale``. ``tracking`` is the experiment store
    (``None``: ``SAGESCALE_TRACKING_URI``, else the workspace's SQLite store; or a URI such as
    ``"sagemaker://"`` or ``"mlflow+sqlite:///mlflow.db"``, or an ``ExperimentStore``).
    """

    def __init__(
        self,
        backend: str | Backend | None = None,
        *,
        workspace: str | os.PathLike[str] | None = None,
        tracking: ExperimentStore | str | None = None,
        **backend_options: Any,
    ) -> None:
        self.workspace = workspace
        self._tracking = tracking
        if not isinstance(backend, Backend) and backend_name(backend) == "local":
            backend_options.setdefault("workspace", workspace)
            if tracking is not None:  # the jobs this session runs are recorded in its store
                backend_options.setdefault("tracking_store", self.tracking_store)
        self.backend = get_backend(backend, **backend_options)

    def __repr__(self) -> str:
        return f"Session(backend={self.backend.name!r})"

    # ---- training ------------------------------------------------------------------------
    def fit(
        self,
        job: TrainingJob,
        *,
        inputs: Mapping[str, str | Channel] | None = None,
        experiment_config: ExperimentConfig | Mapping[str, str] | None = None,
        hyperparameters: Mapping[str, str | int | float | bool] | None = None,
        job_name: str | None = None,
        wait: bool = True,
        logs: bool = False,
    ) -> TrainingRun:
        """Run ``job`` (``inputs`` add to / replace its channels); wait unless ``wait=False``."""
        if inputs:
            job = TrainingJob.model_validate({**job.to_dict(), "inputs": {**job.inputs, **inputs}})
        config = (
            ExperimentConfig.model_validate(dict(experiment_config))
            if isinstance(experiment_config, Mapping)
            else experiment_config
        )
        name = self.backend.submit(
            job, job_name=job_name, hyperparameters=hyperparameters, experiment_config=config
        )
        run = TrainingRun(self.backend, name)
        if wait:
            self.backend.wait(name, logs=logs)
        return run

    def attach(self, job_name: str) -> TrainingRun:
        """A handle on an existing job (from this or another process)."""
        self.backend.describe(job_name)
        return TrainingRun(self.backend, job_name)

    def jobs(self, **filters: Any) -> list[JobDescription]:
        return self.backend.list_jobs(**filters)

    # ---- tuning, tracking, planning ------------------------------------------------------
    def tuner(
        self, training_job: TrainingJob | Mapping[str, TrainingJob], **options: Any
    ) -> HyperparameterTuner:
        """A :class:`~sagescale.tuning.HyperparameterTuner` on this session's backend."""
        from sagescale.tuning import HyperparameterTuner

        options.setdefault("backend", self.backend)
        options.setdefault("workspace", self.workspace)
        return HyperparameterTuner(training_job, **options)

    def attach_tuner(self, tuning_job_name: str) -> HyperparameterTuner:
        from sagescale.tuning import HyperparameterTuner

        return HyperparameterTuner.attach(
            tuning_job_name, backend=self.backend, workspace=self.workspace
        )

    @property
    def tracking_store(self) -> ExperimentStore:
        """The experiment store of this session."""
        from sagescale.tracking import get_store

        return get_store(self._tracking, workspace=self.workspace)

    def experiment(
        self,
        experiment_name: str,
        *,
        description: str | None = None,
        display_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> Experiment:
        """The experiment named ``experiment_name``, created when it does not exist yet."""
        from sagescale.errors import NotFoundError
        from sagescale.tracking import Experiment

        store = self.tracking_store
        try:
            return Experiment.load(experiment_name, store=store)
        except NotFoundError:
            return Experiment.create(
                experiment_name,
                description=description,
                display_name=display_name,
                tags=tags,
                store=store,
            )

    def analytics(self, experiment_name: str | None = None, **options: Any) -> ExperimentAnalytics:
        """:class:`~sagescale.tracking.ExperimentAnalytics` over this session's store."""
        from sagescale.tracking import ExperimentAnalytics

        options.setdefault("store", self.tracking_store)
        return ExperimentAnalytics(experiment_name, **options)

    def plan(self, job: TrainingJob | None = None, **options: Any) -> Plan:
        """:func:`sagescale.planning.plan` (``model=``, ``sample_input=``, ``params=`` ...)."""
        from sagescale.planning import plan

        return plan(job, **options)
