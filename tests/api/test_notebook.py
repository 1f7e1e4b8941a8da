"""Notebook views: ``_repr_html_`` of tuning results, a training run and a plan."""

from __future__ import annotations

from pathlib import Path

import pytest

import sagescale as ss
from sagescale.tuning import TrainingJobSummary, TuningJobAnalytics


def test_tuning_results_html_lists_jobs_and_marks_the_best() -> None:
    jobs = [
        TrainingJobSummary("job-a", "Completed", {"lr": 0.1}, final_objective=0.30),
        TrainingJobSummary(
            "job-b", "Stopped", {"lr": 0.5}, final_objective=0.90, early_stopped=True
        ),
        TrainingJobSummary("job-<c>", "Completed", {"lr": 0.01}, final_objective=0.20),
    ]
    analytics = TuningJobAnalytics("tune-1", lambda: jobs, objective_type="Minimize")
    html = analytics._repr_html_()
    for name in ("job-a", "job-b", "job-&lt;c&gt;"):
        assert name in html
    assert "job-<c>" not in html  # escaped
    assert "<table" in html


def test_training_run_html(tmp_path: Path, workspace: Path) -> None:
    (tmp_path / "train.py").write_text("print('loss=0.5')\n")
    job = ss.TrainingJob(
        entry_point="train.py",
        source_dir=str(tmp_path),
        metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
    )
    run = ss.Session(workspace=workspace).fit(job, job_name="html-run")
    html = run._repr_html_()
    assert "html-run" in html and "Completed" in html and "metric loss" in html


def test_plan_html() -> None:
    plan = ss.plan(params=125e6, optimizer="adamw", precision="bf16", batch_size=32, seq_len=512)
    html = plan._repr_html_()
    assert "<table" in html
    assert plan.to_job(entry_point="train.py").instance_type.startswith("ml.")


def test_session_plan_and_tuner_use_the_session(workspace: Path) -> None:
    session = ss.Session(workspace=workspace)
    job = ss.TrainingJob(entry_point="train.py")
    tuner = session.tuner(
        job,
        objective_metric_name="loss",
        objective_type="Minimize",
        hyperparameter_ranges={"lr": ss.ContinuousParameter(min_value=0.01, max_value=0.1)},
        strategy="Random",
        max_jobs=2,
    )
    assert tuner.backend is session.backend
    with pytest.raises(ss.SpecError):
        session.plan(job, params=-1)
