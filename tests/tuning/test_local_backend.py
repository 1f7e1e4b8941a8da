"""Every strategy end to end on the real local backend: each trial is a real training job."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from sagescale.specs import (
    CategoricalParameter,
    ContinuousParameter,
    HyperbandConfig,
    MetricDefinition,
    TrainingJob,
)
from sagescale.tuning import HyperparameterTuner
from sagescale.tuning._store import TuningStore

pytest.importorskip("sagescale.backends.local")

SCRIPTS = Path(__file__).parent / "scripts"
X = {"x": ContinuousParameter(min_value=0.0, max_value=1.0)}
LOSS = [MetricDefinition(name="loss", regex=r"loss=([-+0-9.eE]+)")]


def _job(**hps: Any) -> TrainingJob:
    return TrainingJob(
        entry_point="objective.py",
        source_dir=str(SCRIPTS),
        framework="pytorch",
        hyperparameters={"epochs": 3, **hps},
    )


def _tuner(**kwargs: Any) -> HyperparameterTuner:
    job = kwargs.pop("training_job", None) or _job()
    tuner = HyperparameterTuner(
        job,
        objective_metric_name="loss",
        objective_type="Minimize",
        metric_definitions=LOSS,
        backend="local",
        **kwargs,
    )
    tuner.poll_interval = 0.02
    return tuner


def test_random_on_local_backend_with_tracking(workspace: Path) -> None:
    tuner = _tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=3, max_parallel_jobs=2)
    desc = tuner.fit()
    assert desc.status == "Completed"
    frame = tuner.analytics().dataframe()
    assert len(frame) == 3 and set(frame["TrainingJobStatus"]) == {"Completed"}
    for _, row in frame.iterrows():
        x = row["x"]
        assert row["FinalObjectiveValue"] == pytest.approx((x - 0.3) ** 2 + x / 3)
        assert (workspace / "jobs" / row["TrainingJobName"]).is_dir()
    assert len(tuner.analytics().curves()) == 9
    from sagescale.tracking._store import get_store

    store = get_store(workspace=workspace)
    assert store.describe_trial(desc.name).name == desc.name
    components = {c.name for c in store.list_trial_components(trial_name=desc.name)}
    assert components == {f"{n}-aws-training-job" for n in frame["TrainingJobName"]}


def test_grid_and_a_failure_on_local_backend(workspace: Path) -> None:
    ranges = {
        "x": CategoricalParameter(values=[0.1, 0.5]),
        "fail": CategoricalParameter(values=["no", "yes"]),
    }
    tuner = _tuner(strategy="Grid", hyperparameter_ranges=ranges, max_parallel_jobs=2)
    desc = tuner.fit()
    jobs = tuner.training_jobs()
    assert sorted((j.hyperparameters["x"], j.hyperparameters["fail"]) for j in jobs) == [
        (0.1, "no"),
        (0.1, "yes"),
        (0.5, "no"),
        (0.5, "yes"),
    ]
    for j in jobs:
        assert j.status == ("Failed" if j.hyperparameters["fail"] == "yes" else "Completed")
    assert desc.status == "Completed"
    assert tuner.training_jobs()[0].hyperparameters  # typed values survive the store
    best = next(j for j in jobs if j.job_name == tuner.best_training_job())
    assert best.hyperparameters == {"x": 0.1, "fail": "no"}


def test_bayesian_on_local_backend(workspace: Path) -> None:
    tuner = _tuner(hyperparameter_ranges=X, max_jobs=4, random_seed=1)
    assert tuner.fit().status == "Completed"
    assert len(tuner.training_jobs()) == 4


def test_hyperband_on_local_backend(workspace: Path) -> None:
    tuner = _tuner(
        training_job=_job(sleep=0.15),
        strategy="Hyperband",
        hyperparameter_ranges=X,
        max_jobs=5,
        max_parallel_jobs=1,
        hyperband=HyperbandConfig(min_resource=1, max_resource=4),
        random_seed=3,
    )
    tuner.fit()
    jobs = tuner.training_jobs()
    assert any(j.status == "Stopped" and j.early_stopped for j in jobs)
    assert all(j.final_objective is not None for j in jobs)


_DRIVER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {tests!r})
    from tuning.test_local_backend import _job, _tuner, X
    tuner = _tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=5, random_seed=2,
                   base_tuning_job_name="killed", training_job=_job(sleep=0.2, hold={hold!r}))
    tuner.fit(job_name="killed-1")
    """
)


def test_kill_and_resume_on_local_backend(workspace: Path) -> None:
    # the third job and later ones wait after epoch 1 until hold/release exists: the kill
    # lands while one runs, however slowly the machine runs
    hold = workspace.parent / "hold"
    hold.mkdir()
    code = _DRIVER.format(tests=str(Path(__file__).parent.parent), hold=str(hold))
    proc = subprocess.Popen([sys.executable, "-c", code], env=os.environ.copy())
    store = TuningStore(__import__("sagescale._workspace")._workspace.Workspace.open(workspace))
    deadline = time.monotonic() + 120
    try:
        while time.monotonic() < deadline:
            try:
                jobs = store.jobs("killed-1")
            except Exception:
                jobs = []
            # kill while a job is running (it reported an epoch), not in the middle of a
            # submit: the local backend waits 2 minutes before failing a job whose
            # submitter died before its supervisor started
            running = any(j.end_time is None and j.curve for j in jobs)
            if sum(j.end_time is not None for j in jobs) >= 2 and running:
                break
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    (hold / "release").touch()
    before = {j.job_name: j for j in store.jobs("killed-1")}
    finished = {n for n, j in before.items() if j.end_time is not None}
    assert len(finished) >= 2 and store.get("killed-1").status == "InProgress"

    tuner = HyperparameterTuner.attach("killed-1")
    tuner.poll_interval = 0.02
    desc = tuner.resume()
    assert desc.status == "Completed"
    jobs = tuner.training_jobs()
    assert len(jobs) == 5 and len({j.job_name for j in jobs}) == 5
    for j in jobs:
        if j.job_name in finished:  # never re-run: same record, same result
            assert j.final_objective == before[j.job_name].final_objective
            assert j.end_time == before[j.job_name].end_time
    from sagescale.backends.local import LocalBackend

    children = LocalBackend().list_jobs(name_contains="killed-1")
    submitted = {  # a job recorded just before the kill may never have been submitted
        j.job_name for j in jobs if "never started" not in (j.failure_reason or "")
    }
    assert sorted(c.job_name for c in children) == sorted(submitted)
    assert all(c.tuning_job_name == "killed-1" for c in children)
