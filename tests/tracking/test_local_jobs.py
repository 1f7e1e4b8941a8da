"""End to end with the local backend: a real job logs with Tracker.load() / load_run(), the
orchestrator ingests, autotrack records the job, lineage and analytics read it back."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from sagescale._workspace import Workspace
from sagescale.backends import JobStatus
from sagescale.backends.local import LocalBackend
from sagescale.specs import TrainingJob
from sagescale.tracking import ExperimentAnalytics, model_lineage
from sagescale.tracking._sqlite import SQLiteStore

TRAIN = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from sagescale.tracking import Tracker, load_run

    with Tracker.load() as tracker:
        tracker.log_parameter("seed", 7)
        for epoch in range(20):
            tracker.log_metric("train:loss", 1.0 / (epoch + 1), step=epoch)
        notes = Path(os.environ["SM_OUTPUT_DATA_DIR"]) / "notes.txt"
        notes.write_text("ok")
        tracker.log_artifact(notes)
    load_run().log_metric("val:acc", 0.9, step=19)
    Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("weights")
    heavy = {"pandas", "boto3", "mlflow"} & set(sys.modules)
    assert not heavy, heavy
    print("done", flush=True)
    """
)


def test_a_local_job_is_tracked_end_to_end(workspace: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TRAIN)
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.csv").write_text("x\n1\n")
    backend = LocalBackend(workspace)
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(src),
        base_job_name="e2e",
        hyperparameters={"lr": 0.1},
        inputs={"train": str(data)},
        environment={"API_TOKEN": "s3cr3t"},
    )
    name = backend.submit(job)
    desc = backend.wait(name, timeout=120, raise_on_failure=True)
    store = SQLiteStore(backend.workspace)
    tc = store.describe_trial_component(f"{name}-aws-training-job")
    assert tc.status == "Completed" and tc.experiment_names == ("e2e",)
    assert tc.metrics["train:loss"].count == 20 and tc.metrics["val:acc"].last == 0.9
    assert tc.parameters["seed"] == 7.0 and tc.parameters["lr"] == "0.1"
    assert tc.parameters["SageScale.EnvironmentNames"] == "API_TOKEN"
    assert "s3cr3t" not in repr(tc)  # environment values are never recorded
    tables = store.workspace.query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'tracking_%'"
    )
    assert len(tables) >= 5
    for (table,) in tables:  # nowhere in the experiment store
        rows = store.workspace.query(f"SELECT * FROM {table}")
        assert not any("s3cr3t" in str(tuple(r)) for r in rows), table
    assert "notes.txt" in tc.output_artifacts
    lineage = model_lineage(str(desc.model_artifacts), store=store)
    assert lineage.training_job_name == name
    assert set(lineage.input_data) == {"train"}
    df = ExperimentAnalytics("e2e", store=store).dataframe()
    assert df.loc[0, "train:loss - Min"] == 0.05


def test_session_records_its_jobs_in_its_own_tracking_store(
    workspace: Path, tmp_path: Path
) -> None:
    """``Session(tracking=...)`` is the store of the jobs the session runs, so that
    ``session.analytics`` finds them (they used to go to the workspace database only)."""
    import sagescale as ss

    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        "from sagescale.tracking import Tracker\n"
        "with Tracker.load() as t:\n"
        "    t.log_metric('loss', 0.5, step=0)\n"
    )
    session = ss.Session(workspace=workspace, tracking=f"sqlite:///{tmp_path / 'exp.db'}")
    job = TrainingJob(entry_point="train.py", source_dir=str(src), base_job_name="own-store")
    run = session.fit(job)
    df = session.analytics("own-store").dataframe()
    assert list(df["TrialComponentName"]) == [f"{run.job_name}-aws-training-job"]
    assert df.loc[0, "loss - Last"] == 0.5
    in_workspace = SQLiteStore(LocalBackend(workspace).workspace).list_experiments()
    assert "own-store" not in [e.name for e in in_workspace]


