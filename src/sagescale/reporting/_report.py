"""Self-contained HTML reports of a tuning job and of an experiment, and notebook snippets."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sagescale.reporting._frames import (
    TUNING_COLUMNS,
    best_row,
    check_objective_type,
    hyperparameter_columns,
    metric_names,
    parameter_columns,
    require_columns,
    start_order,
)
from sagescale.reporting._html import (
    chart_html,
    check_chart_format,
    escape,
    key_value_table,
    page,
    snippet,
    table_html,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.figure import Figure

    from sagescale.reporting._axes import RangeLike
    from sagescale.reporting._html import ChartFormat

__all__ = [
    "analytics_html",
    "experiment_report",
    "save_tuning_plots",
    "tuning_report",
    "tuning_results_html",
]

_SHOWN_STATS = ("Min", "Max", "Avg", "Last")
_JOB_COLUMNS = [c for c in TUNING_COLUMNS if c != "TrainingEndTime"]


def _write(text: str, path: str | Path | None) -> str:
    if path is not None:
        out = Path(path)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text, encoding="utf-8")
    return text


def _charts(makers: Sequence[tuple[str, Callable[[], Figure]]], chart_format: ChartFormat) -> str:
    """Each chart drawn, embedded, and its Figure closed (freed) right away."""
    parts = []
    for caption, make in makers:
        fig = make()
        parts.append(chart_html(fig, caption=caption, chart_format=chart_format))
        fig.clear()
    return f'<div class="charts">{"".join(parts)}</div>'


def _job_columns(jobs: pd.DataFrame, names: list[str]) -> list[str]:
    fixed = [c for c in _JOB_COLUMNS if c in jobs.columns]
    return [*fixed[:3], *names, *fixed[3:]]


# ---------------------------------------------------------------------------------------------
def tuning_report(
    df: pd.DataFrame,
    path: str | Path | None = None,
    *,
    tuning_job_name: str = "tuning job",
    objective_name: str | None = None,
    objective_type: str = "Minimize",
    curves: pd.DataFrame | None = None,
    hyperparameters: Sequence[str] | None = None,
    ranges: Mapping[str, RangeLike] | None = None,
    summary: Mapping[str, object] | None = None,
    job_name: str | None = None,
    chart_format: str = "svg",
) -> str:
    """One HTML page for a tuning job; written to ``path`` if given, and returned.

    Sections: a summary (``summary`` adds rows such as strategy or status), the charts
    (objective per job with best so far, parallel coordinates, per-epoch curves when
    ``curves`` is given), the training jobs (sortable, best highlighted, names linked to
    their details), the hyperparameters of ``job_name`` (default: the best job) and a
    collapsible block per training job."""
    kind = check_objective_type(objective_type)
    fmt = check_chart_format(chart_format)

    jobs = start_order(df)
    names = hyperparameter_columns(jobs, hyperparameters)
    best = best_row(jobs, kind)
    metric = objective_name or "objective"
    makers = _tuning_charts(jobs, names, kind, metric, curves, ranges)
    sections = [
        ("summary", "Summary", key_value_table(_tuning_summary(jobs, best, kind, metric, summary))),
        ("charts", "Charts", _charts([(c, m) for c, _, m in makers], fmt)),
        (
            "training-jobs",
            f"Training jobs ({len(jobs)})",
            table_html(
                jobs,
                columns=_job_columns(jobs, names),
                highlight=best,
                table_id="jobs",
                link_prefix="job-",
            ),
        ),
        _job_section(jobs, names, job_name, best),
        ("job-details", "Every training job", _every_job(jobs, names, best)),
    ]
    subtitle = f"objective {metric} ({kind}) · {len(jobs)} training jobs"
    return _write(page(f"Tuning job {tuning_job_name}", subtitle, sections), path)


Maker = tuple[str, str, "Callable[[], Figure]"]


def _tuning_charts(
    jobs: pd.DataFrame,
    names: list[str],
    kind: str,
    metric: str,
    curves: pd.DataFrame | None,
    ranges: Mapping[str, RangeLike] | None,
) -> list[Maker]:
    """(caption, file stem, drawing function) of each chart of a tuning job."""
    from sagescale.reporting import _plots

    opts = {"objective_type": kind, "objective_name": metric}
    makers: list[Maker] = [
        (
            f"{metric} per training job",
            "objective",
            lambda: _plots.plot_tuning_objective(jobs, **opts),
        )
    ]
    if names:
        makers.append(
            (
                "hyperparameters (parallel coordinates)",
                "parallel_coordinates",
                lambda: _plots.plot_parallel_coordinates(
                    jobs, hyperparameters=names, ranges=ranges, **opts
                ),
            )
        )
    if curves is not None and len(curves):
        makers.append(
            (
                f"{metric} per epoch",
                "curves",
                lambda: _plots.plot_objective_curves(
                    curves, statuses=_status_map(jobs), objective_name=metric
                ),
            )
        )
    return makers


def save_tuning_plots(
    df: pd.DataFrame,
    folder: str | Path,
    *,
    objective_name: str | None = None,
    objective_type: str = "Minimize",
    curves: pd.DataFrame | None = None,
    hyperparameters: Sequence[str] | None = None,
    ranges: Mapping[str, RangeLike] | None = None,
    image_format: str = "png",
) -> list[Path]:
    """Save the tuning report's charts into ``folder`` (``objective``,
    ``parallel_coordinates``, ``curves`` + ``.png`` or ``.svg``); returns the paths."""
    from sagescale.reporting._plots import save_figure

    kind = check_objective_type(objective_type)
    suffix = "." + check_chart_format(image_format)
    jobs = start_order(df)
    names = hyperparameter_columns(jobs, hyperparameters)
    written = []
    for _, stem, make in _tuning_charts(
        jobs, names, kind, objective_name or "objective", curves, ranges
    ):
        fig = make()
        written.append(save_figure(fig, Path(folder) / f"{stem}{suffix}"))
        fig.clear()
    return written


def _status_map(jobs: pd.DataFrame) -> dict[str, str]:
    if "TrainingJobStatus" not in jobs.columns:
        return {}
    return dict(
        zip(jobs["TrainingJobName"].map(str), jobs["TrainingJobStatus"].map(str), strict=True)
    )


def _tuning_summary(
    jobs: pd.DataFrame,
    best: int | None,
    kind: str,
    metric: str,
    extra: Mapping[str, object] | None,
) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = [("Objective", f"{metric} ({kind})")]
    rows += list((extra or {}).items())
    rows.append(("Training jobs", len(jobs)))
    if "TrainingJobStatus" in jobs.columns:
        counts = jobs["TrainingJobStatus"].value_counts()
        rows += [(f"{status} jobs", int(n)) for status, n in counts.items()]
    if best is not None:
        rows.append(("Best training job", jobs["TrainingJobName"].iloc[best]))
        rows.append(("Best objective value", float(jobs["FinalObjectiveValue"].iloc[best])))
    return rows


def _job_section(
    jobs: pd.DataFrame, names: list[str], job_name: str | None, best: int | None
) -> tuple[str, str, str]:
    from sagescale.errors import SpecError

    if job_name is not None:
        hits = [i for i, n in enumerate(jobs["TrainingJobName"]) if n == job_name]
        if not hits:
            raise SpecError(
                f"job_name={job_name!r} is not a training job of this tuning job",
                field="job_name",
                value=job_name,
            )
        pos: int | None = hits[0]
    else:
        pos = best if best is not None else (0 if len(jobs) else None)
    if pos is None:
        return ("job", "Training job", "<p>No training jobs.</p>")
    row = jobs.iloc[pos]
    items = _job_items(jobs, names, pos)
    label = "best " if pos == best and job_name is None else ""
    heading = f"Hyperparameters of the {label}training job {row['TrainingJobName']}"
    return ("job", heading, key_value_table(items, table_id="job-hyperparameters"))


def _job_items(jobs: pd.DataFrame, names: list[str], pos: int) -> list[tuple[str, object]]:
    row = jobs.iloc[pos]
    items: list[tuple[str, object]] = [(n, row[n]) for n in names]
    items += [(c, row[c]) for c in _JOB_COLUMNS if c in jobs.columns and c != "TrainingJobName"]
    return items


def _every_job(jobs: pd.DataFrame, names: list[str], best: int | None) -> str:
    """A collapsible block per training job (``id="job-<i>"``, linked from the table)."""
    parts = []
    for pos in range(len(jobs)):
        name = escape(str(jobs["TrainingJobName"].iloc[pos]))
        mark = " (best)" if pos == best else ""
        parts.append(
            f'<details id="job-{pos}"><summary>{name}{mark}</summary>'
            f"{key_value_table(_job_items(jobs, names, pos))}</details>"
        )
    return "".join(parts) or "<p>No training jobs.</p>"


# ---------------------------------------------------------------------------------------------
def experiment_report(
    df: pd.DataFrame,
    path: str | Path | None = None,
    *,
    experiment_name: str = "experiment",
    series: pd.DataFrame | None = None,
    metrics: Sequence[str] | None = None,
    columns: Sequence[str] | None = None,
    summary: Mapping[str, object] | None = None,
    chart_format: str = "svg",
) -> str:
    """One HTML page for an experiment; written to ``path`` if given, and returned.

    Sections: a summary, the metric curves per trial component (from ``series``), the trial
    components table (``columns``, default: name, display name, trials, parameters and each
    metric's Min/Max/Avg/Last; sortable) and every column of each component."""
    require_columns(df, ("TrialComponentName",), field="experiment dataframe")
    fmt = check_chart_format(chart_format)

    labels = _display_names(df)
    sections = [("summary", "Summary", key_value_table(_experiment_summary(df, summary)))]
    chart = _experiment_chart(df, series, metrics, labels)
    if chart is not None:
        sections.append(("charts", "Charts", _charts([chart], fmt)))
    sections.append(
        (
            "trial-components",
            f"Trial components ({len(df)})",
            table_html(df, columns=_component_columns(df, columns), table_id="components"),
        )
    )
    sections.append(("details", "Trial component details", _parameters(df)))
    subtitle = f"{len(df)} trial components"
    return _write(page(f"Experiment {experiment_name}", subtitle, sections), path)


def _experiment_chart(
    df: pd.DataFrame,
    series: pd.DataFrame | None,
    metrics: Sequence[str] | None,
    labels: dict[str, str],
) -> tuple[str, Callable[[], Figure]] | None:
    """Metric curves from ``series``; without points, each metric's last value as bars."""
    from sagescale.reporting import _plots

    if series is not None and len(series):
        return (
            "metrics per trial component",
            lambda: _plots.plot_experiment_metrics(series, metrics=metrics, labels=labels),
        )
    if len(df) and metric_names(df) and all(f"{m} - Last" in df for m in metric_names(df)):
        return (
            "last value of each metric per trial component",
            lambda: _plots.plot_experiment_summary(df, metrics=metrics),
        )
    return None


def _component_columns(df: pd.DataFrame, chosen: Sequence[str] | None) -> list[str]:
    if chosen is not None:
        require_columns(df, chosen, field="columns")
        return list(chosen)
    fixed = [c for c in ("TrialComponentName", "DisplayName", "Trials") if c in df.columns]
    stats = [f"{m} - {s}" for m in metric_names(df) for s in _SHOWN_STATS]
    return [*fixed, *parameter_columns(df), *(c for c in stats if c in df.columns)]


def _display_names(df: pd.DataFrame) -> dict[str, str]:
    if "DisplayName" not in df.columns:
        return {}
    return {
        str(n): str(d)
        for n, d in zip(df["TrialComponentName"], df["DisplayName"], strict=True)
        if isinstance(d, str) and d
    }


def _experiment_summary(
    df: pd.DataFrame, extra: Mapping[str, object] | None
) -> list[tuple[str, object]]:
    rows: list[tuple[str, object]] = list((extra or {}).items())
    rows.append(("Trial components", len(df)))
    if "Trials" in df.columns:
        trials = {t for v in df["Trials"] for t in (v if isinstance(v, (list, tuple)) else [v])}
        rows.append(("Trials", len({t for t in trials if isinstance(t, str)})))
    rows.append(("Parameters", ", ".join(parameter_columns(df)) or "—"))
    rows.append(("Metrics", ", ".join(metric_names(df)) or "—"))
    return rows


def _parameters(df: pd.DataFrame) -> str:
    """A collapsible block per component with every column of its row."""
    parts = []
    for pos in range(len(df)):
        row = df.iloc[pos]
        items = [(str(c), row[c]) for c in df.columns if c != "TrialComponentName"]
        parts.append(
            f"<details><summary>{escape(str(row['TrialComponentName']))}</summary>"
            f"{key_value_table(items)}</details>"
        )
    return "".join(parts) or "<p>No trial components.</p>"


# ---------------------------------------------------------------------------------------------
def tuning_results_html(
    df: pd.DataFrame,
    *,
    objective_type: str = "Minimize",
    objective_name: str | None = None,
    hyperparameters: Sequence[str] | None = None,
    max_rows: int = 50,
) -> str:
    """An HTML fragment for ``_repr_html_`` of tuning results: jobs in start order, best
    highlighted; no script, styles scoped to the fragment."""
    kind = check_objective_type(objective_type)
    jobs = start_order(df)
    names = hyperparameter_columns(jobs, hyperparameters)
    best = best_row(jobs, kind)
    metric = objective_name or "objective"
    head = f"{len(jobs)} training jobs · objective {metric} ({kind})"
    if best is not None:
        value = float(jobs["FinalObjectiveValue"].iloc[best])
        head += f" · best {jobs['TrainingJobName'].iloc[best]} = {value:.6g}"
    cols = _job_columns(jobs, names)
    table = table_html(jobs, columns=cols, highlight=best, sortable=False, max_rows=max_rows)
    return snippet(head, table)


def analytics_html(df: pd.DataFrame, *, max_rows: int = 50) -> str:
    """An HTML fragment for ``_repr_html_`` of experiment analytics (the DataFrame's rows)."""
    head = f"{len(df)} trial components · metrics: {', '.join(metric_names(df)) or '—'}"
    return snippet(head, table_html(df, sortable=False, max_rows=max_rows))
