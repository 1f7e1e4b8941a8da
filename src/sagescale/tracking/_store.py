"""The experiment store contract and the one function that resolves a store."""

from __future__ import annotations

import abc
import os
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sagescale.errors import SpecError
from sagescale.tracking._model import (
    Artifact,
    ExperimentRecord,
    MetricPoint,
    ParameterValue,
    TrialComponentRecord,
    TrialRecord,
)

__all__ = ["TRACKING_URI_ENV", "ExperimentStore", "get_store"]

TRACKING_URI_ENV = "SAGESCALE_TRACKING_URI"


class ExperimentStore(abc.ABC):
    """Where experiments, trials, trial components and their metrics live.

    Invariants every implementation keeps (checked by ``sagescale.testing.stores``):

    * Names are unique per kind (experiment, trial, trial component) and follow
      :data:`sagescale.tracking.NAME_PATTERN`; callers validate names before calling a store.
      ``create_*`` of a name that exists raises :class:`~sagescale.errors.TrackingError`;
      ``describe_*`` / ``update_*`` / ``log_metrics`` / ``associate_trial_component`` of a
      name that does not exist raise :class:`~sagescale.errors.NotFoundError`.
    * A trial belongs to exactly one experiment, fixed at creation. A trial component may be
      associated with any number of trials; associating twice is a no-op.
    * Parameters and artifacts are a mapping per component: writing a name again replaces
      its value (last write wins, as SageMaker's ``UpdateTrialComponent``). String parameters
      come back as ``str``, numbers as ``float``.
    * Metric points are append-only and never rewritten. Summaries (``MetricSummary``) cover
      every point logged; ``last`` is the most recently logged point.
    * ``status``, ``start_time``, ``end_time`` change only when passed (``None`` keeps).
    * ``list_*`` return records ordered by creation time, oldest first; a filter naming a
      missing experiment or trial gives an empty list.
    * Thread safety: one store object may be used from several threads of one process. Only
      the orchestrating process writes the local SQLite store; training jobs write files that
      :func:`sagescale.tracking.ingest_job_files` ingests.
    """

    #: whether :meth:`metric_series` returns the raw points (every store here does)
    supports_metric_series: bool = True
    #: short human name of the store kind, e.g. ``"sqlite"``
    kind: str = "abstract"

    # experiments --------------------------------------------------------------------------
    @abc.abstractmethod
    def create_experiment(
        self,
        name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ExperimentRecord:
        """Create an experiment; TrackingError if it exists."""

    @abc.abstractmethod
    def describe_experiment(self, name: str) -> ExperimentRecord:
        """The experiment; NotFoundError if missing."""

    @abc.abstractmethod
    def list_experiments(self) -> list[ExperimentRecord]:
        """Every experiment, oldest first."""

    # trials -------------------------------------------------------------------------------
    @abc.abstractmethod
    def create_trial(
        self,
        name: str,
        *,
        experiment_name: str,
        display_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialRecord:
        """Create a trial in an existing experiment (NotFoundError if the experiment is
        missing, TrackingError if the trial exists)."""

    @abc.abstractmethod
    def describe_trial(self, name: str) -> TrialRecord:
        """The trial; NotFoundError if missing."""

    @abc.abstractmethod
    def list_trials(
        self, *, experiment_name: str | None = None, trial_component_name: str | None = None
    ) -> list[TrialRecord]:
        """Trials, optionally of one experiment or holding one component."""

    # trial components ---------------------------------------------------------------------
    @abc.abstractmethod
    def create_trial_component(
        self,
        name: str,
        *,
        display_name: str | None = None,
        trial_name: str | None = None,
        status: str | None = None,
        start_time: datetime | None = None,
        source_arn: str | None = None,
        source_type: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialComponentRecord:
        """Create a component, associated with ``trial_name`` when given."""

    @abc.abstractmethod
    def update_trial_component(
        self,
        name: str,
        *,
        status: str | None = None,
        status_message: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        parameters: Mapping[str, ParameterValue] | None = None,
        input_artifacts: Mapping[str, Artifact] | None = None,
        output_artifacts: Mapping[str, Artifact] | None = None,
    ) -> None:
        """Change what is passed; keep the rest."""

    @abc.abstractmethod
    def describe_trial_component(self, name: str) -> TrialComponentRecord:
        """The component with parameters, artifacts, metric summaries and parents."""

    @abc.abstractmethod
    def list_trial_components(
        self, *, experiment_name: str | None = None, trial_name: str | None = None
    ) -> list[TrialComponentRecord]:
        """Full records of the components of an experiment / a trial / everything."""

    @abc.abstractmethod
    def associate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        """Add a component to a trial (idempotent)."""

    # metrics ------------------------------------------------------------------------------
    @abc.abstractmethod
    def log_metrics(self, trial_component_name: str, points: Sequence[MetricPoint]) -> None:
        """Append metric points to a component."""

    @abc.abstractmethod
    def metric_series(self, trial_component_name: str, metric_name: str) -> list[MetricPoint]:
        """Every point of one metric, in logging order."""

    # artifacts and lookups ----------------------------------------------------------------
    @abc.abstractmethod
    def store_artifact_file(self, trial_component_name: str, path: Path, name: str) -> str:
        """Copy/upload a local file into the store's artifact area; return its URI."""

    def search_trial_components(
        self,
        search_expression: Mapping[str, Any] | None = None,
        *,
        experiment_name: str | None = None,
    ) -> list[TrialComponentRecord]:
        """Components (of an experiment, or all) matching a SageMaker search expression
        (see :mod:`sagescale.tracking._search`); SpecError for a bad expression. The default
        evaluates the expression on :meth:`list_trial_components`."""
        from sagescale.tracking._search import matches, parse_expression

        expr = None if search_expression is None else parse_expression(search_expression)
        records = self.list_trial_components(experiment_name=experiment_name)
        return records if expr is None else [r for r in records if matches(r, expr)]

    def trial_components_with_artifact(
        self, value: str, *, direction: str, prefix: bool = False
    ) -> list[TrialComponentRecord]:
        """Components with an input/output artifact whose value is ``value`` (or, with
        ``prefix``, lies under it). The default scans :meth:`list_trial_components`."""
        side = "input_artifacts" if direction == "input" else "output_artifacts"
        return [
            tc
            for tc in self.list_trial_components()
            if any(_matches(a.value, value, prefix) for a in getattr(tc, side).values())
        ]

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections. The store is unusable afterwards."""

    def __enter__(self) -> ExperimentStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _matches(candidate: str, value: str, prefix: bool) -> bool:
    if candidate == value:
        return True
    return prefix and candidate.startswith(value.rstrip("/") + "/")


def get_store(
    store: ExperimentStore | str | None = None,
    *,
    workspace: str | os.PathLike[str] | None = None,
) -> ExperimentStore:
    """Resolve a store: argument → ``SAGESCALE_TRACKING_URI`` → the workspace SQLite store.

    Accepted URIs: ``sqlite:///path/to/file.db``, ``sagemaker://`` (query options
    ``region``, ``endpoint_url``, ``metrics_endpoint_url``, ``bucket``, ``prefix``) and
    ``mlflow+<mlflow tracking uri>`` (e.g. ``mlflow+sqlite:///mlflow.db``,
    ``mlflow+http://host:5000``, or a SageMaker managed MLflow ARN after ``mlflow+``).
    """
    if isinstance(store, ExperimentStore):
        return store
    uri = store if store is not None else os.environ.get(TRACKING_URI_ENV) or None
    if uri is None:
        return _workspace_store(workspace)
    if not isinstance(uri, str):
        raise SpecError(
            f"store must be an ExperimentStore or a URI string, got {type(uri).__name__}",
            field="store",
            value=uri,
        )
    return _from_uri(uri)


_WORKSPACE_STORES: dict[Path, ExperimentStore] = {}
_LOCK = threading.Lock()


def _workspace_store(workspace: str | os.PathLike[str] | None) -> ExperimentStore:
    """One SQLiteStore per workspace per process (a connection and a migration check each)."""
    from sagescale._workspace import Workspace, resolve_workspace
    from sagescale.tracking._sqlite import SQLiteStore

    root = resolve_workspace(workspace)
    with _LOCK:
        store = _WORKSPACE_STORES.get(root)
        if store is None or not (root / "sagescale.db").exists():
            store = _WORKSPACE_STORES[root] = SQLiteStore(Workspace.open(root))
        return store


def _from_uri(uri: str) -> ExperimentStore:
    if uri.startswith("sqlite:///"):
        from sagescale.tracking._sqlite import SQLiteStore

        return SQLiteStore.from_path(Path(uri[len("sqlite:///") :]))
    if uri.startswith("sagemaker://"):
        from sagescale.tracking._sagemaker import SageMakerStore

        return SageMakerStore.from_uri(uri)
    if uri.startswith("mlflow+") and len(uri) > len("mlflow+"):
        from sagescale.tracking._mlflow import MLflowStore

        return MLflowStore(tracking_uri=uri[len("mlflow+") :])
    raise SpecError(
        f"tracking store URI {uri!r} is not supported: use 'sqlite:///<path>', "
        f"'sagemaker://' or 'mlflow+<tracking uri>'",
        field="store",
        value=uri,
    )


def _options(query: str) -> dict[str, Any]:
    from urllib.parse import parse_qsl

    return dict(parse_qsl(query))
