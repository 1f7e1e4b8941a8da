"""``sagescale tune`` and ``sagescale tuning list|describe|best|resume``."""

from __future__ import annotations

from pathlib import Path

import typer
import yaml
from typer.testing import CliRunner

from sagescale.tuning._cli import tune, tuning_app

SCRIPTS = Path(__file__).parent / "scripts"
runner = CliRunner(env={"COLUMNS": "300"})


def _tune_app() -> typer.Typer:
    app = typer.Typer()
    app.command()(tune)
    app.command("other")(lambda: None)  # keep `tune` a sub-command, as when mounted
    return app


def _spec(tmp_path: Path) -> Path:
    spec = {
        "base_tuning_job_name": "cli",
        "objective_metric_name": "loss",
        "objective_type": "Minimize",
        "strategy": "Random",
        "max_jobs": 2,
        "random_seed": 1,
        "hyperparameter_ranges": {"x": {"type": "continuous", "min_value": 0, "max_value": 1}},
        "training_job": {
            "entry_point": "objective.py",
            "source_dir": str(SCRIPTS),
            "framework": "pytorch",
            "hyperparameters": {"epochs": 2},
        },
    }
    path = tmp_path / "tune.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def test_tune_then_list_describe_best_resume(tmp_path: Path, workspace: Path) -> None:
    result = runner.invoke(
        _tune_app(), ["tune", str(_spec(tmp_path)), "--job-name", "cli-1", "--backend", "local"]
    )
    assert result.exit_code == 0, result.output
    assert "cli-1" in result.output and "Completed" in result.output

    listed = runner.invoke(tuning_app, ["list"])
    assert listed.exit_code == 0 and "cli-1" in listed.output and "Random" in listed.output

    described = runner.invoke(tuning_app, ["describe", "cli-1"])
    assert described.exit_code == 0, described.output
    assert "FinalObjectiveValue" in described.output and "cli-1-001" in described.output

    best = runner.invoke(tuning_app, ["best", "cli-1"])
    assert best.exit_code == 0 and "cli-1-00" in best.output and "x" in best.output

    resumed = runner.invoke(tuning_app, ["resume", "cli-1"])
    assert resumed.exit_code == 0 and "Completed" in resumed.output


def test_tune_needs_a_spec_or_resume(workspace: Path) -> None:
    result = runner.invoke(_tune_app(), ["tune"])
    assert result.exit_code != 0
    assert "--resume" in str(result.exception)


def test_unknown_tuning_job(workspace: Path) -> None:
    result = runner.invoke(tuning_app, ["describe", "nope"])
    assert result.exit_code != 0
    assert "nope" in str(result.exception)
