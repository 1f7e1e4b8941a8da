"""SageMaker's median early-stopping rule (``TrainingJobEarlyStoppingType="Auto"``).

After epoch ``N`` of a training job, take every *earlier* training job of the tuning job (one
started before it) that reported the objective up to epoch ``N``; for each, the running
average of its objective over epochs ``1..N``; the median of those running averages. The
current job is stopped when its objective at epoch ``N`` is worse than that median (lower
when maximizing, higher when minimizing).

The rule acts only once at least :data:`MIN_EARLIER_JOBS` earlier jobs reached epoch ``N``
and from epoch ``min_epoch`` on. Evaluations reused from warm-start parents are not jobs of
the tuning job and never count. A stopped job ends ``Stopped``; its last objective value
counts as its final objective, as on SageMaker.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping

import optuna
from optuna.pruners import BasePruner
from optuna.study import StudyDirection

__all__ = ["MIN_EARLIER_JOBS", "MedianStoppingPruner", "median_rule_should_stop", "running_average"]

#: The rule never stops a job before this many earlier jobs reached the same epoch.
MIN_EARLIER_JOBS = 3
#: System attribute of a trial replayed from a warm-start parent: not a job of this tuning
#: job, so never one of the "earlier jobs" of the rule.
WARM_START_ATTR = "sagescale_warm_start"

Curve = Mapping[int, float]


def running_average(curve: Curve, epoch: int) -> float | None:
    """Mean of ``curve`` over epochs ``<= epoch``; ``None`` if it did not reach ``epoch``."""
    values = [v for step, v in curve.items() if step <= epoch and not math.isnan(v)]
    if not values or max(curve) < epoch:
        return None
    return sum(values) / len(values)


def median_rule_should_stop(
    value: float,
    epoch: int,
    earlier: Iterable[Curve],
    *,
    maximize: bool,
    min_jobs: int = MIN_EARLIER_JOBS,
) -> bool:
    """Whether a job whose objective at ``epoch`` is ``value`` is stopped by the rule."""
    if math.isnan(value):
        return False
    averages = [a for a in (running_average(c, epoch) for c in earlier if c) if a is not None]
    if len(averages) < min_jobs:
        return False
    median = statistics.median(averages)
    return value < median if maximize else value > median


class MedianStoppingPruner(BasePruner):
    """The median rule as an Optuna pruner (steps are epochs, 1-based)."""

    def __init__(self, *, min_jobs: int = MIN_EARLIER_JOBS, min_epoch: int = 1) -> None:
        self.min_jobs = min_jobs
        self.min_epoch = min_epoch

    def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
        epoch = trial.last_step
        if epoch is None or epoch < self.min_epoch:
            return False
        earlier = [
            t.intermediate_values
            for t in study.get_trials(deepcopy=False)
            if t.number < trial.number and not t.system_attrs.get(WARM_START_ATTR)
        ]
        return median_rule_should_stop(
            trial.intermediate_values[epoch],
            epoch,
            earlier,
            maximize=study.direction == StudyDirection.MAXIMIZE,
            min_jobs=self.min_jobs,
        )
