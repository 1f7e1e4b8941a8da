"""Experiment, Trial, TrialComponent, Tracker and Run: the user-facing tracking API.

Inside a training job (``SAGESCALE_TRACKING_DIR`` set), :meth:`Tracker.load` and
:func:`load_run` write JSON lines with the standard library only; the orchestrator ingests
them. Everywhere else the objects talk to an :class:`ExperimentStore`.
"""

from __future__ import annotations

import builtins
import math
import os
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from sagescale.errors import NotFoundError, SpecError, TrackingError
from sagescale.tracking._jobfiles import TRACKING_DIR_ENV, JobFileWriter
from sagescale.tracking._model import STATUSES, Artifact, MetricPoint, ParameterValue
from sagescale.tracking._names import check_name, generate_name, sanitize_name

if TYPE_CHECKING:
    from sagescale.tracking._model import (
        ExperimentRecord,
        MetricSummary,
        TrialComponentRecord,
        TrialRecord,
    )
    from sagescale.tracking._store import ExperimentStore

__all__ = [
    "COMPONENT_ENV",
    "EXPERIMENT_ENV",
    "TRIAL_ENV",
    "Experiment",
    "Run",
    "Tracker",
    "Trial",
    "TrialComponent",
    "load_run",
]

COMPONENT_ENV = "SAGESCALE_TRIAL_COMPONENT_NAME"
EXPERIMENT_ENV = "SAGESCALE_EXPERIMENT_NAME"
TRIAL_ENV = "SAGESCALE_TRIAL_NAME"
_METRIC_BUFFER = 10_000


def _store(store: ExperimentStore | str | None) -> ExperimentStore:
    from sagescale.tracking._store import TRACKING_URI_ENV, get_store

    if store is None and os.environ.get(TRACKING_DIR_ENV) and not os.environ.get(TRACKING_URI_ENV):
        # inside a local training job: the workspace database is the orchestrator's, and a
        # default store here would be a new database in the job's folder that nobody reads
        raise SpecError(
            f"inside a training job ({TRACKING_DIR_ENV} is set) experiments are written with "
            f"Tracker.load() or load_run(), which record into the job's trial component; to "
            f"create experiments, trials or runs from the job, pass store= or set "
            f"{TRACKING_URI_ENV}",
            field="store",
            value=None,
        )
    return get_store(store)


def _check_text(value: object, field: str) -> None:
    """``None`` or a string (display names, descriptions)."""
    if value is not None and not isinstance(value, str):
        raise SpecError(
            f"{field}={value!r} must be a string, not {type(value).__name__}",
            field=field,
            value=value,
        )


def _check_tags(tags: object) -> None:
    """``None`` or a mapping of strings to strings."""
    if tags is None:
        return
    if not isinstance(tags, Mapping) or not all(
        isinstance(k, str) and k and isinstance(v, str) for k, v in tags.items()
    ):
        raise SpecError(
            f"tags={tags!r} must be a mapping of non-empty string keys to string values",
            field="tags",
            value=tags,
        )


def _now() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------------------------------------
class Experiment:
    """A named problem; holds trials. ``Experiment.create(...)`` / ``Experiment.load(...)``."""

    def __init__(self, record: ExperimentRecord, store: ExperimentStore) -> None:
        self._record = record
        self.store = store

    name = property(lambda self: self._record.name)
    display_name = property(lambda self: self._record.display_name)
    description = property(lambda self: self._record.description)
    tags = property(lambda self: dict(self._record.tags))

    def __repr__(self) -> str:
        return f"Experiment(name={self.name!r})"

    @classmethod
    def create(
        cls,
        experiment_name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
        store: ExperimentStore | str | None = None,
    ) -> Experiment:
        check_name(experiment_name, field="experiment_name")
        _check_text(display_name, "display_name")
        _check_text(description, "description")
        _check_tags(tags)
        s = _store(store)
        record = s.create_experiment(
            experiment_name, display_name=display_name, description=description, tags=tags
        )
        return cls(record, s)

    @classmethod
    def load(
        cls, experiment_name: str, *, store: ExperimentStore | str | None = None
    ) -> Experiment:
        s = _store(store)
        return cls(s.describe_experiment(experiment_name), s)

    @classmethod
    def list(cls, *, store: ExperimentStore | str | None = None) -> list[Experiment]:
        s = _store(store)
        return [cls(r, s) for r in s.list_experiments()]

    def list_trials(self) -> builtins.list[Trial]:
        return [Trial(r, self.store) for r in self.store.list_trials(experiment_name=self.name)]

    def create_trial(self, trial_name: str | None = None, **kwargs: Any) -> Trial:
        return Trial.create(trial_name, experiment_name=self.name, store=self.store, **kwargs)

    def list_trial_components(self) -> builtins.list[TrialComponent]:
        records = self.store.list_trial_components(experiment_name=self.name)
        return [TrialComponent(r, self.store) for r in records]


