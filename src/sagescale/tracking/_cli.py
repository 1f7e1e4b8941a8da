"""``sagescale experiments``: list | show NAME | compare NAME | export NAME | lineage URI.

The lead mounts :data:`experiments_app` on the main CLI; every command takes ``--store``
(a store URI; default ``SAGESCALE_TRACKING_URI``, then the workspace database).
"""

from __future__ import annotations

import json
import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sagescale.errors import NotFoundError, SageScaleError, SpecError

if TYPE_CHECKING:
    import pandas as pd

    from sagescale.tracking._store import ExperimentStore

__all__ = ["experiments_app"]

experiments_app = typer.Typer(
    name="experiments",
    help="Experiments, trials and trial components: list, inspect, compare, export, lineage.",
    no_args_is_help=True,
)

StoreOpt = Annotated[
    str | None,
    typer.Option("--store", help="store URI (sqlite:///..., sagemaker://, mlflow+<uri>)"),
]


class ExportFormat(str, Enum):
    csv = "csv"
    parquet = "parquet"


def _store(uri: str | None) -> ExperimentStore:
    from sagescale.tracking._store import get_store

    return get_store(uri)


def _fail(exc: Exception) -> typer.Exit:
    """Exit 2 for bad input (a SpecError), 1 for anything else, as every sagescale command."""
    typer.echo(f"error: {exc}", err=True)
    return typer.Exit(code=2 if isinstance(exc, SpecError) else 1)


def _console() -> Any:
    from rich.console import Console

    return Console(width=200, soft_wrap=True)


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return "" if math.isnan(value) else f"{value:.6g}"
    if isinstance(value, list | tuple):
        return ",".join(str(v) for v in value)
    return "" if value is None else str(value)


def _print_frame(df: pd.DataFrame, title: str) -> None:
    from rich.table import Table

    table = Table(title=title)
    for col in df.columns:
        table.add_column(str(col))
    for row in df.itertuples(index=False):
        table.add_row(*(_fmt(v) for v in row))
    _console().print(table)


@experiments_app.command("list")
def list_experiments(store: StoreOpt = None) -> None:
    """List experiments with their number of trials."""
    from rich.table import Table

    try:
        s = _store(store)
        table = Table(title="Experiments")
        for col in ("Name", "DisplayName", "Trials", "Created"):
            table.add_column(col)
        for e in s.list_experiments():
            created = e.creation_time.isoformat(timespec="seconds") if e.creation_time else ""
            trials = len(s.list_trials(experiment_name=e.name))
            table.add_row(e.name, e.display_name, str(trials), created)
    except SageScaleError as exc:
        raise _fail(exc) from exc
    _console().print(table)


@experiments_app.command("show")
def show(name: str, store: StoreOpt = None) -> None:
    """Show an experiment: its trials and trial components."""
    from rich.table import Table

    try:
        s = _store(store)
        exp = s.describe_experiment(name)
        trials = s.list_trials(experiment_name=name)
        components = s.list_trial_components(experiment_name=name)
    except SageScaleError as exc:
        raise _fail(exc) from exc
    console = _console()
    console.print(f"Experiment {exp.name} ({exp.display_name})")
    if exp.description:
        console.print(exp.description)
    console.print(f"Trials: {', '.join(t.name for t in trials) or '-'}")
    table = Table(title="Trial components")
    for col in ("TrialComponentName", "Status", "Trials", "Parameters", "Metrics (last)"):
        table.add_column(col)
    for c in components:
        metrics = ", ".join(f"{k}={_fmt(m.last)}" for k, m in c.metrics.items())
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in c.parameters.items())
        table.add_row(c.name, c.status or "", ",".join(c.trial_names), params, metrics)
    console.print(table)


def _frame(
    s: ExperimentStore,
    name: str,
    *,
    metrics: list[str] | None = None,
    params: list[str] | None = None,
    search: str | None = None,
    sort_by: str | None = None,
    descending: bool = False,
) -> pd.DataFrame:
    from sagescale.tracking._analytics import ExperimentAnalytics

    try:
        expression = json.loads(search) if search else None
    except ValueError as exc:
        raise SpecError(
            f"--search {search!r} is not JSON ({exc}): give a SageMaker search expression "
            f"such as '{{\"Filters\": [...]}}'",
            field="search",
            value=search,
        ) from None
    s.describe_experiment(name)  # NotFoundError rather than an empty table
    return ExperimentAnalytics(
        name,
        search_expression=expression,
        sort_by=sort_by,
        sort_order="Descending" if descending else "Ascending",
        parameter_names=params or None,
        metric_names=metrics or None,
        store=s,
    ).dataframe()


