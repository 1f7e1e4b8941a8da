from __future__ import annotations

from sagescale.specs import CompletionCriteria
from sagescale.tuning import completion_reason
from sagescale.tuning._criteria import CONVERGENCE_MIN_JOBS


def test_target() -> None:
    criteria = CompletionCriteria(target_objective_value=0.9)
    assert completion_reason(criteria, [0.5, 0.8], maximize=True) is None
    assert completion_reason(criteria, [0.5, 0.95], maximize=True) == (
        "TargetObjectiveMetricValueReached"
    )
    assert completion_reason(criteria, [0.95], maximize=False) is None
    assert completion_reason(criteria, [0.85], maximize=False) is not None


def test_not_improving() -> None:
    criteria = CompletionCriteria(max_jobs_not_improving=3)
    assert completion_reason(criteria, [1, 2, 1, 1], maximize=True) is None
    assert completion_reason(criteria, [1, 2, 1, 1, 2], maximize=True) == (
        "BestObjectiveNotImproving"
    )
    assert completion_reason(criteria, [3, 2, 1, 1], maximize=False) is None


def test_convergence() -> None:
    criteria = CompletionCriteria(complete_on_convergence=True)
    improving = [float(i) for i in range(CONVERGENCE_MIN_JOBS)]
    assert completion_reason(criteria, improving, maximize=True) is None
    flat = [0.0, 10.0] + [5.0] * (CONVERGENCE_MIN_JOBS - 2)
    assert completion_reason(criteria, flat, maximize=True) == "ConvergenceDetected"
    assert completion_reason(criteria, flat[:-1], maximize=True) is None
    assert completion_reason(None, flat, maximize=True) is None
