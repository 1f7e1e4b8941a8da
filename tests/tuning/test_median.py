"""The median rule on hand-made curves with known decisions."""

from __future__ import annotations

import optuna
import pytest

from sagescale.tuning import (
    MIN_EARLIER_JOBS,
    MedianStoppingPruner,
    median_rule_should_stop,
    running_average,
)

EARLIER = [
    {1: 1.0, 2: 2.0, 3: 3.0},  # running averages 1, 1.5, 2
    {1: 2.0, 2: 4.0, 3: 6.0},  # 2, 3, 4
    {1: 3.0, 2: 3.0, 3: 3.0},  # 3, 3, 3
]


def test_running_average() -> None:
    assert running_average(EARLIER[0], 2) == 1.5
    assert running_average(EARLIER[0], 4) is None  # did not reach epoch 4


@pytest.mark.parametrize(
    ("value", "epoch", "maximize", "stop"),
    [
        (1.9, 1, True, True),  # median of running averages (1, 2, 3) = 2
        (2.0, 1, True, False),  # equal is not worse
        (2.1, 1, True, False),
        (2.9, 2, True, True),  # median of (1.5, 3, 3) = 3
        (3.0, 2, True, False),
        (2.9, 3, True, True),  # median of (2, 4, 3) = 3
        (3.1, 3, False, True),  # minimizing: higher than 3 is worse
        (2.9, 3, False, False),
    ],
)
def test_decisions(value: float, epoch: int, maximize: bool, stop: bool) -> None:
    assert median_rule_should_stop(value, epoch, EARLIER, maximize=maximize) is stop


def test_needs_min_earlier_jobs_at_that_epoch() -> None:
    assert MIN_EARLIER_JOBS == 3
    assert not median_rule_should_stop(-100.0, 1, EARLIER[:2], maximize=True)
    short = [*EARLIER[:2], {1: 3.0}]  # the third job stopped after epoch 1
    assert median_rule_should_stop(-100.0, 1, short, maximize=True)
    assert not median_rule_should_stop(-100.0, 2, short, maximize=True)


def test_as_optuna_pruner_on_hand_made_curves() -> None:
    study = optuna.create_study(direction="minimize", pruner=MedianStoppingPruner())
    for curve in ([5.0, 4.0, 3.0], [4.0, 3.0, 2.0], [6.0, 5.0, 4.0]):
        trial = study.ask()
        for epoch, value in enumerate(curve, start=1):
            trial.report(value, epoch)
            assert not trial.should_prune()  # fewer than 3 earlier jobs
        study.tell(trial, curve[-1])
    good = study.ask()
    good.report(4.5, 1)  # running averages at 1: 5, 4, 6 -> median 5
    assert not good.should_prune()
    good.report(3.9, 2)  # averages at 2: 4.5, 3.5, 5.5 -> median 4.5
    assert not good.should_prune()
    bad = study.ask()  # later than `good`, which now counts as an earlier (running) job
    bad.report(5.2, 1)  # averages at 1: 5, 4, 6, 4.5 -> median 4.75
    assert bad.should_prune()


def test_warm_start_evaluations_are_not_earlier_jobs() -> None:
    """Parent evaluations are not jobs of the tuning job (docs/tuning.md): they made the rule
    act from the first job of a warm-started tuning job, before 3 of its own jobs ran."""
    from sagescale.specs import ContinuousParameter, TrainingJob, TuningJob
    from sagescale.tuning._search import Searcher

    spec = TuningJob(
        training_job=TrainingJob(entry_point="train.py", framework="pytorch"),
        objective_metric_name="m",
        hyperparameter_ranges={"y": ContinuousParameter(min_value=0.0, max_value=1.0)},
        strategy="Random",
        max_jobs=10,
        early_stopping_type="Auto",
    )
    searcher = Searcher(spec)
    for y in (0.5, 0.6, 0.7, 0.8):  # four parent jobs, all better than what follows
        assert searcher.add_finished(None, {"y": y}, 3 * y, {1: y, 2: 2 * y}, count=False)
    for _ in range(MIN_EARLIER_JOBS):
        own = searcher.ask_fixed(None, {"y": 0.1})
        assert not searcher.report(own, {1: 0.1, 2: 0.2})
        searcher.tell(own, 0.2)
    worse = searcher.ask_fixed(None, {"y": 0.05})  # now 3 earlier jobs of its own
    assert searcher.report(worse, {1: 0.05})
