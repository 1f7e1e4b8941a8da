"""The tuner end to end on an in-process backend (threads as training jobs)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from sagescale.errors import SpecError, TuningError
from sagescale.specs import (
    CategoricalParameter,
    CompletionCriteria,
    ContinuousParameter,
    HyperbandConfig,
    IntegerParameter,
    TrainingJob,
    WarmStartConfig,
)
from sagescale.tuning import HyperparameterTuner

from ._fakes import JobContext, ThreadBackend

Make = Callable[..., HyperparameterTuner]
X = {"x": ContinuousParameter(min_value=0.0, max_value=1.0)}
COLUMNS = [
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
]


def _values(tuner: HyperparameterTuner) -> list[dict[str, Any]]:
    return [j.hyperparameters for j in tuner.training_jobs()]


def test_random_end_to_end_and_analytics(make_tuner: Make, backend: ThreadBackend) -> None:
    ranges = {**X, "kind": CategoricalParameter(values=["a", "b", "c"])}
    tuner = make_tuner(
        strategy="Random",
        hyperparameter_ranges=ranges,
        max_jobs=6,
        max_parallel_jobs=2,
        random_seed=1,
    )
    desc = tuner.fit()
    assert desc.status == "Completed"
    assert desc.completion_reason == "MaxNumberOfTrainingJobsReached"
    frame = tuner.analytics().dataframe()
    assert list(frame.columns) == ["kind", "x", *COLUMNS]
    assert len(frame) == 6 and set(frame["TrainingJobStatus"]) == {"Completed"}
    best = frame.sort_values("FinalObjectiveValue")["TrainingJobName"].iloc[-1]
    assert tuner.best_training_job() == best == desc.best_training_job
    # the training jobs got the tuned values and the static ones, and know their tuning job
    first = backend.jobs[frame["TrainingJobName"][0]]
    assert first.tuning_job_name == desc.name
    assert first.hyperparameters["epochs"] == "4"
    assert float(first.hyperparameters["x"]) == frame["x"][0]
    curves = tuner.analytics().curves()
    assert list(curves.columns) == ["TrainingJobName", "Epoch", "ObjectiveValue"]
    assert len(curves) == 6 * 4
    ordered = tuner.analytics().dataframe(sort_by_final_metric=True)
    assert ordered["TrainingJobName"][0] == best
    html = tuner.analytics()._repr_html_()  # the notebook view
    assert "6 training jobs · objective score (Maximize)" in html
    assert f"best {best} = " in html and 'class="best"' in html


def test_random_seed_reproducible(make_tuner: Make) -> None:
    runs = []
    for _ in range(2):
        tuner = make_tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=3, random_seed=7)
        tuner.fit()
        runs.append(_values(tuner))
    assert runs[0] == runs[1]


def test_bayesian_end_to_end(make_tuner: Make) -> None:
    tuner = make_tuner(hyperparameter_ranges=X, max_jobs=5, random_seed=3)
    assert tuner.spec.strategy == "Bayesian"
    assert tuner.fit().status == "Completed"
    assert len(tuner.training_jobs()) == 5


def test_grid_covers_every_combination_once(make_tuner: Make, backend: ThreadBackend) -> None:
    ranges = {
        "x": CategoricalParameter(values=[0.1, 0.3, 0.9]),
        "kind": CategoricalParameter(values=["a", "b"]),
    }
    tuner = make_tuner(strategy="Grid", hyperparameter_ranges=ranges, max_parallel_jobs=3)
    desc = tuner.fit()
    combos = sorted((v["x"], v["kind"]) for v in _values(tuner))
    assert combos == sorted((x, k) for x in (0.1, 0.3, 0.9) for k in ("a", "b"))
    assert len(backend.submitted) == 6
    assert desc.completion_reason in ("MaxNumberOfTrainingJobsReached", "AllGridCombinationsTried")


def test_hyperband_stops_jobs_at_rungs(make_tuner: Make, backend: ThreadBackend) -> None:
    job = TrainingJob(entry_point="lin.py", framework="pytorch", hyperparameters={"epochs": 2})
    tuner = make_tuner(
        training_job=job,
        strategy="Hyperband",
        hyperparameter_ranges={"y": ContinuousParameter(min_value=0.0, max_value=1.0)},
        objective_type="Maximize",
        max_jobs=10,
        hyperband=HyperbandConfig(min_resource=1, max_resource=9),
        random_seed=0,
    )
    tuner.fit()
    jobs = tuner.training_jobs()
    assert all(backend.jobs[j.job_name].hyperparameters["epochs"] == "9" for j in jobs)
    stopped = [j for j in jobs if j.status == "Stopped"]
    assert stopped and all(j.early_stopped for j in stopped)
    assert all(len(j.curve) < 9 for j in stopped)
    for j in stopped:  # the last objective counts
        assert j.final_objective == j.curve[max(j.curve)]
    assert any(len(j.curve) == 9 for j in jobs)


def test_median_rule_stops_worse_jobs(make_tuner: Make) -> None:
    job = TrainingJob(entry_point="lin.py", framework="pytorch", hyperparameters={"epochs": 6})
    tuner = make_tuner(
        training_job=job,
        strategy="Random",
        hyperparameter_ranges={"y": ContinuousParameter(min_value=0.0, max_value=1.0)},
        objective_type="Minimize",
        max_jobs=10,
        early_stopping_type="Auto",
        random_seed=5,
    )
    tuner.fit()
    jobs = tuner.training_jobs()
    assert not any(j.early_stopped for j in jobs[:3])  # fewer than 3 earlier jobs
    stopped = [j for j in jobs if j.early_stopped]
    assert stopped, "some job above the median should have been stopped"
    for j in stopped:
        assert j.status == "Stopped" and len(j.curve) < 6
        assert j.final_objective == j.curve[max(j.curve)]


def _parent(make_tuner: Make, ranges: dict[str, Any], **kw: Any) -> str:
    parent = make_tuner(strategy="Random", hyperparameter_ranges=ranges, max_jobs=6, **kw)
    return parent.fit().name


@pytest.mark.parametrize("kind", ["IdenticalDataAndAlgorithm", "TransferLearning"])
def test_warm_start_changes_the_next_job(make_tuner: Make, kind: str) -> None:
    name = _parent(make_tuner, X, random_seed=11)
    ranges: dict[str, Any] = dict(X)
    if kind == "TransferLearning":  # new hyperparameter, narrower range
        ranges = {
            "x": ContinuousParameter(min_value=0.0, max_value=0.9),
            "kind": CategoricalParameter(values=["a", "b"]),
        }
    cold = make_tuner(hyperparameter_ranges=ranges, max_jobs=1, random_seed=2)
    cold.fit()
    warm = make_tuner(
        hyperparameter_ranges=ranges,
        max_jobs=1,
        random_seed=2,
        warm_start_config=WarmStartConfig(warm_start_type=kind, parents=[name]),
    )
    warm.fit()
    assert _values(cold) != _values(warm)
    assert len(warm.training_jobs()) == 1  # parent jobs are not this job's jobs


def test_identical_warm_start_rejects_changed_hyperparameters(make_tuner: Make) -> None:
    name = _parent(make_tuner, X)
    child = make_tuner(
        hyperparameter_ranges={**X, "kind": CategoricalParameter(values=["a"])},
        max_jobs=1,
        warm_start_config=WarmStartConfig(parents=[name]),
    )
    with pytest.raises(SpecError, match="TransferLearning") as info:
        child.fit()
    assert info.value.field == "warm_start_config.warm_start_type"
    missing = make_tuner(
        hyperparameter_ranges=X, max_jobs=1, warm_start_config=WarmStartConfig(parents=["nope"])
    )
    with pytest.raises(SpecError, match="nope") as info:
        missing.fit()
    assert (info.value.field, info.value.value) == ("warm_start_config.parents", "nope")
    assert {d.name for d in missing.store.all()} == {name}  # nothing recorded for the child


def test_target_objective_ends_the_tuning_job(make_tuner: Make) -> None:
    tuner = make_tuner(
        strategy="Random",
        hyperparameter_ranges=X,
        max_jobs=20,
        completion_criteria=CompletionCriteria(target_objective_value=-10.0),
    )
    desc = tuner.fit()
    assert desc.status == "Completed"
    assert desc.completion_reason == "TargetObjectiveMetricValueReached"
    assert len(tuner.training_jobs()) == 1


def test_not_improving_ends_the_tuning_job(make_tuner: Make) -> None:
    tuner = make_tuner(
        strategy="Grid",
        hyperparameter_ranges={"x": CategoricalParameter(values=[0.3, 0.0, 0.1, 0.9, 1.0, 0.8])},
        completion_criteria=CompletionCriteria(max_jobs_not_improving=3),
    )
    desc = tuner.fit()
    assert desc.completion_reason == "BestObjectiveNotImproving"
    assert len(tuner.training_jobs()) == 4


def test_multi_algorithm(make_tuner: Make, backend: ThreadBackend) -> None:
    jobs = {
        "quad": TrainingJob(entry_point="quad.py", framework="pytorch"),
        "lin": TrainingJob(entry_point="lin.py", framework="pytorch"),
    }
    tuner = HyperparameterTuner(
        jobs,
        objective_metric_name="score",
        hyperparameter_ranges={
            "quad": X,
            "lin": {"y": IntegerParameter(min_value=1, max_value=5)},
        },
        strategy="Random",
        max_jobs=4,
        max_parallel_jobs=2,
        backend=backend,
    )
    tuner.poll_interval = 0.005
    tuner.fit()
    frame = tuner.analytics().dataframe()
    assert list(frame.columns) == ["x", "y", *COLUMNS, "TrainingJobDefinitionName"]
    assert list(frame["TrainingJobDefinitionName"]) == ["quad", "lin", "quad", "lin"]
    for job in tuner.training_jobs():
        expected = {"quad": {"x"}, "lin": {"y"}}[job.definition_name or ""]
        assert set(job.hyperparameters) == expected
        assert backend.jobs[job.job_name].spec.entry_point == f"{job.definition_name}.py"  # type: ignore[union-attr]


def test_multi_algorithm_needs_ranges_per_definition(backend: ThreadBackend) -> None:
    with pytest.raises(SpecError, match="lin"):
        HyperparameterTuner(
            {"lin": TrainingJob(entry_point="lin.py", framework="pytorch")},
            objective_metric_name="score",
            hyperparameter_ranges={"quad": X},
            backend=backend,
        )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"hyperparameter_ranges": [("x", 1)]}, "hyperparameter_ranges"),
        ({"metric_definitions": "score"}, "metric_definitions"),
        ({"metric_definitions": ["score"]}, "metric_definitions"),
        ({"tags": [("team", "ml")]}, "tags"),
        ({"objective_metric_name": None}, "objective_metric_name"),
    ],
)
def test_bad_tuner_arguments_are_spec_errors(
    backend: ThreadBackend, kwargs: dict[str, Any], field: str
) -> None:
    args: dict[str, Any] = {"objective_metric_name": "score", "hyperparameter_ranges": X}
    with pytest.raises(SpecError) as info:
        HyperparameterTuner(
            TrainingJob(entry_point="quad.py", framework="pytorch"),
            backend=backend,
            **{**args, **kwargs},
        )
    assert info.value.field == field and field in str(info.value)


@pytest.mark.parametrize("inputs", [5, {"train": 5}, ["s3://b/train"]])
def test_bad_inputs_are_rejected_before_a_tuning_job_is_recorded(
    make_tuner: Make, backend: ThreadBackend, inputs: Any
) -> None:
    tuner = make_tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=1)
    with pytest.raises(SpecError, match="inputs="):
        tuner.fit(inputs)
    assert tuner.store.all() == [] and backend.submitted == []


def test_failed_job_is_recorded_and_search_goes_on(make_tuner: Make) -> None:
    jobs = {
        "ok": TrainingJob(entry_point="quad.py", framework="pytorch"),
        "bad": TrainingJob(entry_point="fail.py", framework="pytorch"),
    }
    tuner = make_tuner(training_job=None, strategy="Random", max_jobs=4, hyperparameter_ranges=X)
    tuner = HyperparameterTuner(
        jobs,
        objective_metric_name="score",
        hyperparameter_ranges={"ok": X, "bad": X},
        strategy="Random",
        max_jobs=4,
        backend=tuner.backend,
    )
    tuner.poll_interval = 0.005
    desc = tuner.fit()
    statuses = [j.status for j in tuner.training_jobs()]
    assert statuses == ["Completed", "Failed", "Completed", "Failed"]
    failed = tuner.training_jobs()[1]
    assert failed.failure_reason and "boom" in failed.failure_reason
    assert desc.status == "Completed"


class _RejectingBackend(ThreadBackend):
    """Rejects (SpecError at submit) every job whose x is above ``limit``."""

    def __init__(self, functions: Any, limit: float) -> None:
        super().__init__(functions)
        self.limit = limit

    def submit(self, job: TrainingJob, **kwargs: Any) -> str:
        if float((kwargs.get("hyperparameters") or {}).get("x", 0)) > self.limit:
            raise SpecError("hyperparameters.x: rejected by the backend", field="x")
        return super().submit(job, **kwargs)


@pytest.mark.parametrize("limit", [0.85, 0.2])
def test_a_job_rejected_at_submit_fails_and_the_search_goes_on(
    make_tuner: Make, backend: ThreadBackend, limit: float
) -> None:
    """A submit-time rejection fails that training job only; the failure budget still holds
    (limit 0.85: a few rejections, the search finishes; 0.2: the tuning job fails at 3)."""
    tuner = make_tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=6, random_seed=3)
    tuner = HyperparameterTuner.from_spec(
        tuner.spec,
        backend=_RejectingBackend(backend.functions, limit),
        workspace=tuner.workspace.root,
    )
    tuner.poll_interval = 0.005
    desc = tuner.fit()
    jobs = tuner.training_jobs()
    rejected = [j for j in jobs if float(j.hyperparameters["x"]) > limit]
    assert rejected
    assert all(
        j.status == "Failed" and "rejected by the backend" in (j.failure_reason or "")
        for j in rejected
    )
    assert all(j.status == "Completed" for j in jobs if j not in rejected)
    assert len(rejected) <= 3  # max(3, max_jobs // 2): no job is launched past the budget
    if len(rejected) < 3:
        assert (len(jobs), desc.status) == (6, "Completed")
    else:
        assert desc.status == "Failed" and desc.failure_reason


def test_too_many_failures_fail_the_tuning_job(make_tuner: Make) -> None:
    tuner = make_tuner("fail.py", strategy="Random", hyperparameter_ranges=X, max_jobs=6)
    desc = tuner.fit()
    assert desc.status == "Failed"
    assert "3 training jobs failed" in (desc.failure_reason or "")
    assert len(tuner.training_jobs()) == 3
    with pytest.raises(TuningError):
        tuner.best_training_job()


def test_missing_objective_counts_as_failure(make_tuner: Make) -> None:
    tuner = make_tuner(
        strategy="Random", hyperparameter_ranges=X, max_jobs=1, objective_metric_name="absent"
    )
    desc = tuner.fit()
    job = tuner.training_jobs()[0]
    assert job.status == "Completed" and job.objective_status == "Failed"
    assert "absent" in (job.failure_reason or "")
    assert desc.status == "Failed"


def test_stop_and_wait(make_tuner: Make) -> None:
    tuner = make_tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=50)
    tuner.fit(wait=False)
    tuner.stop()
    desc = tuner.wait(timeout=30)
    assert desc.status == "Stopped"
    assert len(tuner.training_jobs()) < 50


def test_bayesian_without_torch_names_the_extra(
    make_tuner: Make, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    from sagescale.errors import MissingExtraError

    monkeypatch.setitem(sys.modules, "torch", None)
    tuner = make_tuner(hyperparameter_ranges=X, max_jobs=2)
    with pytest.raises(MissingExtraError, match=r"pip install 'sagescale\[torch\]'"):
        tuner.fit()
    assert tuner.store.all() == []  # rejected before a tuning job was recorded


def test_hyperband_without_max_epochs_is_rejected_before_anything_runs(
    make_tuner: Make, backend: ThreadBackend
) -> None:
    job = TrainingJob(entry_point="lin.py", framework="pytorch", hyperparameters={"lr": 0.1})
    tuner = make_tuner(
        training_job=job,
        strategy="Hyperband",
        hyperparameter_ranges={"y": ContinuousParameter(min_value=0.0, max_value=1.0)},
        max_jobs=3,
    )
    with pytest.raises(SpecError, match=r"hyperband\.max_resource.*epochs=None") as info:
        tuner.fit()
    assert info.value.field == "hyperband.max_resource"
    assert tuner.store.all() == [] and backend.submitted == []


def test_max_runtime_ends_the_tuning_job(make_tuner: Make, backend: ThreadBackend) -> None:
    from datetime import datetime, timedelta, timezone

    from sagescale.tuning import TuningJobDescription
    from sagescale.tuning._runner import TuningRunner

    tuner = make_tuner(
        strategy="Random", hyperparameter_ranges=X, max_jobs=5, max_runtime_seconds=120
    )
    started = datetime.now(timezone.utc) - timedelta(seconds=121)
    desc = TuningJobDescription("late", tuner.spec, "fake", "InProgress", started)
    tuner.store.create(desc)
    end = TuningRunner(tuner.spec, "late", backend, tuner.store, poll_interval=0.005).run()
    assert backend.submitted == []
    assert end.status == "Failed" and end.failure_reason


def test_max_parallel_jobs_run_at_once(make_tuner: Make, backend: ThreadBackend) -> None:
    def overlapping(ctx: JobContext) -> None:
        # each job runs until three have run at once (or 60 s, only when that never happens):
        # 40 ms jobs could end before the third submit on a loaded machine
        deadline = time.monotonic() + 60
        while backend.max_running < 3 and time.monotonic() < deadline:
            time.sleep(0.005)
        ctx.log("score", 1.0)

    backend.functions["overlapping.py"] = overlapping
    tuner = make_tuner(
        entry_point="overlapping.py",
        strategy="Random",
        hyperparameter_ranges=X,
        max_jobs=6,
        max_parallel_jobs=3,
    )
    tuner.fit()
    assert backend.max_running == 3


def test_tracking_failure_only_warns(make_tuner: Make, monkeypatch: pytest.MonkeyPatch) -> None:
    from sagescale.tuning import TrackingWarning

    monkeypatch.setenv("SAGESCALE_TRACKING_URI", "bogus://nowhere")
    tuner = make_tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=1)
    with pytest.warns(TrackingWarning, match="automatic tracking failed"):
        desc = tuner.fit()
    assert desc.status == "Completed"


def test_a_nan_objective_is_a_failed_objective_never_the_best(
    make_tuner: Make, backend: ThreadBackend
) -> None:
    """A diverged job (NaN loss) was Succeeded with a NaN objective, counted by the completion
    criteria, and became the tuning job's best training job when it came first."""
    from .conftest import curve_job

    backend.functions["nan.py"] = curve_job(
        lambda hps, epoch: float("nan") if hps["x"] < 0.5 else float(hps["x"])
    )
    tuner = make_tuner(
        "nan.py",
        strategy="Grid",
        hyperparameter_ranges={"x": CategoricalParameter(values=[0.1, 0.7, 0.2])},
        random_seed=None,
    )
    desc = tuner.fit()
    jobs = tuner.training_jobs()
    assert [j.objective_status for j in jobs] == ["Failed", "Succeeded", "Failed"]
    assert all("NaN" in (j.failure_reason or "") for j in (jobs[0], jobs[2]))
    assert desc.status == "Completed"
    assert desc.best_training_job == tuner.best_training_job() == jobs[1].job_name