class Trial:
    """An attempt at an experiment's problem; groups trial components."""

    def __init__(self, record: TrialRecord, store: ExperimentStore) -> None:
        self._record = record
        self.store = store

    name = property(lambda self: self._record.name)
    display_name = property(lambda self: self._record.display_name)
    experiment_name = property(lambda self: self._record.experiment_name)
    tags = property(lambda self: dict(self._record.tags))

    def __repr__(self) -> str:
        return f"Trial(name={self.name!r}, experiment_name={self.experiment_name!r})"

    @classmethod
    def create(
        cls,
        trial_name: str | None = None,
        *,
        experiment_name: str,
        display_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        store: ExperimentStore | str | None = None,
    ) -> Trial:
        name = trial_name if trial_name is not None else generate_name("Trial")
        check_name(name, field="trial_name")
        check_name(experiment_name, field="experiment_name")
        _check_text(display_name, "display_name")
        _check_tags(tags)
        s = _store(store)
        record = s.create_trial(
            name, experiment_name=experiment_name, display_name=display_name, tags=tags
        )
        return cls(record, s)

    @classmethod
    def load(cls, trial_name: str, *, store: ExperimentStore | str | None = None) -> Trial:
        s = _store(store)
        return cls(s.describe_trial(trial_name), s)

    def add_trial_component(self, component: TrialComponent | Tracker | Run | str) -> None:
        """Associate a component (object or name) with this trial."""
        name = component if isinstance(component, str) else component.trial_component_name
        self.store.associate_trial_component(name, self.name)

    def list_trial_components(self) -> list[TrialComponent]:
        records = self.store.list_trial_components(trial_name=self.name)
        return [TrialComponent(r, self.store) for r in records]


class TrialComponent:
    """One step of a trial (preprocessing, training, evaluation): a snapshot of its record."""

    def __init__(self, record: TrialComponentRecord, store: ExperimentStore) -> None:
        self.record = record
        self.store = store

    trial_component_name = property(lambda self: self.record.name)
    name = trial_component_name
    display_name = property(lambda self: self.record.display_name)
    status = property(lambda self: self.record.status)
    parameters = property(lambda self: dict(self.record.parameters))
    input_artifacts = property(lambda self: dict(self.record.input_artifacts))
    output_artifacts = property(lambda self: dict(self.record.output_artifacts))
    source_arn = property(lambda self: self.record.source_arn)
    trial_names = property(lambda self: self.record.trial_names)

    @property
    def metrics(self) -> dict[str, MetricSummary]:
        return dict(self.record.metrics)

    def __repr__(self) -> str:
        return f"TrialComponent(name={self.name!r}, status={self.status!r})"

    @classmethod
    def create(
        cls,
        trial_component_name: str | None = None,
        *,
        display_name: str | None = None,
        trial_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        store: ExperimentStore | str | None = None,
    ) -> TrialComponent:
        name = trial_component_name or generate_name("TrialComponent")
        check_name(name, field="trial_component_name")
        _check_text(display_name, "display_name")
        _check_tags(tags)
        s = _store(store)
        record = s.create_trial_component(
            name, display_name=display_name, trial_name=trial_name, tags=tags
        )
        return cls(record, s)

    @classmethod
    def load(
        cls, trial_component_name: str, *, store: ExperimentStore | str | None = None
    ) -> TrialComponent:
        s = _store(store)
        return cls(s.describe_trial_component(trial_component_name), s)

    def refresh(self) -> TrialComponent:
        self.record = self.store.describe_trial_component(self.name)
        return self

    def metric_series(self, metric_name: str) -> list[MetricPoint]:
        return self.store.metric_series(self.name, metric_name)


