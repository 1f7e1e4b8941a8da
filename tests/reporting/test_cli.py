"""``sagescale report``: real records in a real workspace (SQLite), read back by name."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sagescale.cli import main
from sagescale.specs import ContinuousParameter, IntegerParameter, TrainingJob, TuningJob
from sagescale.tracking import MetricPoint, get_store
from sagescale.tuning import TrainingJobSummary, TuningJobDescription

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)


def _record_tuning_job(workspace: Path) -> None:
    from sagescale._workspace import Workspace
    from sagescale.tuning._store import TuningStore

    spec = TuningJob(
        training_job=TrainingJob(entry_point="train.py", framework="pytorch"),
        objective_metric_name="validation:rmse",
        objective_type="Minimize",
        hyperparameter_ranges={
            "eta": ContinuousParameter(min_value=0.001, max_value=0.5, scaling_type="Logarithmic"),
            "max_depth": IntegerParameter(min_value=2, max_value=9),
        },
        strategy="Random",
        max_jobs=3,
        early_stopping_type="Auto",
    )
    store = TuningStore(Workspace.open(workspace))
    store.create(
        TuningJobDescription(
            name="hpo-xgb", spec=spec, backend="local", status="Completed", creation_time=T0
        )
    )
    jobs = [("Completed", 0.01, 3, 0.40), ("Stopped", 0.2, 8, 0.55), ("Completed", 0.05, 5, 0.31)]
    for i, (status, eta, depth, value) in enumerate(jobs):
        epochs = 2 if status == "Stopped" else 4
        start = T0 + timedelta(minutes=i)
        store.save_job(
            "hpo-xgb",
            TrainingJobSummary(
                job_name=f"hpo-xgb-{i + 1:03d}",
                status=status,
                hyperparameters={"eta": eta, "max_depth": depth},
                final_objective=value,
                objective_status="Succeeded",
                start_time=start,
                end_time=start + timedelta(minutes=2),
                early_stopped=status == "Stopped",
                curve={e: value + 0.1 * (epochs - e) for e in range(1, epochs + 1)},
                position=i,
            ),
        )


def test_report_tuning(workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _record_tuning_job(workspace)
    out = tmp_path / "tuning.html"
    assert main(["report", "tuning", "hpo-xgb", "--html", str(out)]) == 0
    assert f"wrote {out}" in capsys.readouterr().out
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 3  # objective, parallel coordinates, curves
    assert "eta (log)" in page
    assert re.search(r'<tr class="best"><td><a href="#job-2">hpo-xgb-003</a></td>', page)
    for text in ("Random", "validation:rmse (Minimize)", "Stopped jobs"):
        assert text in page


def test_report_tuning_png_and_workspace_option(workspace: Path, tmp_path: Path) -> None:
    _record_tuning_job(workspace)
    out = tmp_path / "t.html"
    argv = ["report", "tuning", "hpo-xgb", "--html", str(out), "--workspace", str(workspace)]
    assert main([*argv, "--charts", "png", "--plots", str(tmp_path / "plots")]) == 0
    assert out.read_text(encoding="utf-8").count("data:image/png;base64,") == 3
    plots = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert plots == ["curves.png", "objective.png", "parallel_coordinates.png"]


def test_report_unknown_names_fail(workspace: Path, tmp_path: Path) -> None:
    assert main(["report", "tuning", "nope", "--html", str(tmp_path / "x.html")]) == 1
    assert main(["report", "experiment", "nope", "--html", str(tmp_path / "y.html")]) == 1
    assert not list(tmp_path.glob("*.html"))


def test_report_experiment(workspace: Path, tmp_path: Path) -> None:
    store = get_store()
    store.create_experiment("weather", description="max_depth 2 versus 5")
    for depth in (2, 5):
        trial = f"weather-md{depth}"
        component = f"{trial}-training"
        store.create_trial(trial, experiment_name="weather")
        store.create_trial_component(component, trial_name=trial, status="Completed")
        store.update_trial_component(component, parameters={"max_depth": float(depth)})
        store.log_metrics(
            component,
            [
                MetricPoint("validation:rmse", 3.0 / depth + 1.0 / (s + 1), s, 1e9 + s)
                for s in range(5)
            ],
        )
    out = tmp_path / "exp.html"
    assert main(["report", "experiment", "weather", "--html", str(out)]) == 0
    page = out.read_text(encoding="utf-8")
    assert page.count("<svg") == 1
    assert "max_depth 2 versus 5" in page
    for component in ("weather-md2-training", "weather-md5-training"):
        assert f"<td>{component}</td>" in page
    assert ">validation:rmse - Last</th>" in page
