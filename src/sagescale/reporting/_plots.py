"""Plots of tuning jobs and experiments (extra ``plot``: matplotlib, imported lazily).

Every function takes DataFrames in the shapes described in :mod:`sagescale.reporting`,
returns a :class:`matplotlib.figure.Figure` drawn on the Agg canvas (pyplot and the global
backend are never touched) and, given ``path``, saves it as PNG or SVG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagescale._imports import optional_import
from sagescale.errors import SpecError
from sagescale.reporting._axes import parallel_axes
from sagescale.reporting._frames import (
    METRIC_STATS,
    best_row,
    check_objective_type,
    curve_frame,
    hyperparameter_columns,
    metric_names,
    require_columns,
    start_order,
)

if TYPE_CHECKING:
    import pandas as pd
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from sagescale.reporting._axes import RangeLike

__all__ = [
    "plot_experiment_metrics",
    "plot_experiment_summary",
    "plot_objective_curves",
    "plot_parallel_coordinates",
    "plot_tuning_objective",
    "save_figure",
]

_PURPOSE = "Plotting"
_SUFFIXES = (".png", ".svg")
_STATUS_STYLE = {
    "Completed": {"marker": "o", "color": "C0", "label": "completed"},
    "Stopped": {"marker": "v", "color": "C1", "label": "stopped early"},
}


def new_figure(width: float, height: float) -> Figure:
    """A Figure on its own Agg canvas; raises MissingExtraError without matplotlib."""
    figure = optional_import("matplotlib.figure", purpose=_PURPOSE)
    agg = optional_import("matplotlib.backends.backend_agg", purpose=_PURPOSE)
    fig: Figure = figure.Figure(figsize=(width, height), layout="constrained")
    agg.FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as PNG or SVG (chosen by the suffix); returns the path written."""
    out = Path(path)
    if out.suffix.lower() not in _SUFFIXES:
        raise SpecError(
            f"path={str(path)!r} must end in .png or .svg", field="path", value=str(path)
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    return out


def _finish(fig: Figure, path: str | Path | None) -> Figure:
    if path is not None:
        save_figure(fig, path)
    return fig


# ---------------------------------------------------------------------------------------------
def plot_tuning_objective(
    df: pd.DataFrame,
    *,
    objective_type: str = "Minimize",
    objective_name: str | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Each training job's final objective in start order, with the best-so-far line.

    Stopped (early-stopped) jobs are drawn as triangles; jobs without an objective (failed,
    still running) as red crosses on the x axis. The best job gets a star."""
    kind = check_objective_type(objective_type)
    jobs = start_order(df)
    x = [float(i + 1) for i in range(len(jobs))]
    y = jobs["FinalObjectiveValue"].astype(float).tolist()
    status = _statuses(jobs)
    fig = new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    _scatter_by_status(ax, x, y, status)
    best_x, best_y = _best_so_far(x, y, kind)
    if best_x:
        ax.step(best_x, best_y, where="post", color="C2", linewidth=2, label="best so far")
    best = best_row(jobs, kind)
    if best is not None:
        ax.scatter(
            [x[best]],
            [y[best]],
            marker="*",
            s=260,
            color="gold",
            edgecolor="black",
            zorder=5,
            label=f"best: {jobs['TrainingJobName'].iloc[best]}",
        )
    name = objective_name or "objective"
    ax.set_xlabel("training job (start order)")
    ax.set_ylabel(name)
    ax.set_title(title or f"{name} per training job ({kind})")
    _integer_ticks(ax, len(x))
    ax.grid(alpha=0.3)
    _legend_or_note(ax, "no training jobs yet")
    return _finish(fig, path)


def _legend_or_note(ax: Axes, note: str) -> None:
    """A legend when something is labelled, else ``note`` in the middle of the axes."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="best", fontsize=8)
    else:
        ax.text(0.5, 0.5, note, transform=ax.transAxes, ha="center", va="center", color="#777")


def _statuses(jobs: pd.DataFrame) -> list[str]:
    if "TrainingJobStatus" in jobs.columns:
        return [str(s) for s in jobs["TrainingJobStatus"]]
    return ["Completed"] * len(jobs)


def _scatter_by_status(ax: Axes, x: list[float], y: list[float], status: list[str]) -> None:
    missing = [xi for xi, yi in zip(x, y, strict=True) if not math.isfinite(yi)]
    for key, style in _STATUS_STYLE.items():
        pts = [
            (xi, yi)
            for xi, yi, s in zip(x, y, status, strict=True)
            if math.isfinite(yi) and (s == key or (key == "Completed" and s not in _STATUS_STYLE))
        ]
        if pts:
            ax.scatter(*zip(*pts, strict=True), zorder=3, **style)  # type: ignore[arg-type]
    if missing:
        ax.scatter(
            missing,
            [0.0] * len(missing),
            transform=ax.get_xaxis_transform(),
            marker="x",
            color="red",
            clip_on=False,
            zorder=4,
            label="no objective",
        )


def _best_so_far(x: list[float], y: list[float], kind: str) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    best = math.nan
    pick = min if kind == "Minimize" else max
    for xi, yi in zip(x, y, strict=True):
        if math.isfinite(yi):
            best = yi if math.isnan(best) else pick(best, yi)
        if not math.isnan(best):
            xs.append(xi)
            ys.append(best)
    return xs, ys


def _integer_ticks(ax: Axes, n: int) -> None:
    ticker = optional_import("matplotlib.ticker", purpose=_PURPOSE)
    ax.xaxis.set_major_locator(ticker.MaxNLocator(integer=True, nbins=min(max(n, 1), 20)))
    if n:
        ax.set_xlim(0.4, n + 0.6)


# ---------------------------------------------------------------------------------------------
def plot_parallel_coordinates(
    df: pd.DataFrame,
    *,
    objective_type: str = "Minimize",
    objective_name: str | None = None,
    hyperparameters: Sequence[str] | None = None,
    ranges: Mapping[str, RangeLike] | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """Parallel coordinates: one axis per hyperparameter and one for the objective.

    Lines are coloured by the objective (brighter is better for ``objective_type``); numeric
    axes are logarithmic where ``ranges`` says the range is (``"Logarithmic"`` or a range spec
    with that ``scaling_type``); categorical axes list their values."""
    kind = check_objective_type(objective_type)
    jobs = start_order(df)
    names = hyperparameter_columns(jobs, hyperparameters)
    axes = parallel_axes(jobs, names, ranges or {}, objective_name or "objective")
    fig = new_figure(max(6.0, 1.6 * len(axes) + 1.5), 4.6)
    ax = fig.add_subplot()
    objective = jobs["FinalObjectiveValue"].astype(float).tolist()
    mappable = _draw_lines(fig, ax, [a.positions for a in axes], objective, kind)
    for i, axis in enumerate(axes):
        ax.axvline(i, color="#444", linewidth=1)
        for pos, label in axis.ticks:
            ax.text(
                i + 0.04,
                pos,
                label,
                fontsize=7,
                va="center",
                ha="left",
                bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.7},
            )
    ax.set_xticks(range(len(axes)), [a.label for a in axes], fontsize=8)
    ax.set_yticks([])
    ax.set_xlim(-0.1, len(axes) - 0.6)
    ax.set_ylim(-0.05, 1.05)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    if mappable is not None:
        fig.colorbar(mappable, ax=ax, label=objective_name or "objective", pad=0.01)
    ax.set_title(title or f"hyperparameters coloured by {objective_name or 'objective'} ({kind})")
    return _finish(fig, path)


def _draw_lines(
    fig: Figure, ax: Axes, columns: list[list[float]], objective: list[float], kind: str
) -> Any:
    colors = optional_import("matplotlib.colors", purpose=_PURPOSE)
    cm = optional_import("matplotlib.cm", purpose=_PURPOSE)
    finite = [v for v in objective if math.isfinite(v)]
    mappable = None
    if finite:
        norm = colors.Normalize(vmin=min(finite), vmax=max(finite))
        cmap = optional_import("matplotlib", purpose=_PURPOSE).colormaps[
            "viridis_r" if kind == "Minimize" else "viridis"
        ]
        mappable = cm.ScalarMappable(norm=norm, cmap=cmap)
    order = sorted(range(len(objective)), key=lambda j: _rank(objective[j], kind))
    xs = list(range(len(columns)))
    for j in order:
        ys = [col[j] for col in columns]
        if mappable is None or not math.isfinite(objective[j]):
            ax.plot(xs, ys, color="#bbbbbb", linestyle="--", linewidth=1)
        else:
            ax.plot(xs, ys, color=mappable.to_rgba(objective[j]), linewidth=1.6, alpha=0.9)
    return mappable


def _rank(value: float, kind: str) -> float:
    """Draw order: jobs without objective first, then worst to best (best on top)."""
    if not math.isfinite(value):
        return -math.inf
    return -value if kind == "Minimize" else value


# ---------------------------------------------------------------------------------------------
def plot_objective_curves(
    curves: pd.DataFrame,
    *,
    statuses: Mapping[str, str] | None = None,
    objective_name: str | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """The objective per epoch (or step) of each training job; early-stopped jobs marked.

    ``curves`` has ``TrainingJobName``, ``Epoch`` and ``ObjectiveValue`` (as
    ``TuningJobAnalytics.curves()`` gives; or ``epoch``/``step`` and ``value``) and optionally
    ``TrainingJobStatus``; ``statuses`` (job name → status) overrides that column. A job with
    status ``Stopped`` is dashed and ends in a red cross."""
    curves = curve_frame(curves)
    x_col = "epoch" if "epoch" in curves.columns and curves["epoch"].notna().any() else "step"
    status = _curve_statuses(curves, statuses)
    fig = new_figure(7.5, 4.2)
    ax = fig.add_subplot()
    jobs = list(dict.fromkeys(curves["TrainingJobName"]))
    labelled = False
    for k, (job, part) in enumerate(curves.groupby("TrainingJobName", sort=False)):
        part = part.sort_values(x_col)
        xs, ys = part[x_col].astype(float), part["value"].astype(float)
        stopped = status.get(str(job)) == "Stopped"
        line = ax.plot(
            xs,
            ys,
            color=f"C{k % 10}",
            linestyle="--" if stopped else "-",
            marker=".",
            linewidth=1.4,
            label=str(job) if len(jobs) <= 10 else None,
        )
        if stopped and len(xs):
            ax.scatter(
                [xs.iloc[-1]],
                [ys.iloc[-1]],
                marker="X",
                s=80,
                color="red",
                zorder=4,
                edgecolor=line[0].get_color(),
                label=None if labelled else "stopped early",
            )
            labelled = True
    name = objective_name or "objective"
    ax.set_xlabel(x_col)
    ax.set_ylabel(name)
    ax.set_title(title or f"{name} per {x_col}")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")
    return _finish(fig, path)


def _curve_statuses(curves: pd.DataFrame, statuses: Mapping[str, str] | None) -> dict[str, str]:
    out: dict[str, str] = {}
    if "TrainingJobStatus" in curves.columns:
        last = curves.groupby("TrainingJobName", sort=False)["TrainingJobStatus"].last()
        out.update({str(k): str(v) for k, v in last.items()})
    out.update(statuses or {})
    return out


# ---------------------------------------------------------------------------------------------
def plot_experiment_metrics(
    series: pd.DataFrame,
    *,
    metrics: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """One panel per metric, one line per trial component.

    ``series`` has ``TrialComponentName``, ``metric_name``, ``step``, ``timestamp``, ``value``.
    The x axis is ``step`` where every point has one, else seconds since the component's
    first point. ``labels`` maps component names to display names."""
    require_columns(series, ("TrialComponentName", "metric_name", "value"), field="series")
    names = list(metrics) if metrics is not None else list(dict.fromkeys(series["metric_name"]))
    unknown = [m for m in names if m not in set(series["metric_name"])]
    if unknown or not names:
        raise SpecError(
            f"metrics {unknown or names} have no points in series", field="metrics", value=unknown
        )
    ncols = min(2, len(names))
    nrows = math.ceil(len(names) / ncols)
    fig = new_figure(5.2 * ncols + 0.8, 3.4 * nrows + 0.4)
    grid = fig.subplots(nrows, ncols, squeeze=False)
    for ax, metric in zip(grid.flat, names, strict=False):
        _metric_panel(ax, series[series["metric_name"] == metric], metric, labels or {})
    for ax in list(grid.flat)[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(title or "metrics per trial component")
    return _finish(fig, path)


def _metric_panel(ax: Axes, part: pd.DataFrame, metric: str, labels: Mapping[str, str]) -> None:
    use_step = "step" in part.columns and part["step"].notna().all()
    groups = list(part.groupby("TrialComponentName", sort=False))
    order = "step" if use_step else "timestamp"
    for k, (component, points) in enumerate(groups):
        if order in points.columns:
            points = points.sort_values(order, kind="stable")
        xs = points["step"].astype(float) if use_step else _seconds(points)
        ax.plot(
            xs,
            points["value"].astype(float),
            marker=".",
            color=f"C{k % 10}",
            label=labels.get(str(component), str(component)) if len(groups) <= 12 else None,
        )
    ax.set_title(metric, fontsize=10)
    ax.set_xlabel("step" if use_step else "seconds")
    ax.grid(alpha=0.3)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="best")


def _seconds(points: pd.DataFrame) -> list[float]:
    """Seconds since the first point (``timestamp`` in epoch seconds or datetimes)."""
    import pandas as pd

    if "timestamp" not in points.columns:
        return [float(i) for i in range(len(points))]
    ts = points["timestamp"]
    if pd.api.types.is_numeric_dtype(ts):
        secs = [float(v) for v in ts]
        return [v - min(secs) for v in secs]
    when = pd.to_datetime(ts, utc=True)
    return [float(v) for v in (when - when.min()).dt.total_seconds()]


# ---------------------------------------------------------------------------------------------
def plot_experiment_summary(
    df: pd.DataFrame,
    *,
    stat: str = "Last",
    metrics: Sequence[str] | None = None,
    title: str | None = None,
    path: str | Path | None = None,
) -> Figure:
    """One panel per metric: a bar per trial component with the metric's ``stat`` column
    (``<metric> - Last`` by default) of the experiment analytics table."""
    if stat not in METRIC_STATS:
        raise SpecError(f"stat={stat!r} must be one of {METRIC_STATS}", field="stat", value=stat)
    require_columns(df, ("TrialComponentName",), field="experiment dataframe")
    names = list(metrics) if metrics is not None else metric_names(df)
    require_columns(df, [f"{m} - {stat}" for m in names], field="metrics")
    labels = [str(d or n) for n, d in zip(df["TrialComponentName"], _display(df), strict=True)]
    ncols = max(1, min(2, len(names)))
    nrows = max(1, math.ceil(len(names) / ncols))
    fig = new_figure(5.2 * ncols + 0.8, max(2.4, 0.35 * len(labels) + 1.2) * nrows)
    grid = fig.subplots(nrows, ncols, squeeze=False)
    for ax, metric in zip(grid.flat, names, strict=False):
        values = [float(v) for v in df[f"{metric} - {stat}"].astype(float)]
        drawn = [v if math.isfinite(v) else math.nan for v in values]  # inf: no bar, a label
        ax.barh(range(len(labels)), drawn, color=[f"C{k % 10}" for k in range(len(labels))])
        for k, v in enumerate(values):
            if math.isinf(v):
                ax.annotate(f"{v:+}", (0, k), va="center", fontsize=8)
        ax.set_yticks(range(len(labels)), labels, fontsize=8)
        ax.invert_yaxis()
        ax.set_title(f"{metric} - {stat}", fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    for ax in list(grid.flat)[len(names) :]:
        ax.set_visible(False)
    fig.suptitle(title or f"metrics per trial component ({stat})")
    return _finish(fig, path)


def _display(df: pd.DataFrame) -> list[object]:
    if "DisplayName" not in df.columns:
        return [None] * len(df)
    return [d if isinstance(d, str) and d else None for d in df["DisplayName"]]
