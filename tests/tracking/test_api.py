"""Experiment / Trial / TrialComponent / Tracker / Run against the workspace SQLite store."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from sagescale.errors import NotFoundError, SpecError, TrackingError
from sagescale.tracking import (
    Experiment,
    Run,
    Tracker,
    Trial,
    TrialComponent,
    check_name,
    get_store,
    load_run,
)
from sagescale.tracking._sqlite import SQLiteStore


@pytest.mark.parametrize(
    "bad", ["", "-lead", "trail-", "under_score", "dot.ted", "a" * 121, "sp ace", "é"]
)
def test_bad_names_are_rejected_clearly(bad: str, workspace: Path) -> None:
    with pytest.raises(SpecError) as info:
        Experiment.create(bad)
    assert "experiment_name" in str(info.value) and repr(bad) in str(info.value)
    assert "pattern" in str(info.value)


def test_names_up_to_120_characters(workspace: Path) -> None:
    assert check_name("a" * 120) == "a" * 120
    assert check_name("a--b-9") == "a--b-9"
    with pytest.raises(SpecError):
        check_name(12)


def test_experiment_trial_component_objects(workspace: Path) -> None:
    exp = Experiment.create("churn", description="predict churn", tags={"team": "ml"})
    trial = exp.create_trial("trial-1")
    tc = TrialComponent.create("prep-1", display_name="Preprocessing")
    trial.add_trial_component(tc)
    assert [t.name for t in exp.list_trials()] == ["trial-1"]
    assert [c.name for c in trial.list_trial_components()] == ["prep-1"]
    assert Experiment.load("churn").tags == {"team": "ml"}
    assert [e.name for e in Experiment.list()] == ["churn"]
    assert Trial.load("trial-1").experiment_name == "churn"
    assert TrialComponent.load("prep-1").display_name == "Preprocessing"
    with pytest.raises(NotFoundError):
        Experiment.load("nope")
    with pytest.raises(TrackingError):
        Experiment.create("churn")


def test_tracker_context_manager_records_everything(workspace: Path, tmp_path: Path) -> None:
    Experiment.create("exp")
    trial = Trial.create("t", experiment_name="exp")
    report = tmp_path / "report.txt"
    report.write_text("fine")
    with Tracker.create(display_name="training") as tracker:
        tracker.log_parameters({"lr": 0.1, "optimizer": "adam"})
        tracker.log_parameter("batch_size", 32)
        tracker.log_input("train", "s3://bucket/train", media_type="text/csv")
        tracker.log_output("model", "s3://bucket/model.tar.gz")
        tracker.log_artifact(report, media_type="text/plain")
        for step in range(100):
            tracker.log_metric("loss", 1.0 / (step + 1), step=step)
    trial.add_trial_component(tracker)
    tc = tracker.trial_component
    assert tc.status == "Completed" and tc.record.end_time is not None
    assert tc.parameters == {"lr": 0.1, "optimizer": "adam", "batch_size": 32.0}
    assert tc.input_artifacts["train"].media_type == "text/csv"
    stored = tc.output_artifacts["report.txt"].value
    assert stored.startswith("file://") and Path(stored[7:]).read_text() == "fine"
    assert tc.metrics["loss"].count == 100 and tc.metrics["loss"].last == 0.01
    assert [p.step for p in tc.metric_series("loss")][:3] == [0, 1, 2]
    assert tc.trial_names == ("t",)


def test_tracker_marks_failure(workspace: Path) -> None:
    with pytest.raises(RuntimeError), Tracker.create(trial_component_name="boom") as tracker:
        tracker.log_metric("loss", 1.0)
        raise RuntimeError("diverged")
    tc = TrialComponent.load("boom")
    assert tc.status == "Failed" and "diverged" in (tc.record.status_message or "")
    assert tc.metrics["loss"].count == 1  # what was logged before the crash is kept


def test_a_bad_point_is_rejected_at_the_call_and_loses_nothing(workspace: Path) -> None:
    """The points buffered before a bad timestamp reach the store (a NaN timestamp used to
    fail the flush in close() with sqlite3.IntegrityError, dropping the whole buffer)."""
    with Tracker.create(trial_component_name="buffered") as tracker:
        for step in range(5):
            tracker.log_metric("loss", float(step), step=step)
        with pytest.raises(SpecError):
            tracker.log_metric("loss", 9.0, step=5, timestamp=math.nan)
    tc = TrialComponent.load("buffered")
    assert tc.status == "Completed" and tc.metrics["loss"].count == 5


def test_bad_values_are_rejected(workspace: Path, tmp_path: Path) -> None:
    tracker = Tracker.create(trial_component_name="bad-values")
    with pytest.raises(SpecError, match="must be a string or a number"):
        tracker.log_parameter("p", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="finite"):
        tracker.log_parameter("p", float("nan"))
    with pytest.raises(SpecError, match="real number"):
        tracker.log_metric("loss", "high")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="integer or None"):
        tracker.log_metric("loss", 1.0, step="3")  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="seconds since the epoch"):
        tracker.log_metric("loss", 1.0, timestamp="now")  # type: ignore[arg-type]
    for timestamp in (math.nan, math.inf, 1e300):
        with pytest.raises(SpecError, match="finite number within the years") as info:
            tracker.log_metric("loss", 1.0, timestamp=timestamp)
        assert info.value.field == "timestamp"
    for step in (-1, 2**64):
        with pytest.raises(SpecError, match=r"step .* must be between 0 and") as info:
            tracker.log_metric("loss", 1.0, step=step)
        assert info.value.field == "step" and info.value.value == step
    with pytest.raises(SpecError, match="existing file"):
        tracker.log_artifact(tmp_path / "missing.txt")
    with pytest.raises(SpecError, match="value=None must be a string") as info:
        tracker.log_input("train", None)  # type: ignore[arg-type]
    assert info.value.field == "value"
    with pytest.raises(SpecError, match="media_type=3 must be a string"):
        tracker.log_output("model", "s3://b/m", media_type=3)  # type: ignore[arg-type]
    for name in ("", 3):
        with pytest.raises(SpecError, match="metric name must be a non-empty string"):
            tracker.log_metric(name, 1.0)  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="must be a mapping of names to values"):
        tracker.log_parameters([("lr", 0.1)])  # type: ignore[arg-type]
    with pytest.raises(SpecError, match="status='Done' must be one of"):
        tracker.close(status="Done")
    tracker.log_input("data", tmp_path)  # a path is a value
    tracker.close()
    inputs = TrialComponent.load("bad-values").input_artifacts
    assert set(inputs) == {"data"} and inputs["data"].value == str(tmp_path)
    assert TrialComponent.load("bad-values").output_artifacts == {}
    assert TrialComponent.load("bad-values").metrics == {}  # nothing bad was stored
    assert TrialComponent.load("bad-values").status == "InProgress"


@pytest.mark.parametrize(
    ("create", "field"),
    [
        (lambda: Experiment.create("e", tags=[("a", "b")]), "tags"),  # type: ignore[arg-type]
        (lambda: Experiment.create("e", tags={"a": 5}), "tags"),  # type: ignore[dict-item]
        (lambda: Experiment.create("e", description=5), "description"),  # type: ignore[arg-type]
        (lambda: Trial.create("t", experiment_name="e", display_name=5), "display_name"),  # type: ignore[arg-type]
        (lambda: TrialComponent.create("c", tags={"": "x"}), "tags"),
        (lambda: Tracker.create(display_name=5), "display_name"),  # type: ignore[arg-type]
        (lambda: Run(experiment_name="e", run_name="r", tags={"a": None}), "tags"),  # type: ignore[dict-item]
    ],
)
def test_bad_descriptive_fields_are_rejected_before_anything_is_stored(
    workspace: Path, create: Any, field: str
) -> None:
    with pytest.raises(SpecError) as info:
        create()
    assert info.value.field == field and f"{field}=" in str(info.value)
    assert Experiment.list() == []


def test_tracker_load_outside_a_job(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Tracker.create(trial_component_name="eval-1").close()
    tracker = Tracker.load("eval-1")
    tracker.log_metric("acc", 0.9)
    tracker.close()
    assert TrialComponent.load("eval-1").metrics["acc"].last == 0.9
    monkeypatch.delenv("SAGESCALE_TRIAL_COMPONENT_NAME", raising=False)
    monkeypatch.delenv("TRAINING_JOB_NAME", raising=False)
    with pytest.raises(NotFoundError, match="no trial component"):
        Tracker.load()
    monkeypatch.setenv("TRAINING_JOB_NAME", "job-7")
    with pytest.raises(NotFoundError, match="job-7-aws-training-job"):
        Tracker.load()


def test_run_api(workspace: Path, tmp_path: Path) -> None:
    data = tmp_path / "data.csv"
    data.write_text("x\n1\n")
    with Run(experiment_name="mnist", run_name="run-1") as run:
        run.log_parameters({"epochs": 3})
        run.log_metric("loss", 0.5, step=0)
        run.log_artifact("dataset", "s3://b/mnist", is_output=False)
        run.log_file(data, is_output=False)
    tc = TrialComponent.load("mnist-run-1")
    assert tc.status == "Completed"
    assert set(tc.input_artifacts) == {"dataset", "data.csv"}
    assert tc.trial_names == ("Default-Run-Group-mnist",)
    again = load_run("mnist", "run-1")
    again.log_metric("loss", 0.25, step=1)
    again.close()
    assert TrialComponent.load("mnist-run-1").metrics["loss"].count == 2
    with Run(experiment_name="mnist", run_name="run-2"):
        pass
    assert len(Experiment.load("mnist").list_trial_components()) == 2
    with pytest.raises(SpecError, match="experiment_name and run_name"):
        load_run()


def test_run_names_are_not_truncated_into_one_component(workspace: Path) -> None:
    """SageMaker's rule: a run's experiment and run names have at most 59 characters each.
    Two long run names used to be cut to one 120-character component and share its data."""
    with Run(experiment_name="e" * 59, run_name="r" * 59) as run:
        run.log_metric("loss", 1.0, step=0)
    assert TrialComponent.load(f"{'e' * 59}-{'r' * 59}").metrics["loss"].count == 1
    for kwargs, field in (
        ({"experiment_name": "exp", "run_name": "r" * 60}, "run_name"),
        ({"experiment_name": "e" * 60, "run_name": "run"}, "experiment_name"),
    ):
        with pytest.raises(SpecError, match="at most 59") as info:
            Run(**kwargs)
        assert info.value.field == field and info.value.value == kwargs[field]
        with pytest.raises(SpecError, match="at most 59"):
            load_run(kwargs["experiment_name"], kwargs["run_name"])
    assert [e.name for e in Experiment.list()] == ["e" * 59]  # nothing else was created


def test_a_run_over_an_existing_component_joins_the_run_group(workspace: Path) -> None:
    TrialComponent.create("mnist-warmup")  # created before, in no trial
    with Run(experiment_name="mnist", run_name="warmup") as run:
        run.log_metric("loss", 1.0, step=0)
    tc = TrialComponent.load("mnist-warmup")
    assert tc.trial_names == ("Default-Run-Group-mnist",)
    assert [c.name for c in Experiment.load("mnist").list_trial_components()] == ["mnist-warmup"]


def test_get_store_resolution(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    default = get_store()
    assert isinstance(default, SQLiteStore)
    assert default.workspace.db_path == workspace / "sagescale.db"
    assert get_store(default) is default
    monkeypatch.setenv("SAGESCALE_TRACKING_URI", f"sqlite:///{tmp_path / 'other.db'}")
    env_store = get_store()
    assert isinstance(env_store, SQLiteStore)
    assert env_store.workspace.db_path == tmp_path / "other.db"
    explicit = get_store(f"sqlite:///{tmp_path / 'x' / 'sagescale.db'}")
    assert isinstance(explicit, SQLiteStore)
    assert explicit.workspace.root == tmp_path / "x"
    with pytest.raises(SpecError, match="not supported"):
        get_store("postgres://db")
    with pytest.raises(SpecError, match="unknown"):
        get_store("sagemaker://?colour=blue")
    with pytest.raises(SpecError):
        get_store(42)  # type: ignore[arg-type]


def test_sqlite_schema_is_indexed_and_wal(workspace: Path) -> None:
    store = get_store()
    assert isinstance(store, SQLiteStore)
    ws = store.workspace
    assert ws.query("PRAGMA journal_mode")[0][0] == "wal"
    version = ws.query("SELECT version FROM schema_versions WHERE namespace = 'tracking'")
    assert version[0][0] == 3
    names = {r[0] for r in ws.query("SELECT name FROM sqlite_master")}
    assert {"tracking_artifacts_value", "tracking_metric_batches"} <= names
    for table in ("tracking_experiments", "tracking_trials", "tracking_components"):
        plan = ws.query(
            f"EXPLAIN QUERY PLAN SELECT id FROM {table} WHERE name = ? COLLATE NOCASE", ("a",)
        )
        assert f"{table}_name_nocase" in " ".join(str(r[-1]) for r in plan)  # no table scan


def test_public_names() -> None:
    import sagescale.tracking as tracking

    assert sorted(tracking.__all__) == sorted(set(tracking.__all__))
    for name in tracking.__all__:
        assert getattr(tracking, name) is not None


def test_one_store_from_several_threads(workspace: Path) -> None:
    import threading

    store = get_store()

    def work(i: int) -> None:
        with Tracker.create(trial_component_name=f"thread-{i}", store=store) as tracker:
            for step in range(2_000):
                tracker.log_metric("loss", float(step), step=step)
                if step % 500 == 0:
                    tracker.flush()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert isinstance(store, SQLiteStore)
    assert [store.count_metric_points(f"thread-{i}") for i in range(4)] == [2_000] * 4
    assert TrialComponent.load("thread-3").metrics["loss"].max == 1_999.0


@pytest.mark.parametrize("names", [2, 5])
def test_summaries_match_a_direct_computation(tmp_path: Path, names: int) -> None:
    import random

    from sagescale.tracking import MetricPoint
    from sagescale.tracking._model import summarize

    store = SQLiteStore.from_path(tmp_path / "s.db")
    store.create_trial_component("tc")
    rng = random.Random(names)
    logged: dict[str, list[float]] = {}
    for batch in range(3):
        points = []
        for i in range(50):
            name = f"m{rng.randrange(names)}"
            value = rng.gauss(1e6, 3.0)  # a large mean and a small spread
            logged.setdefault(name, []).append(value)
            points.append(MetricPoint(name, value, batch * 50 + i, 1.0))
        store.log_metrics("tc", points)
    got = store.describe_trial_component("tc").metrics
    for name, values in logged.items():
        want = summarize(name, values)
        assert got[name].count == want.count and got[name].last == want.last
        assert (got[name].min, got[name].max) == (want.min, want.max)
        assert got[name].avg == pytest.approx(want.avg, rel=1e-12)
        assert got[name].std_dev == pytest.approx(want.std_dev, rel=1e-6)


@pytest.mark.parametrize("uri", [5, None, ""])
def test_lineage_needs_a_uri(workspace: Path, uri: Any) -> None:
    from sagescale.tracking import model_lineage, models_trained_on

    with pytest.raises(SpecError, match=r"model_artifact_uri=.* must be a non-empty URI"):
        model_lineage(uri)
    with pytest.raises(SpecError, match=r"dataset_uri=.* must be a non-empty URI"):
        models_trained_on(uri)  # "" would otherwise be a prefix of every data set


def test_local_inputs_are_recorded_as_absolute_paths(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job run with inputs={"train": "data/train"} from a project folder is traced to
    that folder's data (a relative path named different data in every folder)."""
    from sagescale.tracking import autotrack, model_lineage, models_trained_on

    project = tmp_path / "project"
    (project / "data" / "train").mkdir(parents=True)
    monkeypatch.chdir(project)
    store = get_store()
    autotrack.record_training_job_start(
        store,
        job_name="rel-1",
        experiment_config=None,
        base_job_name="rel",
        hyperparameters={},
        instance_type="local",
        instance_count=1,
        distribution=None,
        input_channels={"train": "data/train", "remote": "s3://b/data"},
        environment_names=[],
        source_dir="src",
    )
    autotrack.record_training_job_end(
        store, job_name="rel-1", status="Completed", model_artifact="s3://b/model.tar.gz"
    )
    lineage = model_lineage("s3://b/model.tar.gz")
    train = str(project / "data" / "train")
    assert lineage.input_data == {"train": train, "remote": "s3://b/data"}
    assert lineage.code["SageScale.SourceDir"] == str(project / "src")
    assert [m.training_job_name for m in models_trained_on(str(project / "data"))] == ["rel-1"]
    assert [m.training_job_name for m in models_trained_on("data")] == ["rel-1"]
    monkeypatch.chdir(tmp_path)  # elsewhere, "data" is another folder
    assert models_trained_on("data") == []


