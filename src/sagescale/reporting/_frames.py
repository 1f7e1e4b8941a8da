"""The DataFrame shapes the plots and reports read, checked once at the door.

Tuning analytics (one row per training job, SageMaker's ``HyperparameterTuningJobAnalytics``
columns): one column per tuned hyperparameter, ``TrainingJobName``, ``TrainingJobStatus``,
``FinalObjectiveValue``, ``TrainingStartTime``, ``TrainingEndTime``,
``TrainingElapsedTimeSeconds`` and, for multi-algorithm tuning, ``TrainingJobDefinitionName``.

Objective curves (long form, one row per reported value, ``TuningJobAnalytics.curves()``):
``TrainingJobName``, ``Epoch``, ``ObjectiveValue`` and optionally ``TrainingJobStatus``;
lower-case ``epoch`` (or ``step``) and ``value`` are accepted too.

Experiment analytics (SageMaker Experiments' ``ExperimentAnalytics`` columns):
``TrialComponentName``, ``DisplayName``, ``SourceArn``, one column per parameter,
``<metric> - Min/Max/Avg/StdDev/Last/Count``, ``Trials``, ``Experiments``.

Metric series (long form): ``TrialComponentName``, ``metric_name``, ``step``, ``timestamp``,
``value``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Literal, Protocol

from sagescale.errors import SpecError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "CURVE_COLUMNS",
    "METRIC_STATS",
    "SERIES_COLUMNS",
    "TUNING_COLUMNS",
    "ObjectiveType",
    "best_row",
    "check_objective_type",
    "curve_frame",
    "hyperparameter_columns",
    "metric_names",
    "parameter_columns",
    "require_columns",
    "series_frame",
    "start_order",
]

ObjectiveType = Literal["Minimize", "Maximize"]
TUNING_COLUMNS = (
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
    "TrainingJobDefinitionName",
)
CURVE_COLUMNS = ("TrainingJobName", "Epoch", "ObjectiveValue")
_CURVE_ALIASES = {"Epoch": "epoch", "Step": "step", "ObjectiveValue": "value"}
SERIES_COLUMNS = ("TrialComponentName", "metric_name", "step", "timestamp", "value")
METRIC_STATS = ("Min", "Max", "Avg", "StdDev", "Last", "Count")
_EXPERIMENT_FIXED = ("TrialComponentName", "DisplayName", "SourceArn", "Trials", "Experiments")


class MetricPointLike(Protocol):
    """What :func:`series_frame` reads from a logged point (``tracking.MetricPoint`` fits)."""

    @property
    def name(self) -> str: ...
    @property
    def value(self) -> float: ...
    @property
    def step(self) -> int | None: ...
    @property
    def timestamp(self) -> float: ...


def require_columns(df: pd.DataFrame, columns: Iterable[str], *, field: str) -> None:
    """Raise :class:`SpecError` naming the first missing column of ``df``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SpecError(
            f"{field} lacks column(s) {missing}; it has {list(map(str, df.columns))}",
            field=field,
            value=missing,
        )


def check_objective_type(objective_type: str) -> ObjectiveType:
    if objective_type == "Minimize":
        return "Minimize"
    if objective_type == "Maximize":
        return "Maximize"
    raise SpecError(
        f"objective_type={objective_type!r} must be 'Minimize' or 'Maximize'",
        field="objective_type",
        value=objective_type,
    )


def hyperparameter_columns(df: pd.DataFrame, chosen: Sequence[str] | None = None) -> list[str]:
    """The tuned hyperparameters: ``chosen``, or every column SageMaker does not add itself."""
    if chosen is not None:
        require_columns(df, chosen, field="hyperparameters")
        return list(chosen)
    return [str(c) for c in df.columns if c not in TUNING_COLUMNS and not str(c).startswith("_")]


def start_order(df: pd.DataFrame) -> pd.DataFrame:
    """Training jobs in the order they started (ties by name; never started last), index 0..n-1."""
    require_columns(df, ("TrainingJobName", "FinalObjectiveValue"), field="tuning dataframe")
    import pandas as pd

    out = df.copy()
    out["FinalObjectiveValue"] = pd.to_numeric(out["FinalObjectiveValue"], errors="coerce")
    if "TrainingStartTime" in out.columns:
        key = pd.to_datetime(out["TrainingStartTime"], errors="coerce", utc=True)
        out = out.assign(_start=key, _name=out["TrainingJobName"].astype(str))
        out = out.sort_values(["_start", "_name"], kind="stable", na_position="last")
        out = out.drop(columns=["_start", "_name"])
    result: pd.DataFrame = out.reset_index(drop=True)
    return result


def best_row(df: pd.DataFrame, objective_type: str) -> int | None:
    """Position of the best finite ``FinalObjectiveValue`` (first of ties), or ``None``."""
    import pandas as pd

    sign = 1.0 if check_objective_type(objective_type) == "Minimize" else -1.0
    values = pd.to_numeric(df["FinalObjectiveValue"], errors="coerce").tolist()
    ranked = [(sign * float(v), i) for i, v in enumerate(values) if math.isfinite(v)]
    return min(ranked)[1] if ranked else None


def curve_frame(curves: pd.DataFrame) -> pd.DataFrame:
    """The curves with ``Epoch``/``Step``/``ObjectiveValue`` read as ``epoch``/``step``/``value``;
    checks that ``TrainingJobName``, ``value`` and ``epoch`` or ``step`` are there."""
    rename = {k: v for k, v in _CURVE_ALIASES.items() if k in curves.columns and v not in curves}
    out: pd.DataFrame = curves.rename(columns=rename)
    require_columns(out, ("TrainingJobName", "value"), field="curves")
    if not any(c in out.columns and out[c].notna().any() for c in ("epoch", "step")):
        raise SpecError(
            f"curves needs an 'Epoch', 'epoch' or 'step' column; it has "
            f"{list(map(str, curves.columns))}",
            field="curves",
        )
    return out


def parameter_columns(df: pd.DataFrame) -> list[str]:
    """Experiment analytics columns that hold parameters (not fixed, metric or artifact)."""
    suffixes = tuple(f" - {s}" for s in (*METRIC_STATS, "MediaType", "Value"))
    return [
        str(c) for c in df.columns if c not in _EXPERIMENT_FIXED and not str(c).endswith(suffixes)
    ]


def metric_names(df: pd.DataFrame) -> list[str]:
    """Metric names of an experiment analytics table, in column order."""
    seen: dict[str, None] = {}
    for c in map(str, df.columns):
        head, sep, stat = c.rpartition(" - ")
        if sep and stat in METRIC_STATS:
            seen[head] = None
    return list(seen)


def series_frame(points: Mapping[str, Iterable[MetricPointLike]]) -> pd.DataFrame:
    """The metric-series long form from ``{trial component name: logged points}``.

    ``ExperimentStore.metric_series`` returns such points (``name``, ``value``, ``step``,
    ``timestamp``)."""
    import pandas as pd

    rows = [
        (component, p.name, p.step, p.timestamp, p.value)
        for component, series in points.items()
        for p in series
    ]
    frame: pd.DataFrame = pd.DataFrame.from_records(rows, columns=list(SERIES_COLUMNS))
    return frame