# sinks: where a Tracker / Run sends what it logs ---------------------------------------------
class _StoreSink:
    """Writes to a store; metric points are buffered and sent in batches."""

    def __init__(self, store: ExperimentStore, component: str) -> None:
        self.store = store
        self.component = component
        self._points: list[tuple[str, float, int | None, float]] = []
        self._rows_writer = getattr(store, "log_metric_rows", None)

    def metric(self, name: str, value: float, step: int | None, timestamp: float) -> None:
        points = self._points
        points.append((name, value, step, timestamp))  # a MetricPoint costs 3x a tuple
        if len(points) >= _METRIC_BUFFER:
            self.flush()

    def parameters(self, values: Mapping[str, ParameterValue]) -> None:
        self.store.update_trial_component(self.component, parameters=values)

    def artifact(self, name: str, artifact: Artifact, direction: str) -> None:
        if direction == "input":
            self.store.update_trial_component(self.component, input_artifacts={name: artifact})
        else:
            self.store.update_trial_component(self.component, output_artifacts={name: artifact})

    def file(self, name: str, path: Path, media_type: str | None, direction: str) -> None:
        uri = self.store.store_artifact_file(self.component, path, name)
        self.artifact(name, Artifact(uri, media_type), direction)

    def flush(self) -> None:
        if self._points:
            rows, self._points = self._points, []
            if self._rows_writer is not None:
                self._rows_writer(self.component, rows)
            else:
                self.store.log_metrics(self.component, [MetricPoint._make(r) for r in rows])

    close = flush


class _FileSink:
    """Inside a training job: JSON lines under ``SAGESCALE_TRACKING_DIR`` (stdlib only)."""

    def __init__(self, directory: str) -> None:
        self.writer = JobFileWriter(directory)
        self.metric = self.writer.metric

    def parameters(self, values: Mapping[str, ParameterValue]) -> None:
        for name, value in values.items():
            self.writer.record("p", name, v=value)

    def artifact(self, name: str, artifact: Artifact, direction: str) -> None:
        kind = "i" if direction == "input" else "o"
        self.writer.record(kind, name, v=artifact.value, mt=artifact.media_type)

    def file(self, name: str, path: Path, media_type: str | None, direction: str) -> None:
        self.writer.add_file(name, path, direction=direction)

    def flush(self) -> None:
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


_Sink = _StoreSink | _FileSink


def _check_parameter(name: object, value: object) -> ParameterValue:
    if not isinstance(name, str) or not name:
        raise SpecError(f"parameter name must be a non-empty string, got {name!r}", field="name")
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise SpecError(f"parameter {name!r}={value!r} must be finite", field=name)
        return float(value)
    if isinstance(value, str):
        return value
    raise SpecError(
        f"parameter {name!r}={value!r} must be a string or a number, not {type(value).__name__}",
        field=name,
        value=value,
    )