def test_runs_started_at_once_by_two_processes(tmp_path: Path) -> None:
    """Between Run's look-up and its create, another process may create the run group or
    the component: the second Run uses them (it raised TrackingError 'already exists')."""
    from sagescale.tracking._sqlite import SQLiteStore

    class OtherProcessWins(SQLiteStore):
        """A store where every look-up misses what the other process has just created."""

        def describe_trial(self, name: str) -> Any:
            if name not in self.seen:
                self.seen.add(name)
                raise NotFoundError(name)
            return super().describe_trial(name)

        def describe_trial_component(self, name: str) -> Any:
            if name not in self.seen:
                self.seen.add(name)
                raise NotFoundError(name)
            return super().describe_trial_component(name)

    first = SQLiteStore.from_path(tmp_path / "ws" / "sagescale.db")
    with Run(experiment_name="race", run_name="r1", store=first) as run:
        run.log_metric("loss", 1.0, step=0)
    second = OtherProcessWins.from_path(tmp_path / "ws" / "sagescale.db")
    second.seen = set()  # type: ignore[attr-defined]
    with Run(experiment_name="race", run_name="r1", store=second) as run:
        run.log_metric("loss", 0.5, step=1)
    tc = TrialComponent.load("race-r1", store=first)
    assert tc.metrics["loss"].count == 2 and tc.trial_names == ("Default-Run-Group-race",)


def test_a_job_in_a_trial_of_another_experiment_is_refused(workspace: Path) -> None:
    """experiment_config {"ExperimentName": "A", "TrialName": T} with T a trial of B: the job
    was recorded in B while the names said A (and an empty A was created)."""
    from sagescale.tracking import autotrack

    Experiment.create("exp-b").create_trial("shared-trial")
    store = get_store()
    with pytest.raises(SpecError, match="is a trial of experiment 'exp-b'") as info:
        autotrack.record_training_job_start(
            store,
            job_name="job-a",
            experiment_config={"ExperimentName": "exp-a", "TrialName": "shared-trial"},
            base_job_name="job",
            hyperparameters={},
            instance_type="local",
            instance_count=1,
            distribution=None,
            input_channels={},
            environment_names=[],
        )
    assert info.value.field == "experiment_config.TrialName"
    assert [e.name for e in Experiment.list()] == ["exp-b"]
    assert store.list_trial_components() == []