@experiments_app.command("compare")
def compare(
    name: str,
    metric: Annotated[list[str] | None, typer.Option(help="metric to show (repeat)")] = None,
    param: Annotated[list[str] | None, typer.Option(help="parameter to show (repeat)")] = None,
    stat: Annotated[str, typer.Option(help="metric statistic: Min Max Avg StdDev Last Count")] = (
        "Last"
    ),
    search: Annotated[str | None, typer.Option(help="SageMaker search expression (JSON)")] = None,
    sort_by: Annotated[str | None, typer.Option(help="e.g. Metrics.loss.Min")] = None,
    descending: bool = False,
    store: StoreOpt = None,
) -> None:
    """Compare the trial components of an experiment side by side."""
    from sagescale.tracking._analytics import METRIC_STATS

    try:
        if stat not in METRIC_STATS:
            raise SpecError(
                f"--stat {stat!r} must be one of {', '.join(METRIC_STATS)}",
                field="stat",
                value=stat,
            )
        df = _frame(
            _store(store),
            name,
            metrics=metric,
            params=param,
            search=search,
            sort_by=sort_by,
            descending=descending,
        )
    except SageScaleError as exc:
        raise _fail(exc) from exc
    metric_cols = [c for c in df.columns if str(c).endswith(f" - {stat}")]
    fixed = {"TrialComponentName", "DisplayName", "SourceArn", "Trials", "Experiments"}
    param_cols = [c for c in df.columns if " - " not in str(c) and c not in fixed]
    _print_frame(df[["TrialComponentName", *param_cols, *metric_cols]], f"Compare {name}")


@experiments_app.command("export")
def export(
    name: str,
    format: Annotated[ExportFormat, typer.Option("--format", "-f")] = ExportFormat.csv,
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
    store: StoreOpt = None,
) -> None:
    """Export an experiment's analytics table (SageMaker's columns) as CSV or Parquet."""
    try:
        df = _frame(_store(store), name)
    except SageScaleError as exc:
        raise _fail(exc) from exc
    for col in ("Trials", "Experiments"):
        df[col] = df[col].map(lambda v: ",".join(v))
    target = output or Path(f"{name}.{format.value}")
    if format is ExportFormat.csv:
        df.to_csv(target, index=False)
    else:
        try:
            _as_one_type(df).to_parquet(target, index=False)
        except ImportError as exc:
            raise _fail(ImportError("parquet export needs pyarrow: pip install pyarrow")) from exc
    typer.echo(f"wrote {len(df)} rows to {target}")


def _as_one_type(df: pd.DataFrame) -> pd.DataFrame:
    """Parquet needs one type per column: a parameter that is a number in one component and
    text in another (a tracker's 3.0, a job's "auto") becomes text; missing stays missing."""

    def missing(value: object) -> bool:
        return value is None or (isinstance(value, float) and math.isnan(value))

    out: pd.DataFrame = df.copy()
    for col in out.columns:
        kinds = {isinstance(v, str) for v in out[col] if not missing(v)}
        if kinds == {True, False}:
            out[col] = [None if missing(v) else str(v) for v in out[col]]
    return out


@experiments_app.command("lineage")
def lineage(
    uri: str,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    store: StoreOpt = None,
) -> None:
    """Lineage of a model artifact URI, or the models trained on a data set URI."""
    from sagescale.tracking._lineage import model_lineage, models_trained_on

    try:
        s = _store(store)
        try:
            found = [model_lineage(uri, store=s)]
            direction = "model"
        except NotFoundError:
            found = models_trained_on(uri, store=s)
            direction = "dataset"
    except SageScaleError as exc:
        raise _fail(exc) from exc
    if not found:
        raise _fail(NotFoundError(f"{uri!r} is neither a tracked model nor a training input"))
    if as_json:
        typer.echo(json.dumps([f.as_dict() for f in found], indent=2, default=str))
        return
    console = _console()
    if direction == "dataset":
        console.print(f"Models trained on {uri}:")
    for item in found:
        console.print(f"model {item.model_artifact}")
        console.print(f"  trial component : {item.trial_component_name} ({item.status})")
        console.print(f"  training job    : {item.training_job_name or '-'}")
        console.print(f"  tuning job      : {item.tuning_job_name or '-'}")
        for k, v in item.input_data.items():
            console.print(f"  input {k:<10}: {v}")
        for k, v in item.code.items():
            console.print(f"  code  {k}: {v}")
        params = ", ".join(f"{k}={v}" for k, v in item.hyperparameters.items())
        console.print(f"  hyperparameters : {params}")
