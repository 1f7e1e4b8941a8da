"""Jobs write JSON lines; the orchestrator ingests them exactly once (reliability tests)."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from sagescale.errors import TrackingError
from sagescale.testing.stores import StoreCase
from sagescale.tracking import (
    JobFileWriter,
    MetricPoint,
    Tracker,
    TrialComponent,
    ingest_job_files,
)
from sagescale.tracking._sqlite import SQLiteStore

JOB = textwrap.dedent(
    """
    import sys
    from sagescale.tracking import Tracker, load_run

    n, crash = int(sys.argv[1]), sys.argv[2] == "crash"
    tracker = Tracker.load()
    tracker.log_parameters({"lr": 0.1, "optimizer": "adam"})
    tracker.log_input("train", "file:///data/train")
    for step in range(n):
        tracker.log_metric("loss", 1.0 / (step + 1), step=step)
    run = load_run()
    run.log_metric("acc", 0.5, step=0)
    heavy = {"pandas", "boto3", "mlflow", "botocore"} & set(sys.modules)
    assert not heavy, f"heavy imports inside the job: {heavy}"
    if crash:
        raise SystemExit("job crashed")  # no close(): the exit hook flushes
    tracker.close()
    """
)


def _job_env(tracking_dir: Path, component: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        SAGESCALE_TRACKING_DIR=str(tracking_dir),
        SAGESCALE_TRIAL_COMPONENT_NAME=component,
        SAGESCALE_EXPERIMENT_NAME="exp",
        SAGESCALE_TRIAL_NAME="trial",
    )
    env.pop("SAGESCALE_WORKSPACE", None)  # a job cannot reach the database
    return env


def _start_job(
    tmp_path: Path, component: str, n: int, crash: bool = False
) -> subprocess.Popen[bytes]:
    script = tmp_path / "job.py"
    if not script.exists():  # rewriting it while another job starts would truncate it
        script.write_text(JOB)
    return subprocess.Popen(
        [sys.executable, str(script), str(n), "crash" if crash else "ok"],
        env=_job_env(tmp_path / component, component),
        stderr=subprocess.PIPE,
    )


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    return SQLiteStore.from_path(tmp_path / "ws" / "sagescale.db")


def test_job_records_reach_the_store(store: SQLiteStore, tmp_path: Path) -> None:
    store.create_trial_component("job-a")
    job = _start_job(tmp_path, "job-a", 500)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 0, err.decode()
    assert ingest_job_files(store, tmp_path / "job-a", "job-a") == 500 + 1 + 2 + 1
    assert ingest_job_files(store, tmp_path / "job-a", "job-a") == 0
    tc = TrialComponent.load("job-a", store=store)
    assert tc.metrics["loss"].count == 500 and tc.metrics["acc"].count == 1
    assert tc.parameters == {"lr": 0.1, "optimizer": "adam"}
    assert tc.input_artifacts["train"].value == "file:///data/train"


def test_partial_lines_wait_for_their_newline(store: SQLiteStore, tmp_path: Path) -> None:
    store.create_trial_component("tc")
    path = tmp_path / "1-x.jsonl"
    path.write_bytes(b'{"m":"loss","v":1.0,"s":0,"t":1.0}\n{"m":"loss","v":2')
    assert ingest_job_files(store, tmp_path, "tc") == 1
    with path.open("ab") as fh:
        fh.write(b'.0,"s":1,"t":2.0}\n')
    assert ingest_job_files(store, tmp_path, "tc") == 1
    assert [p.value for p in store.metric_series("tc", "loss")] == [1.0, 2.0]


def test_malformed_metric_in_a_fast_chunk_is_skipped(store: SQLiteStore, tmp_path: Path) -> None:
    store.create_trial_component("tc")
    (tmp_path / "1-x.jsonl").write_bytes(
        b'{"m":"a","v":1.0,"s":0,"t":1.0}\n{"m":"a","v":"high","s":1,"t":2.0}\n'
        b'{"m":"a","v":3.0,"s":2,"t":3.0}\n{"m":"a","v":4.0,"t":4.0}\n'
    )
    ingest_job_files(store, tmp_path, "tc")
    assert [p.value for p in store.metric_series("tc", "a")] == [1.0, 3.0]


@pytest.mark.parametrize("kind", ["fast", "mixed"])
def test_an_unstorable_point_does_not_block_the_file(
    store: SQLiteStore, tmp_path: Path, kind: str
) -> None:
    """A NaN timestamp or a step beyond 64 bits is skipped; the points around it, and the
    records after it, are ingested (the chunk used to fail on every ingest, forever)."""
    store.create_trial_component("tc")
    lines = [
        b'{"m":"a","v":1.0,"s":0,"t":1.0}',
        b'{"m":"a","v":2.0,"s":1,"t":NaN}',
        b'{"m":"a","v":3.0,"s":1180591620717411303424,"t":3.0}',
        b'{"m":"a","v":4.0,"s":3,"t":4.0}',
    ]
    if kind == "mixed":
        lines.append(b'{"p":"lr","v":0.5}')
    (tmp_path / "1-x.jsonl").write_bytes(b"\n".join(lines) + b"\n")
    ingest_job_files(store, tmp_path, "tc")
    assert [p.value for p in store.metric_series("tc", "a")] == [1.0, 4.0]
    assert ingest_job_files(store, tmp_path, "tc") == 0  # the offset moved on


def test_an_infinite_loss_does_not_block_later_records(store: SQLiteStore, tmp_path: Path) -> None:
    """A diverged loss (inf) used to make every later chunk of the metric fail on the
    summary's NOT NULL mean, so the job's remaining records were never ingested."""
    store.create_trial_component("tc")
    writer = JobFileWriter(tmp_path)
    writer.metric("loss", 1.0, 0, 1.0)
    writer.metric("loss", math.inf, 1, 2.0)
    writer.flush()
    assert ingest_job_files(store, tmp_path, "tc") == 2
    writer.metric("loss", 2.0, 2, 3.0)
    writer.metric("acc", 0.5, 2, 3.0)
    writer.close()
    assert ingest_job_files(store, tmp_path, "tc") == 2
    metrics = store.describe_trial_component("tc").metrics
    assert metrics["loss"].count == 3 and metrics["loss"].max == math.inf
    assert metrics["loss"].last == 2.0 and metrics["acc"].count == 1


def test_migration_2_repairs_summaries_that_hold_an_infinity(tmp_path: Path) -> None:
    """A database written before migration 2 (its summary mean is inf) is read correctly and
    takes new points of that metric."""
    import sqlite3

    db = tmp_path / "old.db"
    store = SQLiteStore.from_path(db)
    store.create_trial_component("tc")
    store.log_metrics("tc", [MetricPoint("x", v, i, 1.0) for i, v in enumerate([1.0, 3.0])])
    store.log_metrics("tc", [MetricPoint("x", math.inf, 2, 1.0)])
    store.close()
    conn = sqlite3.connect(db)  # back to version 1, with what version 1 stored
    conn.executescript(
        "ALTER TABLE tracking_metric_summaries DROP COLUMN finite;"
        "UPDATE tracking_metric_summaries SET mean = 9e999, m2 = 9e999;"
        "UPDATE schema_versions SET version = 1 WHERE namespace = 'tracking';"
    )
    conn.close()
    store = SQLiteStore.from_path(db)
    store.log_metrics("tc", [MetricPoint("x", 5.0, 3, 1.0)])
    summary = store.describe_trial_component("tc").metrics["x"]
    assert (summary.count, summary.max, summary.avg, summary.last) == (4, math.inf, math.inf, 5.0)
    finite = store.workspace.query("SELECT finite, mean, m2 FROM tracking_metric_summaries")
    assert tuple(finite[0]) == (3, 3.0, 8.0)  # 1, 3 and 5


def test_migration_3_keeps_names_that_differ_only_in_case(tmp_path: Path) -> None:
    """A database from before migration 3 may hold two experiments (and components) whose
    names differ only in case: each is still found by its exact name; a third case variant
    finds one of them and cannot be created."""
    import sqlite3

    db = tmp_path / "old.db"
    SQLiteStore.from_path(db).close()
    conn = sqlite3.connect(db)  # back to version 2, with two case variants of each name
    conn.executescript(
        "DROP INDEX tracking_experiments_name_nocase; DROP INDEX tracking_trials_name_nocase;"
        "DROP INDEX tracking_components_name_nocase;"
        "INSERT INTO tracking_experiments (name, display_name, created)"
        " VALUES ('Exp', 'Exp', 1), ('exp', 'exp', 2);"
        "INSERT INTO tracking_components (name, display_name, created, modified)"
        " VALUES ('Tc', 'Tc', 1, 1), ('tc', 'tc', 2, 2);"
        "UPDATE schema_versions SET version = 2 WHERE namespace = 'tracking';"
    )
    conn.close()
    store = SQLiteStore.from_path(db)
    assert [store.describe_experiment(n).name for n in ("Exp", "exp")] == ["Exp", "exp"]
    store.log_metrics("tc", [MetricPoint("x", 1.0, 0, 1.0)])
    store.log_metrics("Tc", [MetricPoint("x", 2.0, 0, 1.0), MetricPoint("x", 3.0, 1, 1.0)])
    assert [store.count_metric_points(n) for n in ("Tc", "tc")] == [2, 1]
    assert [p.value for p in store.metric_series("tc", "x")] == [1.0]
    assert store.describe_experiment("EXP").name in {"Exp", "exp"}
    with pytest.raises(TrackingError, match="already exists"):
        store.create_experiment("EXP")


def test_other_stores_skip_an_unstorable_point(mlflow_case: StoreCase, tmp_path: Path) -> None:
    store = mlflow_case.store
    name = f"unstorable-{os.getpid()}-{time.monotonic_ns()}"
    store.create_trial_component(name)
    (tmp_path / "1-x.jsonl").write_bytes(
        b'{"m":"a","v":1.0,"s":0,"t":1.0}\n{"m":"a","v":2.0,"s":1,"t":NaN}\n'
    )
    ingest_job_files(store, tmp_path, name)
    assert [p.value for p in store.metric_series(name, "a")] == [1.0]


def test_malformed_lines_are_skipped(store: SQLiteStore, tmp_path: Path) -> None:
    store.create_trial_component("tc")
    (tmp_path / "1-x.jsonl").write_bytes(b'not json\n{"zz":1}\n{"m":"a","v":1,"s":null,"t":1}\n')
    assert ingest_job_files(store, tmp_path, "tc") == 1
    assert ingest_job_files(store, tmp_path / "missing", "tc") == 0


def test_writer_flushes_in_batches(tmp_path: Path) -> None:
    writer = JobFileWriter(tmp_path, flush_records=100, flush_seconds=3600)
    for i in range(250):
        writer.metric("loss", float(i), i, 1.0)
    assert writer.path.read_text().count("\n") == 200
    writer.metric("nan", float("nan"), None, 1.0)
    writer.close()
    lines = writer.path.read_text().splitlines()
    assert len(lines) == 251 and "NaN" in lines[-1]
    store = SQLiteStore.from_path(tmp_path / "db" / "sagescale.db")
    store.create_trial_component("tc")
    assert ingest_job_files(store, tmp_path, "tc") == 251
    assert math.isnan(store.metric_series("tc", "nan")[0].value)
    assert store.describe_trial_component("tc").metrics["loss"].count == 250


@pytest.mark.slow
def test_eight_concurrent_jobs_give_exactly_80000_points(
    store: SQLiteStore, tmp_path: Path
) -> None:
    names = [f"job-{i}" for i in range(8)]
    for name in names:
        store.create_trial_component(name)
    jobs = [_start_job(tmp_path, name, 10_000) for name in names]
    while any(j.poll() is None for j in jobs):  # ingest while the jobs are logging
        for name in names:
            ingest_job_files(store, tmp_path / name, name)
        time.sleep(0.05)
    assert [j.communicate(timeout=10)[1] for j in jobs] == [b""] * 8
    assert all(j.returncode == 0 for j in jobs)
    for name in names:
        ingest_job_files(store, tmp_path / name, name)
    rows = store.workspace.query(
        "SELECT COUNT(*), COUNT(DISTINCT component_id || ':' || step) FROM tracking_metrics "
        "WHERE name = 'loss'"
    )
    assert tuple(rows[0]) == (80_000, 80_000)
    assert all(store.count_metric_points(n) == 10_001 for n in names)  # + one "acc" point


def _write_points(directory: Path, files: int, per_file: int) -> None:
    for f in range(files):
        writer = JobFileWriter(directory, flush_records=50_000)
        for step in range(per_file):
            writer.metric(f"m{f}", float(step), step, 1_700_000_000.0 + step)
        writer.close()


INGESTER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sagescale.tracking import ingest_job_files
    from sagescale.tracking._sqlite import SQLiteStore

    store = SQLiteStore.from_path(Path(sys.argv[1]))
    print("ready", flush=True)
    ingest_job_files(store, sys.argv[2], "tc", chunk_bytes=16_384)
    """
)


