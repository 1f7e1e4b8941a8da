"""The tuning progress line: finished count, best so far, stopped early, failed."""

from __future__ import annotations

from sagescale.cli._progress import tuning_status_line
from sagescale.tuning import TrainingJobSummary


def _job(name: str, status: str, value: float | None, *, early: bool = False) -> TrainingJobSummary:
    return TrainingJobSummary(
        job_name=name, status=status, hyperparameters={}, final_objective=value, early_stopped=early
    )


def test_counts_and_best_for_minimize() -> None:
    jobs = [
        _job("a", "Completed", 0.5),
        _job("b", "Stopped", 0.9, early=True),
        _job("c", "Failed", None),
        _job("d", "InProgress", 0.1),  # running: not counted, not best yet
    ]
    done, line = tuning_status_line(jobs, maximize=False, objective="loss")
    assert done == 3
    assert line == "best loss=0.5 | stopped early 1 | failed 1"


def test_maximize_and_no_values() -> None:
    done, line = tuning_status_line(
        [_job("a", "Completed", 0.5), _job("b", "Completed", 0.7)], maximize=True, objective="acc"
    )
    assert (done, line) == (2, "best acc=0.7 | stopped early 0")
    assert tuning_status_line([], maximize=True, objective="acc") == (
        0,
        "no objective yet | stopped early 0",
    )