def _metric_value(name: str, value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise SpecError(
            f"metric {name!r} value {value!r} must be a real number", field=name, value=value
        ) from None


_STEP_MAX = 2**63 - 1  # what a store can hold (SQLite and MLflow keep 64-bit integers)


def _check_step(name: str, step: object) -> int:
    if isinstance(step, bool) or not isinstance(step, int):
        raise SpecError(
            f"metric {name!r} step {step!r} must be an integer or None", field="step", value=step
        )
    if not 0 <= step <= _STEP_MAX:
        raise SpecError(
            f"metric {name!r} step {step!r} must be between 0 and {_STEP_MAX} (SageMaker's "
            f"BatchPutMetrics takes no negative step)",
            field="step",
            value=step,
        )
    return int(step)


def _seconds(timestamp: float | datetime) -> float:
    if isinstance(timestamp, datetime):
        return timestamp.timestamp()
    try:
        seconds = float(timestamp)
        datetime.fromtimestamp(seconds, tz=timezone.utc)  # a time every store can hold
    except (TypeError, ValueError, OverflowError, OSError):
        seconds = math.nan
    if math.isnan(seconds) or isinstance(timestamp, bool):
        raise SpecError(
            f"timestamp {timestamp!r} must be a datetime or seconds since the epoch (a finite "
            f"number within the years 1-9999)",
            field="timestamp",
            value=timestamp,
        )
    return seconds


class _Logger:
    """What Tracker and Run share: logging through a sink."""

    _sink: _Sink
    trial_component_name: str

    def log_parameter(self, name: str, value: ParameterValue) -> None:
        self._sink.parameters({name: _check_parameter(name, value)})

    def log_parameters(self, parameters: Mapping[str, ParameterValue]) -> None:
        if not isinstance(parameters, Mapping):
            raise SpecError(
                f"parameters={parameters!r} must be a mapping of names to values",
                field="parameters",
                value=parameters,
            )
        self._sink.parameters({k: _check_parameter(k, v) for k, v in parameters.items()})

    def log_metric(
        self,
        name: str,
        value: float,
        step: int | None = None,
        timestamp: float | datetime | None = None,
    ) -> None:
        """Record one point (buffered in memory; a few microseconds of CPU per call)."""
        if type(name) is not str or not name:
            raise SpecError(
                f"metric name must be a non-empty string, got {name!r}", field="name", value=name
            )
        try:
            v = float(value)
        except (TypeError, ValueError):
            v = _metric_value(name, value)
        if step is not None and (type(step) is not int or not 0 <= step <= _STEP_MAX):
            step = _check_step(name, step)
        self._sink.metric(name, v, step, time.time() if timestamp is None else _seconds(timestamp))

    def _artifact(self, name: str, value: str, media_type: str | None, direction: str) -> None:
        if not isinstance(name, str) or not name:
            raise SpecError(
                f"artifact name must be a non-empty string, got {name!r}", field="name", value=name
            )
        if not isinstance(value, str | os.PathLike):
            raise SpecError(
                f"artifact {name!r} value={value!r} must be a string (a URI or a path), "
                f"not {type(value).__name__}",
                field="value",
                value=value,
            )
        _check_text(media_type, "media_type")
        self._sink.artifact(name, Artifact(os.fspath(value), media_type), direction)

    def _file(
        self,
        file_path: str | os.PathLike[str],
        name: str | None,
        media_type: str | None,
        direction: str,
    ) -> None:
        path = Path(file_path)
        if not path.is_file():
            raise SpecError(f"file_path={str(path)!r} must be an existing file", field="file_path")
        self._sink.file(name or path.name, path, media_type, direction)

    def flush(self) -> None:
        """Send buffered metric points now."""
        self._sink.flush()


# ---------------------------------------------------------------------------------------------
class Tracker(_Logger):
    """Logs parameters, artifacts and metrics of one trial component.

    ``Tracker.create(display_name=...)`` creates a component (use it as a context manager:
    status ``InProgress`` → ``Completed``/``Failed``). ``Tracker.load()`` inside a training job
    finds that job's component.
    """

    def __init__(
        self, trial_component_name: str, sink: _Sink, *, owns_status: bool = False
    ) -> None:
        self.trial_component_name = trial_component_name
        self._sink = sink
        self._owns_status = owns_status

    def __repr__(self) -> str:
        return f"Tracker(trial_component_name={self.trial_component_name!r})"

    @classmethod
    def create(
        cls,
        display_name: str | None = None,
        *,
        trial_component_name: str | None = None,
        trial_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        store: ExperimentStore | str | None = None,
    ) -> Tracker:
        _check_text(display_name, "display_name")
        _check_tags(tags)
        name = trial_component_name or generate_name(display_name or "TrialComponent")
        check_name(name, field="trial_component_name")
        s = _store(store)
        s.create_trial_component(
            name,
            display_name=display_name,
            trial_name=trial_name,
            status="InProgress",
            start_time=_now(),
            tags=tags,
        )
        return cls(name, _StoreSink(s, name), owns_status=True)

    @classmethod
    def load(
        cls,
        trial_component_name: str | None = None,
        *,
        store: ExperimentStore | str | None = None,
    ) -> Tracker:
        """Inside a job: the job's component. Elsewhere: the named component of ``store``."""
        directory = os.environ.get(TRACKING_DIR_ENV)
        if directory and store is None:
            name = trial_component_name or os.environ.get(COMPONENT_ENV) or "job"
            return cls(name, _FileSink(directory))
        name = trial_component_name or _component_from_env()
        s = _store(store)
        s.describe_trial_component(name)
        return cls(name, _StoreSink(s, name))

    @property
    def trial_component(self) -> TrialComponent:
        if not isinstance(self._sink, _StoreSink):
            raise TrackingError("inside a training job the tracker writes files only")
        self.flush()
        return TrialComponent.load(self.trial_component_name, store=self._sink.store)

    def log_input(self, name: str, value: str, media_type: str | None = None) -> None:
        self._artifact(name, value, media_type, "input")

    def log_output(self, name: str, value: str, media_type: str | None = None) -> None:
        self._artifact(name, value, media_type, "output")

    def log_artifact(
        self,
        file_path: str | os.PathLike[str],
        name: str | None = None,
        media_type: str | None = None,
    ) -> None:
        """Copy a local file into the store's artifact area; record it as an output."""
        self._file(file_path, name, media_type, "output")

    def close(self, *, status: str | None = None, message: str | None = None) -> None:
        if status is not None and status not in STATUSES:
            raise SpecError(
                f"status={status!r} must be one of {STATUSES}", field="status", value=status
            )
        _check_text(message, "message")
        self._sink.close()
        if status is not None and isinstance(self._sink, _StoreSink):
            self._sink.store.update_trial_component(
                self.trial_component_name,
                status=status,
                status_message=message,
                end_time=_now(),
            )

    def __enter__(self) -> Tracker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._owns_status:
            self.close()
            return
        self.close(
            status="Failed" if exc is not None else "Completed",
            message=None if exc is None else f"{type(exc).__name__}: {exc}"[:1024],
        )


def _component_from_env() -> str:
    name = os.environ.get(COMPONENT_ENV)
    if name:
        return name
    job = os.environ.get("TRAINING_JOB_NAME")  # set by SageMaker inside its training jobs
    if job:
        return f"{job}-aws-training-job"
    raise NotFoundError(
        f"no trial component to load: pass trial_component_name, or run inside a training "
        f"job ({COMPONENT_ENV} / TRAINING_JOB_NAME unset)"
    )


# ---------------------------------------------------------------------------------------------
def _run_group(experiment_name: str) -> str:
    return sanitize_name(f"Default-Run-Group-{experiment_name}")


#: SageMaker's Run keeps the experiment and run names to half a name each, so that
#: ``<experiment>-<run>`` and ``Default-Run-Group-<experiment>`` stay within 120 characters.
RUN_NAME_MAX = 59


def _run_component(experiment_name: str, run_name: str) -> str:
    for field, value in (("experiment_name", experiment_name), ("run_name", run_name)):
        if len(value) > RUN_NAME_MAX:
            raise SpecError(
                f"{field}={value!r} has {len(value)} characters; a run's {field} may have at "
                f"most {RUN_NAME_MAX} (SageMaker's rule: the run's trial component is named "
                f"'<experiment_name>-<run_name>', at most 120 characters)",
                field=field,
                value=value,
            )
    return f"{experiment_name}-{run_name}"


class Run(_Logger):
    """The run-style API: ``with Run(experiment_name=..., run_name=...) as run:``.

    Creates the experiment if missing, a run group trial ``Default-Run-Group-<experiment>``
    and a component ``<experiment>-<run>`` (reused if it exists).
    """

    def __init__(
        self,
        experiment_name: str,
        run_name: str | None = None,
        *,
        experiment_display_name: str | None = None,
        run_display_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        store: ExperimentStore | str | None = None,
        _sink: _Sink | None = None,
    ) -> None:
        check_name(experiment_name, field="experiment_name")
        self.experiment_name = experiment_name
        self.run_name = run_name or generate_name("Run")
        check_name(self.run_name, field="run_name")
        _check_text(experiment_display_name, "experiment_display_name")
        _check_text(run_display_name, "run_display_name")
        _check_tags(tags)
        self.trial_component_name = _run_component(experiment_name, self.run_name)
        self.run_group_name = _run_group(experiment_name)
        self._owns_status = _sink is None
        if _sink is not None:
            self._sink = _sink
            return
        s = _store(store)
        self._ensure(s, experiment_display_name, run_display_name, tags)
        self._sink = _StoreSink(s, self.trial_component_name)

    def _ensure(
        self,
        s: ExperimentStore,
        experiment_display_name: str | None,
        run_display_name: str | None,
        tags: Mapping[str, str] | None,
    ) -> None:
        _get_or_create_experiment(s, self.experiment_name, experiment_display_name)
        try:
            s.describe_trial(self.run_group_name)
        except NotFoundError:
            try:
                s.create_trial(self.run_group_name, experiment_name=self.experiment_name)
            except TrackingError:  # another process created it meanwhile
                s.describe_trial(self.run_group_name)
        try:
            s.describe_trial_component(self.trial_component_name)
        except NotFoundError:
            try:
                s.create_trial_component(
                    self.trial_component_name,
                    display_name=run_display_name or self.run_name,
                    trial_name=self.run_group_name,
                    tags=tags,
                )
                return
            except TrackingError:  # another process created it meanwhile
                pass
        # an existing component joins the run group, as SageMaker's Run does
        s.associate_trial_component(self.trial_component_name, self.run_group_name)

    def __repr__(self) -> str:
        return f"Run(experiment_name={self.experiment_name!r}, run_name={self.run_name!r})"

    def log_artifact(
        self, name: str, value: str, media_type: str | None = None, is_output: bool = True
    ) -> None:
        self._artifact(name, value, media_type, "output" if is_output else "input")

    def log_file(
        self,
        file_path: str | os.PathLike[str],
        name: str | None = None,
        media_type: str | None = None,
        is_output: bool = True,
    ) -> None:
        self._file(file_path, name, media_type, "output" if is_output else "input")

    def close(self) -> None:
        self._sink.close()

    def __enter__(self) -> Run:
        if self._owns_status and isinstance(self._sink, _StoreSink):
            self._sink.store.update_trial_component(
                self.trial_component_name, status="InProgress", start_time=_now()
            )
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._sink.close()
        if self._owns_status and isinstance(self._sink, _StoreSink):
            self._sink.store.update_trial_component(
                self.trial_component_name,
                status="Failed" if exc is not None else "Completed",
                status_message=None if exc is None else f"{type(exc).__name__}: {exc}"[:1024],
                end_time=_now(),
            )


def _get_or_create_experiment(
    s: ExperimentStore, name: str, display_name: str | None = None
) -> None:
    try:
        s.describe_experiment(name)
    except NotFoundError:
        try:
            s.create_experiment(name, display_name=display_name)
        except TrackingError:  # created meanwhile by someone else
            s.describe_experiment(name)


def load_run(
    experiment_name: str | None = None,
    run_name: str | None = None,
    *,
    store: ExperimentStore | str | None = None,
) -> Run:
    """Inside a training job: the job's run (files). Elsewhere: an existing run of ``store``."""
    directory = os.environ.get(TRACKING_DIR_ENV)
    if directory and store is None:
        experiment = experiment_name or os.environ.get(EXPERIMENT_ENV) or "job"
        run = Run.__new__(Run)
        run.experiment_name = experiment
        run.run_name = run_name or os.environ.get(COMPONENT_ENV) or "job"
        run.trial_component_name = os.environ.get(COMPONENT_ENV) or run.run_name
        run.run_group_name = os.environ.get(TRIAL_ENV) or _run_group(experiment)
        run._owns_status = False
        run._sink = _FileSink(directory)
        return run
    if experiment_name is None or run_name is None:
        raise SpecError(
            "load_run() outside a training job needs experiment_name and run_name",
            field="run_name",
        )
    s = _store(store)
    s.describe_trial_component(_run_component(experiment_name, run_name))
    return Run(
        experiment_name,
        run_name,
        store=s,
        _sink=_StoreSink(s, _run_component(experiment_name, run_name)),
    )