@pytest.mark.slow
def test_orchestrator_killed_mid_ingest_loses_and_duplicates_nothing(
    store: SQLiteStore, tmp_path: Path
) -> None:
    store.create_trial_component("tc")
    job_dir = tmp_path / "job"
    _write_points(job_dir, files=4, per_file=25_000)
    total = 100_000
    script = tmp_path / "ingester.py"
    script.write_text(INGESTER)
    db = store.workspace.db_path
    for _ in range(2):  # kill it twice, at different points
        proc = subprocess.Popen(
            [sys.executable, str(script), str(db), str(job_dir)], stdout=subprocess.PIPE
        )
        assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
        before = store.count_metric_points()
        deadline = time.monotonic() + 60
        while store.count_metric_points() <= before + 5_000 and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        proc.stdout.close()
        assert before < store.count_metric_points() < total
    ingest_job_files(store, job_dir, "tc")  # restart: finish the job
    rows = store.workspace.query(
        "SELECT COUNT(*), COUNT(DISTINCT name || ':' || step) FROM tracking_metrics"
    )
    assert tuple(rows[0]) == (total, total)
    summary = store.describe_trial_component("tc").metrics["m0"]
    assert summary.count == 25_000 and summary.max == 24_999.0


def test_a_crashing_job_keeps_what_it_logged(store: SQLiteStore, tmp_path: Path) -> None:
    store.create_trial_component("crash")
    job = _start_job(tmp_path, "crash", 3_000, crash=True)
    _, err = job.communicate(timeout=60)
    assert job.returncode == 1 and b"job crashed" in err
    ingest_job_files(store, tmp_path / "crash", "crash")
    assert store.describe_trial_component("crash").metrics["loss"].count == 3_000


