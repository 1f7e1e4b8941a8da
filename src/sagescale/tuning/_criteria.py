"""Completion criteria: when a tuning job ends before ``max_jobs``.

Objective values are taken in the order their training jobs finished.

- ``target_objective_value``: the best objective reached the target (``>=`` when maximizing,
  ``<=`` when minimizing).
- ``max_jobs_not_improving``: the last ``N`` finished jobs did not improve the best objective.
- ``complete_on_convergence``: at least :data:`CONVERGENCE_MIN_JOBS` jobs finished and the
  last :data:`CONVERGENCE_WINDOW` of them improved the best objective by less than
  :data:`CONVERGENCE_TOLERANCE` times the spread (max - min) of every objective seen.

When a criterion is met no new training job starts and the running ones are stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

from sagescale.specs import CompletionCriteria

__all__ = [
    "CONVERGENCE_MIN_JOBS",
    "CONVERGENCE_TOLERANCE",
    "CONVERGENCE_WINDOW",
    "completion_reason",
]

CONVERGENCE_MIN_JOBS = 15
CONVERGENCE_WINDOW = 10
CONVERGENCE_TOLERANCE = 1e-3

TARGET_REACHED = "TargetObjectiveMetricValueReached"
NOT_IMPROVING = "BestObjectiveNotImproving"
CONVERGED = "ConvergenceDetected"


def _best(values: Sequence[float], maximize: bool) -> float:
    return max(values) if maximize else min(values)


def _jobs_since_improvement(values: Sequence[float], maximize: bool) -> int:
    best_index = 0
    for i, value in enumerate(values):
        if (value > values[best_index]) if maximize else (value < values[best_index]):
            best_index = i
    return len(values) - 1 - best_index


def _converged(values: Sequence[float], maximize: bool) -> bool:
    if len(values) < CONVERGENCE_MIN_JOBS:
        return False
    before = _best(values[:-CONVERGENCE_WINDOW], maximize)
    now = _best(values, maximize)
    spread = max(values) - min(values)
    return abs(now - before) <= CONVERGENCE_TOLERANCE * spread


def completion_reason(
    criteria: CompletionCriteria | None, objectives: Sequence[float], *, maximize: bool
) -> str | None:
    """The name of the criterion that ends the tuning job now, or ``None``."""
    if criteria is None or not objectives:
        return None
    best = _best(objectives, maximize)
    target = criteria.target_objective_value
    if target is not None and (best >= target if maximize else best <= target):
        return TARGET_REACHED
    limit = criteria.max_jobs_not_improving
    if limit is not None and _jobs_since_improvement(objectives, maximize) >= limit:
        return NOT_IMPROVING
    if criteria.complete_on_convergence and _converged(objectives, maximize):
        return CONVERGED
    return None