@pytest.mark.parametrize(
    ("kwargs", "field", "message"),
    [
        (  # a typo: the ranges of "lni" were silently ignored
            {"hyperparameter_ranges": {"quad": X, "lin": X, "lni": X}},
            "hyperparameter_ranges",
            r"unknown training job definitions \['lni'\]",
        ),
        (  # "lin" silently tuned the objective of another definition
            {"objective_metric_name": {"quad": "score"}},
            "objective_metric_name",
            r"no entry for training job definitions \['lin'\]",
        ),
        (
            {"objective_metric_name": {"quad": "score", "lin": "score", "mlp": "loss"}},
            "objective_metric_name",
            r"unknown training job definitions \['mlp'\]",
        ),
        (
            {"metric_definitions": {"mlp": [{"name": "score", "regex": "s=(.*)"}]}},
            "metric_definitions",
            r"unknown training job definitions \['mlp'\]",
        ),
    ],
)
def test_multi_algorithm_mappings_name_exactly_the_definitions(
    backend: ThreadBackend, kwargs: dict[str, Any], field: str, message: str
) -> None:
    """As the SageMaker SDK's HyperparameterTuner.create: ranges and objectives by definition
    name every definition, metric definitions a subset; a name that is no definition is an
    error, not ignored."""
    args: dict[str, Any] = {
        "objective_metric_name": "score",
        "hyperparameter_ranges": {"quad": X, "lin": X},
        **kwargs,
    }
    jobs = {
        "quad": TrainingJob(entry_point="quad.py", framework="pytorch"),
        "lin": TrainingJob(entry_point="lin.py", framework="pytorch"),
    }
    with pytest.raises(SpecError, match=message) as info:
        HyperparameterTuner(jobs, backend=backend, **args)
    assert info.value.field == field
    # metric definitions for some of the definitions only are fine
    metrics = {"lin": [{"name": "score", "regex": "s=(.*)"}]}
    tuner = HyperparameterTuner(
        jobs,
        backend=backend,
        objective_metric_name="score",
        hyperparameter_ranges={"quad": X, "lin": X},
        metric_definitions=metrics,
    )
    assert tuner.spec.training_jobs is not None
    assert tuner.spec.training_jobs["lin"].metric_definitions is not None


