from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from sagescale.errors import MissingExtraError, SpecError
from sagescale.reporting import (
    plot_experiment_metrics,
    plot_experiment_summary,
    plot_objective_curves,
    plot_parallel_coordinates,
    plot_tuning_objective,
    save_figure,
    series_frame,
)
from sagescale.reporting._frames import best_row, start_order
from sagescale.specs import CategoricalParameter, ContinuousParameter
from sagescale.tracking._model import MetricPoint


def _line(fig: object, label: str) -> tuple[list[float], list[float]]:
    for line in fig.axes[0].get_lines():  # type: ignore[attr-defined]
        if line.get_label() == label:
            return list(line.get_xdata()), list(line.get_ydata())
    raise AssertionError(f"no line {label!r}")


def _legend(ax: Any) -> list[Any]:
    legend = ax.get_legend()
    assert legend is not None
    return list(legend.get_texts())


def test_start_order_sorts_by_start_time_then_name(tuning_df: pd.DataFrame) -> None:
    names = start_order(tuning_df)["TrainingJobName"].tolist()
    assert names == sorted(names)


@pytest.mark.parametrize(
    ("objective_type", "expected", "best"),
    [
        ("Minimize", [0.412, 0.388, 0.388, 0.351, 0.351, 0.351], "hpo-004-j1k2l3"),
        ("Maximize", [0.412, 0.412, 0.455, 0.455, 0.455, 0.455], "hpo-003-g7h8i9"),
    ],
)
def test_objective_plot_draws_best_so_far(
    tuning_df: pd.DataFrame, objective_type: str, expected: list[float], best: str
) -> None:
    fig = plot_tuning_objective(tuning_df, objective_type=objective_type, objective_name="rmse")
    xs, ys = _line(fig, "best so far")
    assert xs == [1, 2, 3, 4, 5, 6]
    assert ys == pytest.approx(expected)
    ax = fig.axes[0]
    labels = [t.get_text() for t in _legend(ax)]
    assert f"best: {best}" in labels
    assert {"completed", "stopped early", "no objective"} <= set(labels)
    assert ax.get_ylabel() == "rmse"
    assert objective_type in ax.get_title()
    assert best_row(start_order(tuning_df), objective_type) is not None


def test_objective_plot_with_no_objective_at_all(tuning_df: pd.DataFrame) -> None:
    tuning_df["FinalObjectiveValue"] = math.nan
    fig = plot_tuning_objective(tuning_df)
    assert all(line.get_label() != "best so far" for line in fig.axes[0].get_lines())
    assert best_row(tuning_df, "Minimize") is None


def test_parallel_coordinates_axes(tuning_df: pd.DataFrame) -> None:
    ranges = {
        "eta": ContinuousParameter(min_value=0.001, max_value=0.5, scaling_type="Logarithmic"),
        "booster": CategoricalParameter(values=["gbtree", "dart", "<b>bold</b>"]),
    }
    fig = plot_parallel_coordinates(tuning_df, ranges=ranges, objective_name="rmse")
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == [
        "eta (log)",
        "max_depth",
        "booster",
        "rmse",
    ]
    texts = {t.get_text() for t in ax.texts}
    assert {"dart", "gbtree", "<b>bold</b>", "0.002", "0.3", "2", "9"} <= texts
    # the log axis puts the geometric mean of the range in the middle
    assert f"{math.sqrt(0.002 * 0.3):.4g}" in texts
    assert len(fig.axes) == 2  # the colour bar
    # one line per job; the job without objective is grey and drawn first
    lines = ax.get_lines()[:6]  # then the 4 vertical axes
    assert len(ax.get_lines()) == 6 + 4
    assert lines[0].get_linestyle() == "--"


def test_parallel_coordinates_linear_when_log_impossible(tuning_df: pd.DataFrame) -> None:
    tuning_df["eta"] = [-1.0, 0.0, 1.0, 2.0, 3.0, 4.0]
    fig = plot_parallel_coordinates(tuning_df, ranges={"eta": "Logarithmic"})
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels[0] == "eta"


def test_parallel_coordinates_chosen_hyperparameters(tuning_df: pd.DataFrame) -> None:
    fig = plot_parallel_coordinates(tuning_df, hyperparameters=["max_depth"])
    assert len(fig.axes[0].get_xticklabels()) == 2
    with pytest.raises(SpecError, match="nope"):
        plot_parallel_coordinates(tuning_df, hyperparameters=["nope"])


def test_objective_curves_mark_early_stopped(curves_df: pd.DataFrame) -> None:
    fig = plot_objective_curves(curves_df, objective_name="rmse")
    ax = fig.axes[0]
    styles = {line.get_label(): line.get_linestyle() for line in ax.get_lines()}
    assert styles["hpo-003-g7h8i9"] == "--"
    assert styles["hpo-001-a1b2c3"] == "-"
    labels = [t.get_text() for t in _legend(ax)]
    assert "stopped early" in labels
    assert ax.get_xlabel() == "epoch"


