"""MLflow as an experiment store (extra ``mlflow``).

Mapping: experiment → MLflow experiment; trial → parent run (tag ``sagescale.kind=trial``);
trial component → nested run (``mlflow.parentRunId`` = its first trial's run). Users who live
in MLflow (including SageMaker's managed MLflow: ``mlflow+arn:aws:sagemaker:...``) keep
their UI. A component created without a trial lives in the MLflow experiment
``sagescale-unassigned``; MLflow cannot move runs, so create components with ``trial_name``
to see them nested.

MLflow params cannot change once logged, while sagescale parameters follow SageMaker's
"last write wins"; so the typed, current value of each parameter lives in the tag
``sagescale.param.<name>`` and the first value is also logged as an MLflow param for the UI.
Artifacts (name, value, media type) live in ``sagescale.input.<name>`` /
``sagescale.output.<name>`` tags. A point logged without a step is stored at step 0
(MLflow requires a step) and MLflow keeps timestamps in milliseconds.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sagescale._imports import optional_import
from sagescale.errors import NotFoundError, SpecError, TrackingError
from sagescale.tracking._jobfiles import artifact_file_name
from sagescale.tracking._model import (
    Artifact,
    ExperimentRecord,
    MetricPoint,
    ParameterValue,
    TrialComponentRecord,
    TrialRecord,
    summarize,
)
from sagescale.tracking._names import check_name
from sagescale.tracking._store import ExperimentStore

__all__ = ["MLflowStore"]

UNASSIGNED = "sagescale-unassigned"
_P = "sagescale."
KIND, NAME, DISPLAY = f"{_P}kind", f"{_P}name", f"{_P}display_name"
TRIALS, CREATED, EXPERIMENT = f"{_P}trials", f"{_P}created", f"{_P}experiment"
STATUS, MESSAGE = f"{_P}status", f"{_P}status_message"
START, END = f"{_P}start_time", f"{_P}end_time"
SOURCE_ARN, SOURCE_TYPE = f"{_P}source_arn", f"{_P}source_type"
_TERMINAL = {"Completed": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}
_BATCH = 1000


def _as_stored(name: str, stored: str) -> str:
    return "" if stored == name else f" as {stored!r} (names are not case-sensitive)"


def _among(name: str, names: Sequence[str]) -> bool:
    return name.lower() in (n.lower() for n in names)


def _filter_safe(name: str) -> bool:
    """Whether ``name`` follows the name pattern, so it can sit inside a filter string's quotes
    (only such names are created here; any other name cannot exist)."""
    try:
        check_name(name)
    except SpecError:
        return False
    return True


def _user_tags(tags: Mapping[str, str]) -> dict[str, str]:
    return {k: v for k, v in tags.items() if not k.startswith((_P, "mlflow."))}


def _dt(value: str | float | None) -> datetime | None:
    if value is None or value == "":
        return None
    return datetime.fromtimestamp(float(value), tz=timezone.utc)


class MLflowStore(ExperimentStore):
    """Experiments in an MLflow tracking server or local MLflow store."""

    kind = "mlflow"

    def __init__(self, tracking_uri: str, *, artifact_location: str | None = None) -> None:
        mlflow = optional_import("mlflow", purpose="the MLflow experiment store")
        self.tracking_uri = tracking_uri
        self.client: Any = mlflow.MlflowClient(tracking_uri=tracking_uri)
        self._entities = optional_import("mlflow.entities", purpose="the MLflow store")
        self._exceptions = optional_import("mlflow.exceptions", purpose="the MLflow store")
        self.artifact_location = artifact_location
        self._runs: dict[tuple[str, str], str] = {}
        self._trial_experiments: dict[str, str] = {}
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        return f"MLflowStore({self.tracking_uri!r})"

    # lookups ------------------------------------------------------------------------------
    def _find_experiment(self, name: str) -> Any | None:
        """The active experiment named ``name`` or a name differing only in case (names are
        not case-sensitive, as in SageMaker; MLflow's are), or None."""
        exp = self.client.get_experiment_by_name(name)
        if exp is None and _filter_safe(name):
            similar = self.client.search_experiments(filter_string=f"name ILIKE '{name}'")
            exp = next((e for e in similar if e.name.lower() == name.lower()), None)
        return exp if exp is not None and exp.lifecycle_stage == "active" else None

    def _experiment(self, name: str) -> Any:
        exp = self._find_experiment(name)
        if exp is None:
            raise NotFoundError(f"experiment {name!r} does not exist")
        return exp

    def _all_experiment_ids(self) -> list[str]:
        return [e.experiment_id for e in self.client.search_experiments()]

    def _search(self, filter_string: str, experiment_ids: list[str] | None = None) -> Iterator[Any]:
        ids = experiment_ids if experiment_ids is not None else self._all_experiment_ids()
        token = None
        while ids:
            page = self.client.search_runs(
                ids, filter_string=filter_string, max_results=1000, page_token=token
            )
            yield from page
            token = page.token
            if not token:
                return

    def _run(self, kind: str, name: str) -> Any:
        """The run of the trial or trial component ``name`` (not case-sensitive)."""
        key = (kind, name.lower())
        with self._lock:
            run_id = self._runs.get(key)
        if run_id is not None:
            return self.client.get_run(run_id)
        what = "trial component" if kind == "component" else kind
        if not _filter_safe(name):
            raise NotFoundError(f"{what} {name!r} does not exist")
        runs = list(self._search(f"tags.`{KIND}` = '{kind}' AND tags.`{NAME}` = '{name}'"))
        if not runs:
            similar = self._search(f"tags.`{KIND}` = '{kind}' AND tags.`{NAME}` ILIKE '{name}'")
            runs = [r for r in similar if r.data.tags[NAME].lower() == name.lower()]
        if not runs:
            raise NotFoundError(f"{what} {name!r} does not exist")
        with self._lock:
            self._runs[key] = runs[0].info.run_id
        return runs[0]

    def _refuse_existing(self, kind: str, name: str) -> None:
        try:
            stored = self._run(kind, name).data.tags[NAME]
        except NotFoundError:
            return
        what = "trial component" if kind == "component" else kind
        raise TrackingError(f"{what} {name!r} already exists{_as_stored(name, stored)}")

    # experiments --------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ExperimentRecord:
        found = self._find_experiment(name) or self.client.get_experiment_by_name(name)
        if found is not None:
            raise TrackingError(f"experiment {name!r} already exists{_as_stored(name, found.name)}")
        all_tags = {**(tags or {}), DISPLAY: display_name or name, CREATED: repr(time.time())}
        if description:
            all_tags["mlflow.note.content"] = description
        self.client.create_experiment(
            name, artifact_location=self._artifact_location(name), tags=all_tags
        )
        return self.describe_experiment(name)

    def _artifact_location(self, name: str) -> str | None:
        if self.artifact_location is None:
            return None
        return f"{self.artifact_location.rstrip('/')}/{name}"

    def _experiment_record(self, exp: Any) -> ExperimentRecord:
        tags = dict(exp.tags)
        return ExperimentRecord(
            name=exp.name,
            display_name=tags.get(DISPLAY, exp.name),
            description=tags.get("mlflow.note.content"),
            tags=_user_tags(tags),
            creation_time=_dt(tags.get(CREATED)),
        )

    def describe_experiment(self, name: str) -> ExperimentRecord:
        return self._experiment_record(self._experiment(name))

    def list_experiments(self) -> list[ExperimentRecord]:
        exps = [e for e in self.client.search_experiments() if CREATED in e.tags]
        exps = [e for e in exps if e.name != UNASSIGNED]
        exps.sort(key=lambda e: float(e.tags[CREATED]))
        return [self._experiment_record(e) for e in exps]

    # trials -------------------------------------------------------------------------------
    def create_trial(
        self,
        name: str,
        *,
        experiment_name: str,
        display_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialRecord:
        check_name(name, field="trial_name")
        exp = self._experiment(experiment_name)
        self._refuse_existing("trial", name)
        run = self.client.create_run(
            exp.experiment_id,
            run_name=name,
            tags={
                **(tags or {}),
                KIND: "trial",
                NAME: name,
                DISPLAY: display_name or name,
                EXPERIMENT: exp.name,
                CREATED: repr(time.time()),
            },
        )
        with self._lock:
            self._runs[("trial", name)] = run.info.run_id
        return self.describe_trial(name)

    def _trial_record(self, run: Any) -> TrialRecord:
        tags = run.data.tags
        return TrialRecord(
            name=tags[NAME],
            experiment_name=tags[EXPERIMENT],
            display_name=tags.get(DISPLAY, tags[NAME]),
            tags=_user_tags(tags),
            creation_time=_dt(tags.get(CREATED)),
        )

    def describe_trial(self, name: str) -> TrialRecord:
        return self._trial_record(self._run("trial", name))

    def list_trials(
        self, *, experiment_name: str | None = None, trial_component_name: str | None = None
    ) -> list[TrialRecord]:
        ids = None
        if experiment_name is not None:
            exp = self._find_experiment(experiment_name)
            if exp is None:
                return []  # listing filters on a missing name give nothing, as elsewhere
            ids = [exp.experiment_id]
        runs = list(self._search(f"tags.`{KIND}` = 'trial'", ids))
        if trial_component_name is not None:
            of = self._trials_of(self._run("component", trial_component_name))
            wanted = {t.lower() for t in of}
            runs = [r for r in runs if r.data.tags[NAME].lower() in wanted]
        runs.sort(key=lambda r: float(r.data.tags.get(CREATED, 0)))
        return [self._trial_record(r) for r in runs]

    # trial components ---------------------------------------------------------------------
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
        check_name(name, field="trial_component_name")
        parent = None if trial_name is None else self._run("trial", trial_name)
        self._refuse_existing("component", name)
        exp_id = parent.info.experiment_id if parent is not None else self._unassigned()
        all_tags = {
            **(tags or {}),
            KIND: "component",
            NAME: name,
            DISPLAY: display_name or name,
            CREATED: repr(time.time()),
            TRIALS: json.dumps([] if parent is None else [parent.data.tags[NAME]]),
        }
        optional = {STATUS: status, SOURCE_ARN: source_arn, SOURCE_TYPE: source_type}
        all_tags.update({k: v for k, v in optional.items() if v})
        if start_time is not None:
            all_tags[START] = repr(start_time.timestamp())
        if parent is not None:
            all_tags["mlflow.parentRunId"] = parent.info.run_id
        run = self.client.create_run(exp_id, run_name=name, tags=all_tags)
        with self._lock:
            self._runs[("component", name)] = run.info.run_id
        return self.describe_trial_component(name)

    def _unassigned(self) -> str:
        exp = self.client.get_experiment_by_name(UNASSIGNED)
        if exp is not None:
            return str(exp.experiment_id)
        return str(
            self.client.create_experiment(
                UNASSIGNED, artifact_location=self._artifact_location(UNASSIGNED)
            )
        )

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
        run = self._run("component", name)
        tags = {STATUS: status, MESSAGE: status_message}
        tags[START] = None if start_time is None else repr(start_time.timestamp())
        tags[END] = None if end_time is None else repr(end_time.timestamp())
        for k, v in (parameters or {}).items():
            tags[f"{_P}param.{k}"] = json.dumps(v)
        for side, artifacts in (("input", input_artifacts), ("output", output_artifacts)):
            for k, a in (artifacts or {}).items():
                tags[f"{_P}{side}.{k}"] = json.dumps({"value": a.value, "media_type": a.media_type})
        entities = self._entities
        params = [
            entities.Param(k, str(v))
            for k, v in (parameters or {}).items()
            if k not in run.data.params
        ]
        self.client.log_batch(
            run.info.run_id,
            params=params,
            tags=[entities.RunTag(k, v) for k, v in tags.items() if v is not None],
        )
        if status in _TERMINAL:
            end = None if end_time is None else int(end_time.timestamp() * 1000)
            self.client.set_terminated(run.info.run_id, _TERMINAL[status], end_time=end)

    @staticmethod
    def _trials_of(run: Any) -> list[str]:
        return list(json.loads(run.data.tags.get(TRIALS, "[]")))

    def _component_record(self, run: Any) -> TrialComponentRecord:
        tags = run.data.tags
        trials = self._trials_of(run)
        params: dict[str, ParameterValue] = {}
        inputs: dict[str, Artifact] = {}
        outputs: dict[str, Artifact] = {}
        for k, v in tags.items():
            if k.startswith(f"{_P}param."):
                params[k[len(_P) + 6 :]] = json.loads(v)
            elif k.startswith((f"{_P}input.", f"{_P}output.")):
                side, _, art = k[len(_P) :].partition(".")
                data = json.loads(v)
                (inputs if side == "input" else outputs)[art] = Artifact(
                    data["value"], data.get("media_type")
                )
        experiments = [self._experiment_of_trial(t) for t in trials]
        return TrialComponentRecord(
            name=tags[NAME],
            display_name=tags.get(DISPLAY, tags[NAME]),
            status=tags.get(STATUS),
            status_message=tags.get(MESSAGE),
            start_time=_dt(tags.get(START)),
            end_time=_dt(tags.get(END)),
            creation_time=_dt(tags.get(CREATED)),
            source_arn=tags.get(SOURCE_ARN),
            source_type=tags.get(SOURCE_TYPE),
            parameters=params,
            input_artifacts=inputs,
            output_artifacts=outputs,
            metrics={
                key: summarize(key, (p.value for p in self._history(run.info.run_id, key)))
                for key in run.data.metrics
            },
            tags=_user_tags(tags),
            trial_names=tuple(trials),
            experiment_names=tuple(dict.fromkeys(experiments)),
        )

    def _experiment_of_trial(self, trial: str) -> str:
        """A trial's experiment never changes: cached."""
        with self._lock:
            known = self._trial_experiments.get(trial)
        if known is None:
            known = self.describe_trial(trial).experiment_name
            with self._lock:
                self._trial_experiments[trial] = known
        return known

    def describe_trial_component(self, name: str) -> TrialComponentRecord:
        return self._component_record(self._run("component", name))

    def list_trial_components(
        self, *, experiment_name: str | None = None, trial_name: str | None = None
    ) -> list[TrialComponentRecord]:
        component = f"tags.`{KIND}` = 'component'"
        if trial_name is not None or experiment_name is not None:
            trials = (
                [trial_name]
                if trial_name is not None
                else [t.name for t in self.list_trials(experiment_name=experiment_name)]
            )
            found = {
                r.info.run_id: r
                for t in trials
                if _filter_safe(t)  # names follow NAME_PATTERN: safe inside the quotes
                for r in self._search(f"{component} AND tags.`{TRIALS}` ILIKE '%\"{t}\"%'")
            }
            runs = list(found.values())
        else:
            runs = list(self._search(component))
        runs.sort(key=lambda r: float(r.data.tags.get(CREATED, 0)))
        records = [self._component_record(r) for r in runs]
        if trial_name is not None:
            records = [r for r in records if _among(trial_name, r.trial_names)]
        if experiment_name is not None:
            records = [r for r in records if _among(experiment_name, r.experiment_names)]
        return records

    def associate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        run = self._run("component", trial_component_name)
        trial = self._run("trial", trial_name)
        trials = self._trials_of(run)
        if _among(trial_name, trials):
            return
        stored = trial.data.tags[NAME]
        self.client.set_tag(run.info.run_id, TRIALS, json.dumps([*trials, stored]))
        same_experiment = trial.info.experiment_id == run.info.experiment_id
        if "mlflow.parentRunId" not in run.data.tags and same_experiment:
            self.client.set_tag(run.info.run_id, "mlflow.parentRunId", trial.info.run_id)

    # metrics ------------------------------------------------------------------------------
    def log_metrics(self, trial_component_name: str, points: Sequence[MetricPoint]) -> None:
        run_id = self._run("component", trial_component_name).info.run_id
        metric = self._entities.Metric
        for start in range(0, len(points), _BATCH):
            batch = [
                metric(p.name, p.value, int(p.timestamp * 1000), 0 if p.step is None else p.step)
                for p in points[start : start + _BATCH]
            ]
            self.client.log_batch(run_id, metrics=batch)

    def _history(self, run_id: str, key: str) -> list[MetricPoint]:
        history = self.client.get_metric_history(run_id, key)
        ordered = sorted(history, key=lambda m: (m.timestamp, m.step))
        return [
            MetricPoint(key, _from_mlflow(m.value), int(m.step), m.timestamp / 1000)
            for m in ordered
        ]

    def metric_series(self, trial_component_name: str, metric_name: str) -> list[MetricPoint]:
        return self._history(self._run("component", trial_component_name).info.run_id, metric_name)

    # artifacts ----------------------------------------------------------------------------
    def store_artifact_file(self, trial_component_name: str, path: Path, name: str) -> str:
        run = self._run("component", trial_component_name)
        file_name = artifact_file_name(name)
        with tempfile.TemporaryDirectory() as tmp:
            staged = Path(tmp) / file_name
            shutil.copyfile(path, staged)
            self.client.log_artifact(run.info.run_id, str(staged))
        return f"{run.info.artifact_uri.rstrip('/')}/{file_name}"


def _from_mlflow(value: float) -> float:
    """MLflow's SQL stores keep +/-inf as +/-the largest float: read them back as infinities."""
    number = float(value)
    return math.copysign(math.inf, number) if abs(number) == sys.float_info.max else number