def test_metric_definitions_error_shows_the_accepted_keys(backend: ThreadBackend) -> None:
    """The hint said {'Name': ..., 'Regex': ...}, keys MetricDefinition rejects."""
    with pytest.raises(SpecError) as info:
        HyperparameterTuner(
            TrainingJob(entry_point="quad.py", framework="pytorch"),
            objective_metric_name="score",
            hyperparameter_ranges=X,
            metric_definitions="score",  # type: ignore[arg-type]
            backend=backend,
        )
    assert "{'name': ..., 'regex': ...}" in str(info.value)
    hinted = [{"name": "score", "regex": r"score=(\S+)"}]
    tuner = HyperparameterTuner(
        TrainingJob(entry_point="quad.py", framework="pytorch"),
        objective_metric_name="score",
        hyperparameter_ranges=X,
        metric_definitions=hinted,
        backend=backend,
    )
    assert tuner.spec.metric_definitions is not None


def test_analytics_dataframe_takes_sagemakers_force_refresh(make_tuner: Make) -> None:
    """Notebooks written for the SageMaker SDK call dataframe(force_refresh=True) (a TypeError
    before); the result is always read fresh."""
    tuner = make_tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=2, random_seed=0)
    tuner.fit()
    analytics = tuner.analytics()
    fresh = analytics.dataframe(force_refresh=True)
    assert list(fresh["TrainingJobName"]) == [j.job_name for j in tuner.training_jobs()]
    assert analytics.dataframe(True).equals(analytics.dataframe())