def test_a_session_tuning_job_is_a_trial_group_in_the_session_store(
    workspace: Path, tmp_path: Path
) -> None:
    import sagescale as ss
    from sagescale.tracking import Trial

    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        "from sagescale import runtime\nruntime.log_metric('val_loss', 0.5, step=0)\n"
    )
    session = ss.Session(workspace=workspace, tracking=f"sqlite:///{tmp_path / 'exp.db'}")
    job = TrainingJob(entry_point="train.py", source_dir=str(src), base_job_name="tn")
    tuner = session.tuner(
        job,
        objective_metric_name="val_loss",
        objective_type="Minimize",
        hyperparameter_ranges={"epochs": ss.IntegerParameter(min_value=1, max_value=3)},
        strategy="Random",
        max_jobs=2,
        max_parallel_jobs=2,
    )
    desc = tuner.fit()
    trial = Trial.load(desc.name, store=session.tracking_store)
    components = sorted(c.name for c in trial.list_trial_components())
    jobs = sorted(f"{j}-aws-training-job" for j in tuner.analytics().dataframe()["TrainingJobName"])
    assert components == jobs and len(jobs) == 2


# The orchestrator of a job, killed (SIGKILL) while it records the job's end: the store it
# records in kills its own process at the first metric points ("metrics") or at the final
# status update, after the points ("status").
KILLED_ORCHESTRATOR = textwrap.dedent(
    """
    import os, signal, sys
    from sagescale._workspace import Workspace
    from sagescale.backends.local import LocalBackend
    from sagescale.specs import TrainingJob
    from sagescale.tracking._sqlite import SQLiteStore

    WHEN = sys.argv[3]

    class KilledRecordingTheEnd(SQLiteStore):
        def log_metrics(self, name, points):
            if WHEN == "metrics":
                os.kill(os.getpid(), signal.SIGKILL)
            super().log_metrics(name, points)

        def update_trial_component(self, name, **changes):
            if WHEN == "status" and changes.get("end_time") is not None:
                os.kill(os.getpid(), signal.SIGKILL)
            super().update_trial_component(name, **changes)

    workspace = Workspace.open(sys.argv[1])
    backend = LocalBackend(workspace, tracking_store=KilledRecordingTheEnd(workspace))
    job = TrainingJob(
        entry_point="train.py",
        source_dir=sys.argv[2],
        base_job_name="orphaned",
        metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
    )
    backend.wait(backend.submit(job, job_name="orphaned-end"), timeout=120)
    print("survived", flush=True)
    """
)
DESCRIBE = (
    "import sys\nfrom sagescale.backends.local import LocalBackend\n"
    "LocalBackend(sys.argv[1]).list_jobs()\n"
)


@pytest.mark.parametrize("killed_at", ["metrics", "status"])
def test_the_end_of_a_job_whose_orchestrator_died_is_recorded_exactly_once(
    workspace: Path, tmp_path: Path, killed_at: str
) -> None:
    """The supervisor finalised the job, its orchestrator died before (or while) recording the
    end in tracking: the component stayed InProgress and its regex metrics were never
    recorded. The next describe/list/wait from any process records them, once."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(
        "import sys\n"
        "for epoch in range(5):\n"
        "    print(f'loss={1.0 / (epoch + 1)}', flush=True)\n"
        "sys.exit('diverged')\n"
    )
    script = tmp_path / "orchestrator.py"
    script.write_text(KILLED_ORCHESTRATOR)
    orchestrator = subprocess.run(
        [sys.executable, str(script), str(workspace), str(src), killed_at],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert orchestrator.returncode == -signal.SIGKILL, orchestrator.stderr
    store = SQLiteStore(Workspace.open(workspace))
    component = "orphaned-end-aws-training-job"
    assert store.describe_trial_component(component).status == "InProgress"
    # two processes describe it at once (either may record it), then this one
    racers = [subprocess.Popen([sys.executable, "-c", DESCRIBE, str(workspace)]) for _ in range(2)]
    assert [r.wait(timeout=120) for r in racers] == [0, 0]
    backend = LocalBackend(workspace)
    desc = backend.describe("orphaned-end")
    backend.wait("orphaned-end", timeout=10)
    backend.attach("orphaned-end")
    assert desc.status is JobStatus.FAILED and desc.failure_reason
    tc = store.describe_trial_component(component)
    assert tc.status == "Failed"
    assert tc.status_message == desc.failure_reason
    assert tc.end_time is not None
    assert tc.metrics["loss"].count == 5 and tc.metrics["loss"].last == 0.2
    assert [p.value for p in store.metric_series(component, "loss")] == [
        1.0,
        0.5,
        1.0 / 3,
        0.25,
        0.2,
    ]
    assert backend.workspace.query(
        "SELECT tracking_pending, tracking_owner FROM jobs_training WHERE name = ?",
        ("orphaned-end",),
    )[0][:] == (0, None)
