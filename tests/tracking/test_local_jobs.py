"""End to end with the local backend: a real job logs with Tracker.load() / load_run(), the
orchestrator ingests, autotrack records the job, lineage and analytics read it back."""

from __future__ import annotations

import textwrap
from pathlib import Path

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
