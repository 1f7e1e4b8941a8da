"""The searcher without a backend: pending jobs, grids across definitions, warnings."""

from __future__ import annotations

import pytest

from sagescale.specs import (
    AlgorithmDefinition,
    CategoricalParameter,
    ContinuousParameter,
    SpecWarning,
    TrainingJob,
    TuningJob,
)
from sagescale.tuning import HyperparameterTuner
from sagescale.tuning._search import Searcher, default_startup_trials

JOB = TrainingJob(entry_point="train.py", framework="pytorch")
X = {"x": ContinuousParameter(min_value=0.0, max_value=1.0)}


def _after_six_jobs() -> Searcher:
    spec = TuningJob(
        training_job=JOB,
        objective_metric_name="m",
        hyperparameter_ranges=X,
        max_jobs=20,
        random_seed=0,
    )
    searcher = Searcher(spec, n_startup=3)
    for _ in range(6):
        s = searcher.ask()
        assert s is not None
        searcher.tell(s, -abs(float(s.values["x"]) - 0.25))
    return searcher


def test_bayesian_accounts_for_pending_jobs() -> None:
    searcher = _after_six_jobs()
    first = searcher.ask()
    second = searcher.ask()  # asked while `first` is still running
    assert first is not None and second is not None
    x = float(first.values["x"])
    assert abs(float(second.values["x"]) - x) > 0.01
    # the control: the same search with `first` not pending (a failed job, which the Gaussian
    # process ignores) suggests `first` again, so the difference above is the pending job's
    control = _after_six_jobs()
    again = control.ask()
    assert again is not None and float(again.values["x"]) == pytest.approx(x, abs=1e-4)
    control.tell(again, None)
    after = control.ask()
    assert after is not None and float(after.values["x"]) == pytest.approx(x, abs=1e-4)


def test_startup_trials_rule() -> None:
    assert [default_startup_trials(n) for n in (1, 20, 50, 500)] == [3, 4, 10, 10]


def test_grid_over_several_definitions_once_each() -> None:
    spec = TuningJob(
        objective_metric_name="m",
        strategy="Grid",
        training_jobs={
            "a": AlgorithmDefinition(
                training_job=JOB, hyperparameter_ranges={"p": CategoricalParameter(values=[1, 2])}
            ),
            "b": AlgorithmDefinition(
                training_job=JOB,
                hyperparameter_ranges={"q": CategoricalParameter(values=["u", "v", "w"])},
            ),
        },
        random_seed=3,
    )
    searcher = Searcher(spec)
    seen = []
    while (s := searcher.ask()) is not None:
        seen.append((s.definition, tuple(s.values.items())))
        searcher.tell(s, 1.0)
    assert sorted(seen) == sorted(
        [("a", (("p", 1),)), ("a", (("p", 2),))] + [("b", (("q", v),)) for v in ("u", "v", "w")]
    )
    assert searcher.exhausted()


def test_best_practice_warnings_when_the_tuner_is_built() -> None:
    with pytest.warns(SpecWarning, match="orders of magnitude"):
        HyperparameterTuner(
            JOB,
            objective_metric_name="m",
            hyperparameter_ranges={
                "lr": ContinuousParameter(min_value=1e-5, max_value=1.0, scaling_type="Linear")
            },
            backend="local",
        )


def test_a_grid_larger_than_the_job_limit_is_a_spec_error() -> None:
    """10^8 combinations without max_jobs was accepted (rendered MaxNumberOfTrainingJobs
    100000000) and the local search built the whole grid in memory."""
    from sagescale.errors import SpecError

    ranges = {f"p{i}": CategoricalParameter(values=list(range(10))) for i in range(8)}
    with pytest.raises(SpecError, match=r"100000000 combinations.*10000") as info:
        TuningJob(
            training_job=JOB,
            objective_metric_name="m",
            hyperparameter_ranges=ranges,
            strategy="Grid",
        )
    assert (info.value.field, info.value.value) == ("hyperparameter_ranges", 100_000_000)
    ranges = {f"p{i}": CategoricalParameter(values=list(range(10))) for i in range(4)}
    spec = TuningJob(  # exactly the limit is fine
        training_job=JOB, objective_metric_name="m", hyperparameter_ranges=ranges, strategy="Grid"
    )
    assert spec.effective_max_jobs() == 10_000


def _hyperband_spec() -> TuningJob:
    from sagescale.specs import HyperbandConfig

    return TuningJob(
        training_job=JOB,
        objective_metric_name="m",
        hyperparameter_ranges={"y": ContinuousParameter(min_value=0.0, max_value=1.0)},
        strategy="Hyperband",
        max_jobs=30,
        random_seed=0,
        hyperband=HyperbandConfig(min_resource=1, max_resource=9),
    )


def _stopped_at(searcher: Searcher, y: float) -> int | None:
    """The epoch at which a job with objective y * epoch is stopped (None: it runs to 9)."""
    suggestion = searcher.ask_fixed(None, {"y": y})
    curve: dict[int, float] = {}
    for epoch in range(1, 10):
        curve[epoch] = y * epoch
        if searcher.report(suggestion, curve):
            return epoch
    return None


def test_hyperband_keeps_its_rungs_across_a_resume() -> None:
    """Replayed jobs had no rung records, so after a resume successive halving compared new
    jobs with the new ones only (the first new job always went on, however bad)."""
    searcher = Searcher(_hyperband_spec())
    history = []
    for _ in range(9):
        suggestion = searcher.ask()
        assert suggestion is not None
        y = float(suggestion.values["y"])
        curve: dict[int, float] = {}
        for epoch in range(1, 10):
            curve[epoch] = y * epoch
            if searcher.report(suggestion, curve):
                break
        searcher.tell(suggestion, curve[max(curve)])
        history.append((dict(suggestion.values), curve))
    resumed = Searcher(_hyperband_spec())
    for values, curve in history:
        assert resumed.add_finished(None, values, curve[max(curve)], curve)
    for y in (0.01, 0.5, 0.99):
        assert _stopped_at(resumed, y) == _stopped_at(searcher, y)
    assert _stopped_at(resumed, 0.01) == 1
