from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from sagescale.errors import SpecError
from sagescale.reporting import (
    analytics_html,
    experiment_report,
    save_tuning_plots,
    tuning_report,
    tuning_results_html,
)
from sagescale.reporting._html import format_value


def _no_external_references(page: str) -> None:
    assert not re.search(r"https?://", page), "the page refers to something outside itself"
    assert not re.search(r"""(src|href)\s*=\s*["'](?!data:|#)""", page)


def _rows(page: str, table_id: str) -> list[str]:
    table = re.search(rf'<table id="{table_id}"[^>]*>(.*?)</table>', page, re.S)
    assert table is not None
    body = table.group(1).split("<tbody>", 1)[1]
    return re.findall(r"<tr[^>]*>.*?</tr>", body, re.S)


def test_tuning_report_is_one_self_contained_page(
    tmp_path: Path, tuning_df: pd.DataFrame, curves_df: pd.DataFrame
) -> None:
    out = tmp_path / "r" / "tuning.html"
    page = tuning_report(
        tuning_df,
        out,
        tuning_job_name="hpo-xgb",
        objective_name="validation:rmse",
        curves=curves_df,
        ranges={"eta": "Logarithmic"},
        summary={"Strategy": "Bayesian"},
    )
    assert out.read_text(encoding="utf-8") == page
    _no_external_references(page)
    assert page.count("<svg") == 3
    rows = _rows(page, "jobs")
    assert len(rows) == 6
    best = [r for r in rows if 'class="best"' in r]
    assert len(best) == 1 and "hpo-004-j1k2l3" in best[0]
    assert "Bayesian" in page
    assert "Hyperparameters of the best training job hpo-004-j1k2l3" in page
    assert page.count('<details id="job-') == 6
    assert '<a href="#job-3">hpo-004-j1k2l3</a>' in page
    assert "<summary>hpo-004-j1k2l3 (best)</summary>" in page
    # user data is escaped everywhere, including inside the charts
    assert "<b>bold</b>" not in page
    assert "&lt;b&gt;bold&lt;/b&gt;" in page
    # numbers carry a sort key
    assert 'data-v="0.351"' in page


def test_svg_ids_are_unique_across_charts(tuning_df: pd.DataFrame, curves_df: pd.DataFrame) -> None:
    page = tuning_report(tuning_df, curves=curves_df)
    ids = re.findall(r'\sid="([^"]+)"', page)
    assert len(ids) == len(set(ids))
    for ref in set(re.findall(r'(?:url\(#|href="#)([^")]+)', page)):
        assert ref in ids


def test_tuning_report_png_charts_and_chosen_job(tuning_df: pd.DataFrame) -> None:
    page = tuning_report(tuning_df, chart_format="png", job_name="hpo-002-d4e5f6")
    assert "<svg" not in page
    assert page.count('src="data:image/png;base64,') == 2
    assert "Hyperparameters of the training job hpo-002-d4e5f6" in page
    _no_external_references(page)


def test_tuning_report_bad_input(tuning_df: pd.DataFrame) -> None:
    with pytest.raises(SpecError, match="job_name='nope'"):
        tuning_report(tuning_df, job_name="nope")
    with pytest.raises(SpecError, match="chart_format='gif'"):
        tuning_report(tuning_df, chart_format="gif")
    with pytest.raises(SpecError, match="TrainingJobName"):
        tuning_report(tuning_df.drop(columns="TrainingJobName"))


def test_experiment_report(
    tmp_path: Path, experiment_df: pd.DataFrame, series_df: pd.DataFrame
) -> None:
    out = tmp_path / "exp.html"
    page = experiment_report(experiment_df, out, experiment_name="weather", series=series_df)
    _no_external_references(page)
    assert out.exists()
    assert page.count("<svg") == 1
    rows = _rows(page, "components")
    assert len(rows) == 3
    head = re.search(r'<table id="components".*?</thead>', page, re.S)
    assert head is not None
    for column in ("max_depth", "validation:rmse - Last", "train:rmse - Min", "Trials"):
        assert f">{column}</th>" in head.group(0)
    assert "StdDev" not in head.group(0)
    assert "weather-&lt;x&gt;&amp;-training" in page
    assert "<x>" not in page
    assert page.count("<details>") == 3


def test_experiment_report_without_series_and_chosen_columns(experiment_df: pd.DataFrame) -> None:
    page = experiment_report(experiment_df, columns=["TrialComponentName", "max_depth"])
    assert page.count("<svg") == 1  # without series: each metric's last value as bars
    assert "last value of each metric per trial component" in page
    assert len(_rows(page, "components")) == 3
    with pytest.raises(SpecError, match="columns"):
        experiment_report(experiment_df, columns=["nope"])


def test_repr_snippets(tuning_df: pd.DataFrame, experiment_df: pd.DataFrame) -> None:
    snippet = tuning_results_html(tuning_df, objective_name="rmse", max_rows=4)
    assert "<script" not in snippet and snippet.startswith('<div class="sagescale-repr">')
    assert "best hpo-004-j1k2l3 = 0.351" in snippet
    assert "2 more rows not shown" in snippet
    assert 'class="best"' in snippet
    snippet = analytics_html(experiment_df)
    assert "3 trial components" in snippet and "validation:rmse, train:rmse" in snippet
    assert "<script" not in snippet


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (None, "—"),
        (float("nan"), "—"),
        (pd.NaT, "—"),
        (0.123456789, "0.123457"),
        (["a", "b"], "a, b"),
        (pd.Timestamp("2026-01-05 09:00:01.5"), "2026-01-05 09:00:01"),
        (True, "True"),
    ],
)
def test_format_value(value: object, text: str) -> None:
    assert format_value(value) == text


def test_reports_of_nothing_yet(tuning_df: pd.DataFrame) -> None:
    empty = tuning_df.iloc[0:0]
    page = tuning_report(empty)
    assert "no training jobs yet" in page and "<p>No training jobs.</p>" in page
    running = tuning_df.iloc[0:1].assign(
        TrainingJobStatus="InProgress", FinalObjectiveValue=None, TrainingStartTime=None
    )
    page = tuning_report(running, objective_type="Maximize")
    assert len(_rows(page, "jobs")) == 1 and 'class="best"' not in page
    assert "0 trial components" in analytics_html(pd.DataFrame(columns=["TrialComponentName"]))
    page = experiment_report(pd.DataFrame(columns=["TrialComponentName"]))
    assert "<p>No trial components.</p>" in page


def test_save_tuning_plots(
    tmp_path: Path, tuning_df: pd.DataFrame, curves_df: pd.DataFrame
) -> None:
    paths = save_tuning_plots(tuning_df, tmp_path, curves=curves_df, image_format="svg")
    assert [p.name for p in paths] == ["objective.svg", "parallel_coordinates.svg", "curves.svg"]
    assert all(b"<svg" in p.read_bytes() for p in paths)
    paths = save_tuning_plots(tuning_df[["TrainingJobName", "FinalObjectiveValue"]], tmp_path)
    assert [p.name for p in paths] == ["objective.png"]
