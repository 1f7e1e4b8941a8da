"""The ``sagescale`` command as a user runs it, in real subprocesses: ``tune --no-wait`` on the
local backend, and Ctrl-C (SIGINT) while ``train`` / ``tune`` wait."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from sagescale.backends import get_backend
from sagescale.errors import NotFoundError
from sagescale.tuning import HyperparameterTuner

SAGESCALE = str(Path(sys.executable).parent / "sagescale")
DEADLINE = 180.0  # a bound on waiting, not a timing assertion

# With HOLD set, a job waits after epoch 1 while that file exists (up to DEADLINE), so a
# test can act while it trains however slowly the machine runs.
SCRIPT = f"""
import os, sys, time
hold = os.environ.get("HOLD")
for epoch in range(int(os.environ.get("EPOCHS", "3"))):
    print(f"epoch={{epoch}} loss={{1.0 / (epoch + 1):.4f}}", flush=True)
    deadline = time.monotonic() + {DEADLINE}
    while epoch == 1 and hold and os.path.exists(hold) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(float(os.environ.get("PAUSE", "0.2")))
"""


def _job(tmp_path: Path, **extra: object) -> dict[str, object]:
    code = tmp_path / "code"
    code.mkdir(exist_ok=True)
    (code / "train.py").write_text(SCRIPT)
    return {
        "base_job_name": "det",
        "entry_point": "train.py",
        "source_dir": str(code),
        "metric_definitions": [{"name": "loss", "regex": r"loss=([0-9.]+)"}],
        **extra,
    }


def _tuning_spec(tmp_path: Path, max_jobs: int, **job: object) -> Path:
    path = tmp_path / "tune.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "objective_metric_name": "loss",
                "objective_type": "Minimize",
                "strategy": "Random",
                "max_jobs": max_jobs,
                "max_parallel_jobs": 1,
                "hyperparameter_ranges": {
                    "lr": {"type": "continuous", "min_value": 0.001, "max_value": 0.1}
                },
                "training_job": _job(tmp_path, **job),
            }
        )
    )
    return path


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [SAGESCALE, *args], capture_output=True, text=True, timeout=DEADLINE, check=False
    )


def _until(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.2)


def test_tune_no_wait_on_local_keeps_searching_after_the_command_returns(
    tmp_path: Path, workspace: Path
) -> None:
    spec = _tuning_spec(tmp_path, max_jobs=2)
    done = _run("tune", str(spec), "--no-wait", "--job-name", "nowait-1")
    assert done.returncode == 0, done.stderr
    assert "nowait-1" in done.stdout and "Traceback" not in done.stderr

    tuner = HyperparameterTuner.attach("nowait-1")
    _until(lambda: tuner.describe().done, "the detached tuning job to end")
    assert tuner.describe().status == "Completed"
    assert len(tuner.training_jobs()) == 2

    again = _run("tune", str(spec), "--no-wait", "--job-name", "nowait-1")
    assert again.returncode == 2
    errors = [line for line in again.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "job_name" in errors[0] and "nowait-1" in errors[0]


def _training(name: str) -> bool:
    try:
        return "epoch=1" in get_backend("local").logs(name)
    except NotFoundError:
        return False


def _interrupt(args: list[str], condition: object, what: str) -> str:
    """Run ``sagescale *args``, send SIGINT once ``condition()`` holds; its stderr. The
    command must exit 130 without a traceback."""
    proc = subprocess.Popen(
        [SAGESCALE, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
    )
    try:
        _until(condition, what)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=DEADLINE)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert "Traceback" not in err
    return err


def test_ctrl_c_while_train_waits_leaves_the_job_running_and_says_how_to_stop_it(
    tmp_path: Path, workspace: Path
) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text(yaml.safe_dump(_job(tmp_path, environment={"EPOCHS": "600"})))
    err = _interrupt(
        ["train", str(spec), "--job-name", "int-train"],
        lambda: _training("int-train"),
        "the job to train",
    )
    assert "int-train keeps running" in err and "sagescale jobs stop int-train" in err

    backend = get_backend("local")
    assert not backend.describe("int-train").done  # detached: it trains on
    stopped = _run("jobs", "stop", "int-train")  # from another process
    assert stopped.returncode == 0, stopped.stderr
    _until(lambda: backend.describe("int-train").done, "the job to stop")
    assert backend.describe("int-train").status.value == "Stopped"


def test_ctrl_c_while_tune_waits_leaves_a_resumable_tuning_job(
    tmp_path: Path, workspace: Path
) -> None:
    hold = tmp_path / "hold"  # the training jobs wait after epoch 1 until it is removed
    hold.touch()
    spec = _tuning_spec(
        tmp_path, max_jobs=2, environment={"EPOCHS": "4", "PAUSE": "0.5", "HOLD": str(hold)}
    )
    err = _interrupt(
        ["tune", str(spec), "--job-name", "int-tune"],
        lambda: any(_training(j.job_name) for j in _jobs("int-tune")),
        "a training job of the tuning job to train",
    )
    hold.unlink()
    assert "sagescale tune --resume int-tune" in err
    assert HyperparameterTuner.attach("int-tune").describe().status == "InProgress"

    resumed = _run("tune", "--resume", "int-tune")
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    tuner = HyperparameterTuner.attach("int-tune")
    assert tuner.describe().status == "Completed"
    assert len(tuner.training_jobs()) == 2


def _jobs(name: str) -> list:  # type: ignore[type-arg]
    try:
        return HyperparameterTuner.attach(name).training_jobs()
    except NotFoundError:
        return []
