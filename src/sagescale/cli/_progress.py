"""rich progress for long work: a tuning job (completed of max_jobs, best so far, stopped early)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from sagescale.cli._app import console

if TYPE_CHECKING:
    from sagescale.tuning import HyperparameterTuner, TrainingJobSummary, TuningJobDescription

__all__ = ["tuning_progress", "tuning_status_line"]

_FINISHED = frozenset({"Completed", "Failed", "Stopped"})


def tuning_status_line(
    jobs: list[TrainingJobSummary], *, maximize: bool, objective: str
) -> tuple[int, str]:
    """(finished jobs, ``best <objective>=<v> | stopped early N | failed N``)."""
    finished = [j for j in jobs if j.status in _FINISHED]
    values = [j.final_objective for j in finished if j.final_objective is not None]
    best = (max if maximize else min)(values) if values else None
    early = sum(1 for j in finished if j.early_stopped)
    failed = sum(1 for j in finished if j.status == "Failed")
    parts = [f"best {objective}={best:.5g}" if best is not None else "no objective yet"]
    parts.append(f"stopped early {early}")
    if failed:
        parts.append(f"failed {failed}")
    return len(finished), " | ".join(parts)


def tuning_progress(tuner: HyperparameterTuner, *, poll: float = 1.0) -> TuningJobDescription:
    """Show a progress bar until the tuning job ends; return its final description."""
    spec = tuner.spec
    total = spec.effective_max_jobs()
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[status]}"),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        task = progress.add_task("training jobs", total=total, status="starting")
        while True:
            desc = tuner.describe()
            done, line = tuning_status_line(
                tuner.training_jobs(),
                maximize=spec.objective_type == "Maximize",
                objective=spec.objective_metric_name,
            )
            progress.update(task, completed=done, status=line)
            if desc.done:
                break
            time.sleep(poll)
    return tuner.wait()