def test_objective_curves_statuses_override_and_step(curves_df: pd.DataFrame) -> None:
    curves = curves_df.drop(columns="TrainingJobStatus").rename(
        columns={"Epoch": "step", "ObjectiveValue": "value"}
    )
    fig = plot_objective_curves(curves, statuses={"hpo-001-a1b2c3": "Stopped"})
    styles = {line.get_label(): line.get_linestyle() for line in fig.axes[0].get_lines()}
    assert styles["hpo-001-a1b2c3"] == "--"
    assert styles["hpo-003-g7h8i9"] == "-"
    assert fig.axes[0].get_xlabel() == "step"
    with pytest.raises(SpecError, match="'Epoch', 'epoch' or 'step'"):
        plot_objective_curves(curves.drop(columns="step"))


def test_experiment_metrics_one_panel_per_metric(series_df: pd.DataFrame) -> None:
    fig = plot_experiment_metrics(series_df, labels={"weather-md2-training": "max_depth=2"})
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["validation:rmse", "train:rmse"]
    assert "max_depth=2" in [line.get_label() for line in visible[0].get_lines()]
    fig = plot_experiment_metrics(series_df, metrics=["train:rmse"])
    assert len(fig.axes) == 1
    with pytest.raises(SpecError, match="no points"):
        plot_experiment_metrics(series_df, metrics=["accuracy"])


def test_experiment_metrics_by_time_without_steps() -> None:
    points = {
        "tc-a": [MetricPoint("loss", 1.0 / (i + 1), None, 100.0 + 3 * i) for i in range(4)],
        "tc-b": [MetricPoint("loss", 2.0 / (i + 1), None, 50.0 + 2 * i) for i in range(3)],
    }
    series = series_frame(points)
    assert list(series.columns) == [
        "TrialComponentName",
        "metric_name",
        "step",
        "timestamp",
        "value",
    ]
    fig = plot_experiment_metrics(series)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "seconds"
    xdata: Any = ax.get_lines()[0].get_xdata()
    assert [float(x) for x in xdata] == [0.0, 3.0, 6.0, 9.0]


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_save_png_and_svg(tmp_path: Path, tuning_df: pd.DataFrame, suffix: str) -> None:
    out = tmp_path / "sub" / f"objective{suffix}"
    plot_tuning_objective(tuning_df, path=out)
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in data


def test_save_rejects_other_suffixes(tmp_path: Path, tuning_df: pd.DataFrame) -> None:
    fig = plot_tuning_objective(tuning_df)
    with pytest.raises(SpecError, match=r"\.png or \.svg"):
        save_figure(fig, tmp_path / "x.pdf")


def test_bad_inputs_name_the_field(tuning_df: pd.DataFrame) -> None:
    with pytest.raises(SpecError, match="objective_type='Smallest'"):
        plot_tuning_objective(tuning_df, objective_type="Smallest")
    with pytest.raises(SpecError, match="FinalObjectiveValue"):
        plot_tuning_objective(tuning_df.drop(columns="FinalObjectiveValue"))
    with pytest.raises(SpecError, match="value"):
        plot_objective_curves(pd.DataFrame({"TrainingJobName": ["a"]}))


def test_missing_matplotlib_names_the_extra(
    tuning_df: pd.DataFrame, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in list(sys.modules):
        if name == "matplotlib" or name.startswith("matplotlib."):
            monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'sagescale\[plot\]'"):
        plot_tuning_objective(tuning_df)


def test_experiment_summary_bars(experiment_df: pd.DataFrame) -> None:
    fig = plot_experiment_summary(experiment_df)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["validation:rmse - Last", "train:rmse - Last"]
    ax = visible[0]
    assert [t.get_text() for t in ax.get_yticklabels()][:2] == ["max_depth=2", "max_depth=5"]
    assert [p.get_width() for p in ax.patches] == pytest.approx([3.1, 2.4, 2.8])  # type: ignore[attr-defined]
    fig = plot_experiment_summary(experiment_df, stat="Min", metrics=["train:rmse"])
    assert fig.axes[0].get_title() == "train:rmse - Min"
    with pytest.raises(SpecError, match="stat='Median'"):
        plot_experiment_summary(experiment_df, stat="Median")
    with pytest.raises(SpecError, match="accuracy - Last"):
        plot_experiment_summary(experiment_df, metrics=["accuracy"])


def test_experiment_summary_of_a_diverged_component(experiment_df: pd.DataFrame) -> None:
    """A Last of inf (a diverged loss) drew an infinite bar: matplotlib's RuntimeWarning
    (an error under this suite's filterwarnings) and a broken axis. It is labelled instead."""
    experiment_df.loc[1, "validation:rmse - Last"] = float("inf")
    fig = plot_experiment_summary(experiment_df, metrics=["validation:rmse"])
    ax = fig.axes[0]
    widths = [p.get_width() for p in ax.patches]  # type: ignore[attr-defined]
    assert widths[0] == pytest.approx(3.1) and widths[2] == pytest.approx(2.8)
    assert [t.get_text() for t in ax.texts] == ["+inf"]