def test_artifact_files_logged_in_a_job(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store.create_trial_component("art")
    job_dir = tmp_path / "job"
    for key, value in _job_env(job_dir, "art").items():
        monkeypatch.setenv(key, value)
    report = tmp_path / "report.json"
    report.write_text("{}")
    tracker = Tracker.load()
    tracker.log_artifact(report, name="report.json")
    tracker.close()
    report.unlink()  # the job may delete it: a copy was taken
    ingest_job_files(store, job_dir, "art")
    uri = store.describe_trial_component("art").output_artifacts["report.json"].value
    assert Path(uri.removeprefix("file://")).read_text() == "{}"


def test_artifact_names_with_slashes_logged_in_a_job(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tracker.log_artifact(path, name="plots/loss.png") inside a job raised
    FileNotFoundError in the job; "../../x" wrote outside the workspace's artifacts."""
    store.create_trial_component("art")
    job_dir = tmp_path / "job"
    for key, value in _job_env(job_dir, "art").items():
        monkeypatch.setenv(key, value)
    report = tmp_path / "loss.png"
    report.write_text("png")
    tracker = Tracker.load()
    tracker.log_artifact(report, name="plots/loss.png")
    tracker.log_artifact(report, name="../../sagescale.db")
    tracker.close()
    ingest_job_files(store, job_dir, "art")
    outputs = store.describe_trial_component("art").output_artifacts
    assert set(outputs) == {"plots/loss.png", "../../sagescale.db"}
    artifacts = store.workspace.artifacts_dir / "art"
    for artifact in outputs.values():
        path = Path(artifact.value.removeprefix("file://"))
        assert path.parent == artifacts and path.read_text() == "png"
    assert store.count_metric_points() == 0  # the database is intact


def test_other_stores_ingest_at_least_once_without_duplicates(
    mlflow_case: StoreCase, tmp_path: Path
) -> None:
    store = mlflow_case.store
    name = f"ingest-{os.getpid()}-{time.monotonic_ns()}"
    store.create_trial_component(name)
    _write_points(tmp_path, files=2, per_file=300)
    assert ingest_job_files(store, tmp_path, name) == 600
    assert ingest_job_files(store, tmp_path, name) == 0  # offsets kept beside the files
    assert store.describe_trial_component(name).metrics["m1"].count == 300


def test_creating_runs_inside_a_job_needs_a_store(
    store: SQLiteStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Run(...) / Tracker.create() inside a local job used to create a new database in the
    job's folder (its records never reached the workspace): now a SpecError says to use
    Tracker.load() / load_run() or a store."""
    from sagescale.errors import SpecError
    from sagescale.tracking import Experiment, Run, load_run

    for key, value in _job_env(tmp_path / "job", "job-1").items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("SAGESCALE_TRACKING_URI", raising=False)
    monkeypatch.chdir(tmp_path)
    for create in (
        lambda: Run(experiment_name="inside", run_name="r1"),
        lambda: Tracker.create(display_name="x"),
        lambda: Experiment.create("inside"),
    ):
        with pytest.raises(SpecError, match="inside a training job") as info:
            create()
        assert info.value.field == "store"
    assert not (tmp_path / ".sagescale").exists()
    own = load_run()  # the job's own run still works
    own.log_metric("m", 1.0, step=0)
    own.close()
    store.create_trial_component("job-1")
    assert ingest_job_files(store, tmp_path / "job", "job-1") == 1
    with Run(experiment_name="inside", run_name="r1", store=store) as run:  # a store is named
        run.log_metric("m", 1.0, step=0)
    assert store.describe_trial_component("inside-r1").metrics["m"].count == 1