def test_jobs_a_user_stop_ends_are_not_early_stopped(
    make_tuner: Make, backend: ThreadBackend
) -> None:
    """Early stopping Auto, the user stops the tuning job: its running job ends Stopped but
    is not early-stopped, even when a point it reports while stopping is one the median rule
    would stop (three earlier jobs at 0.0, then 100.0 at epoch 3)."""
    release = threading.Event()
    calls = []

    def run(ctx: JobContext) -> None:
        calls.append(ctx)
        slow = len(calls) == 4
        for _ in range(2 if slow else 5):
            ctx.log("score", 0.0)
        if not slow:
            return
        ctx.stop_event.wait(60)
        ctx.log("score", 100.0)  # a last evaluation while stopping
        release.wait(60)

    backend.functions["slow.py"] = run
    tuner = make_tuner(
        entry_point="slow.py",
        strategy="Random",
        hyperparameter_ranges=X,
        objective_type="Minimize",
        max_jobs=4,
        max_parallel_jobs=1,
        early_stopping_type="Auto",
        random_seed=0,
    )
    tuner.fit(wait=False)

    def slow_job_curve() -> dict[int, float]:
        jobs = tuner.training_jobs()
        return dict(jobs[3].curve) if len(jobs) == 4 else {}

    deadline = time.monotonic() + 60
    while len(slow_job_curve()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    tuner.stop()
    while len(slow_job_curve()) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    desc = tuner.wait(timeout=60)
    jobs = tuner.training_jobs()
    assert desc.status == "Stopped"
    assert [j.status for j in jobs] == ["Completed"] * 3 + ["Stopped"]
    assert jobs[3].curve == {1: 0.0, 2: 0.0, 3: 100.0}  # the runner saw the last point
    assert not any(j.early_stopped for j in jobs)
