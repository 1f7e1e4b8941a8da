"""``sagescale train`` and ``sagescale jobs`` on the local backend: real jobs, real exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from sagescale.cli import main

SCRIPT = """
import sys
print("training with", sys.argv[1:])
print("loss=0.25")
if "--fail" in sys.argv:
    raise SystemExit("boom: asked to fail")
"""


@pytest.fixture
def spec(tmp_path: Path, workspace: Path) -> Path:
    code = tmp_path / "code"
    code.mkdir()
    (code / "train.py").write_text(SCRIPT)
    path = tmp_path / "job.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "base_job_name": "cli-job",
                "entry_point": "train.py",
                "source_dir": str(code),
                "hyperparameters": {"epochs": 2},
                "metric_definitions": [{"name": "loss", "regex": r"loss=([0-9.]+)"}],
            }
        )
    )
    return path


def test_train_then_jobs_commands(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(spec), "--job-name", "cli-ok", "--logs"]) == 0
    out = capsys.readouterr().out
    assert "Completed" in out and "training with ['--epochs', '2']" in out

    assert main(["jobs", "list"]) == 0
    assert "cli-ok" in capsys.readouterr().out

    assert main(["jobs", "describe", "cli-ok", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["status"] == "Completed"
    assert described["final_metrics"] == {"loss": 0.25}

    assert main(["jobs", "logs", "cli-ok"]) == 0
    out = capsys.readouterr().out
    # the log as the job printed it: it ends with its last line and one newline
    assert out.endswith("[algo-1] training with ['--epochs', '2']\n[algo-1] loss=0.25\n")
    assert not out.endswith("\n\n")

    # a job that has ended is not 'stopping': the command says so and leaves it as it is
    assert main(["jobs", "stop", "cli-ok"]) == 0
    out = capsys.readouterr().out
    assert "cli-ok has already ended: Completed" in out and "stopping" not in out
    assert main(["jobs", "describe", "cli-ok", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "Completed"


def test_failed_job_exits_1_and_keeps_its_reason(
    spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(spec), "--job-name", "cli-bad", "--hp", "fail=1"]) == 1
    assert "boom: asked to fail" in capsys.readouterr().out
    assert main(["jobs", "describe", "cli-bad", "--json"]) == 0
    described = json.loads(capsys.readouterr().out)
    assert described["status"] == "Failed"
    assert "boom" in described["failure_reason"]


def test_bad_hp_and_unknown_job(spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["train", str(spec), "--hp", "novalue"]) == 2
    assert "NAME=VALUE" in capsys.readouterr().err
    assert main(["jobs", "describe", "no-such-job"]) == 1
    assert "no-such-job" in capsys.readouterr().err
