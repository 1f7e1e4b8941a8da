"""ExperimentAnalytics: trial components as a pandas DataFrame with SageMaker's columns."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from sagescale.errors import SpecError
from sagescale.tracking._model import TrialComponentRecord
from sagescale.tracking._search import parse_expression

if TYPE_CHECKING:
    import pandas as pd

    from sagescale.tracking._store import ExperimentStore

__all__ = ["METRIC_STATS", "ExperimentAnalytics", "search_trial_components"]

METRIC_STATS = ("Min", "Max", "Avg", "StdDev", "Last", "Count")
_SORT_ORDERS = ("Ascending", "Descending")


def search_trial_components(
    store: ExperimentStore,
    *,
    experiment_name: str | None = None,
    search_expression: Mapping[str, Any] | None = None,
) -> list[TrialComponentRecord]:
    """Components of an experiment (or all) that match a SageMaker-style search expression.

    The store evaluates it: SQLite compiles it to SQL with bound values, SageMaker sends it
    to its ``Search`` API, others filter their records."""
    if search_expression is not None:
        parse_expression(search_expression)  # the same SpecError for every store
    return store.search_trial_components(search_expression, experiment_name=experiment_name)


def _check_names(field: str, names: object) -> None:
    """``None`` or a list of strings (a bare string would be read letter by letter)."""
    if names is None:
        return
    if isinstance(names, str) or not isinstance(names, Sequence):
        raise SpecError(f"{field}={names!r} must be a list of names", field=field, value=names)
    if not all(isinstance(n, str) for n in names):
        raise SpecError(f"{field}={names!r} must hold strings only", field=field, value=names)


def _sortable(column: pd.Series) -> pd.Series:
    """A parameter column may mix numbers and strings (a job's hyperparameter "3", a
    tracker's 3.0): numbers, and strings that read as numbers, sort by value before the other
    strings; missing values stay missing (sorted last)."""
    import math

    def rank(value: object) -> object:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, int | float):
            return (0, float(value), "")
        try:
            return (0, float(str(value)), str(value))
        except ValueError:
            return (1, 0.0, str(value))

    return column.map(rank)


class ExperimentAnalytics:
    """``ExperimentAnalytics(experiment_name=...).dataframe()``, as in the SageMaker SDK.

    Columns: ``TrialComponentName``, ``DisplayName``, ``SourceArn``, one column per parameter,
    ``<metric> - Min/Max/Avg/StdDev/Last/Count``, ``<artifact> - MediaType/Value`` for input
    then output artifacts, ``Trials``, ``Experiments``.
    """

    def __init__(
        self,
        experiment_name: str | None = None,
        *,
        search_expression: Mapping[str, Any] | None = None,
        sort_by: str | None = None,
        sort_order: str | None = None,
        parameter_names: Sequence[str] | None = None,
        metric_names: Sequence[str] | None = None,
        input_artifact_names: Sequence[str] | None = None,
        output_artifact_names: Sequence[str] | None = None,
        store: ExperimentStore | str | None = None,
    ) -> None:
        if experiment_name is None and search_expression is None:
            raise SpecError(
                "ExperimentAnalytics needs experiment_name or search_expression",
                field="experiment_name",
            )
        if sort_by is not None and not isinstance(sort_by, str):
            raise SpecError(f"sort_by={sort_by!r} must be a string", field="sort_by", value=sort_by)
        for field, names in (
            ("parameter_names", parameter_names),
            ("metric_names", metric_names),
            ("input_artifact_names", input_artifact_names),
            ("output_artifact_names", output_artifact_names),
        ):
            _check_names(field, names)
        if sort_order is not None and sort_order not in _SORT_ORDERS:
            raise SpecError(
                f"sort_order={sort_order!r} must be one of {_SORT_ORDERS}", field="sort_order"
            )
        if search_expression is not None:
            parse_expression(search_expression)  # fail early
        from sagescale.tracking._store import get_store

        self.store = get_store(store)
        self.experiment_name = experiment_name
        self.search_expression = search_expression
        self.sort_by = sort_by
        self.sort_order = sort_order or "Ascending"
        self.parameter_names = parameter_names
        self.metric_names = metric_names
        self.input_artifact_names = input_artifact_names
        self.output_artifact_names = output_artifact_names
        self._df: pd.DataFrame | None = None
        self._chosen: dict[str, list[str]] = {}

    def trial_components(self) -> list[TrialComponentRecord]:
        return search_trial_components(
            self.store,
            experiment_name=self.experiment_name,
            search_expression=self.search_expression,
        )

    def dataframe(self, force_refresh: bool = False) -> pd.DataFrame:
        """The table (cached; ``force_refresh=True`` reads the store again)."""
        if self._df is None or force_refresh:
            self._df = self._build(self.trial_components())
        return self._df

    def _repr_html_(self) -> str:
        """The notebook view: the trial components with their parameters and metrics."""
        from sagescale.reporting import analytics_html

        return analytics_html(self.dataframe())

    def _build(self, records: list[TrialComponentRecord]) -> pd.DataFrame:
        import pandas as pd

        columns = self._columns(records)
        rows = [self._row(r) for r in records]
        df = pd.DataFrame.from_records(rows, columns=[*columns, "_created"])
        hidden = ["_created"]
        if self.sort_by:
            key = self._sort_column(self.sort_by)
            if key not in df.columns:  # a parameter or metric left out of the columns
                values = [self._sort_value(r) for r in records]
                if all(v is None for v in values):
                    raise SpecError(
                        f"sort_by={self.sort_by!r} names no column of the table",
                        field="sort_by",
                    )
                df["_sort"], key = pd.Series(values, index=df.index, dtype=object), "_sort"
                hidden.append(key)
            df = df.sort_values(
                key,
                ascending=self.sort_order == "Ascending",
                kind="stable",
                na_position="last",
                key=_sortable if df[key].dtype == object else None,
            )
        result: pd.DataFrame = df.drop(columns=hidden).reset_index(drop=True)
        return result

    def _sort_value(self, r: TrialComponentRecord) -> object:
        """The value ``sort_by`` names for one component (``None`` when it has none)."""
        head, _, rest = str(self.sort_by).partition(".")
        if head == "Parameters":
            return r.parameters.get(rest)
        if head == "Metrics" and "." in rest:
            metric, _, stat = rest.rpartition(".")
            summary = r.metrics.get(metric)
            if summary is not None and stat in METRIC_STATS:
                s = summary
                values = (s.min, s.max, s.avg, s.std_dev, s.last, float(s.count))
                return dict(zip(METRIC_STATS, values, strict=True))[stat]
        return None

    @staticmethod
    def _sort_column(sort_by: str) -> str:
        fixed = {"Name": "TrialComponentName", "CreationTime": "_created"}
        if sort_by in fixed:
            return fixed[sort_by]
        head, _, rest = sort_by.partition(".")
        if head == "Parameters":
            return rest
        if head == "Metrics" and "." in rest:
            metric, _, stat = rest.rpartition(".")
            return f"{metric} - {stat}"
        return sort_by

    def _names(self, records: list[TrialComponentRecord]) -> dict[str, list[str]]:
        def collect(attr: str, chosen: Sequence[str] | None) -> list[str]:
            if chosen is not None:
                return list(chosen)
            seen: dict[str, None] = {}
            for r in records:
                seen.update(dict.fromkeys(getattr(r, attr)))
            return list(seen)

        return {
            "parameters": collect("parameters", self.parameter_names),
            "metrics": collect("metrics", self.metric_names),
            "input_artifacts": collect("input_artifacts", self.input_artifact_names),
            "output_artifacts": collect("output_artifacts", self.output_artifact_names),
        }

    def _columns(self, records: list[TrialComponentRecord]) -> list[str]:
        self._chosen = names = self._names(records)
        cols = ["TrialComponentName", "DisplayName", "SourceArn", *names["parameters"]]
        cols += [f"{m} - {s}" for m in names["metrics"] for s in METRIC_STATS]
        for side in ("input_artifacts", "output_artifacts"):
            cols += [
                f"{self._label(a, side)} - {k}" for a in names[side] for k in ("MediaType", "Value")
            ]
        return [*cols, "Trials", "Experiments"]

    def _label(self, artifact: str, side: str) -> str:
        """An input artifact named like an output one (a base model in, the tuned model out)
        gets ``(input)`` in its columns; the plain columns are the output's, as SageMaker's."""
        both = side == "input_artifacts" and artifact in self._chosen["output_artifacts"]
        return f"{artifact} (input)" if both else artifact

    def _row(self, r: TrialComponentRecord) -> dict[str, Any]:
        names = self._chosen
        row: dict[str, Any] = {
            "TrialComponentName": r.name,
            "DisplayName": r.display_name,
            "SourceArn": r.source_arn,
            "Trials": list(r.trial_names),
            "Experiments": list(r.experiment_names),
            "_created": r.creation_time,
        }
        for p in names["parameters"]:
            row[p] = r.parameters.get(p)
        for m in names["metrics"]:
            s = r.metrics.get(m)
            if s is not None:
                values = (s.min, s.max, s.avg, s.std_dev, s.last, s.count)
                row.update({f"{m} - {k}": v for k, v in zip(METRIC_STATS, values, strict=True)})
        for side in ("input_artifacts", "output_artifacts"):
            artifacts = getattr(r, side)
            for a in names[side]:
                if a in artifacts:
                    label = self._label(a, side)
                    row[f"{label} - MediaType"] = artifacts[a].media_type
                    row[f"{label} - Value"] = artifacts[a].value
        return row
