"""Hyperparameter tuning: Bayesian, Random, Grid and Hyperband search, SageMaker's median
early-stopping rule, warm start, completion criteria and multi-algorithm tuning.

The search loop runs here for the local backend; a backend that is a
:class:`TuningService` (SageMaker) runs whole tuning jobs itself.
"""

from sagescale.specs import (
    CategoricalParameter,
    CompletionCriteria,
    ContinuousParameter,
    HyperbandConfig,
    IntegerParameter,
    WarmStartConfig,
)
from sagescale.tuning._analytics import TuningJobAnalytics
from sagescale.tuning._criteria import completion_reason
from sagescale.tuning._median import (
    MIN_EARLIER_JOBS,
    MedianStoppingPruner,
    median_rule_should_stop,
    running_average,
)
from sagescale.tuning._runner import max_failed_jobs
from sagescale.tuning._service import (
    TrainingJobSummary,
    TuningJobDescription,
    TuningService,
)
from sagescale.tuning._space import AUTO_LOG_RATIO, effective_scaling
from sagescale.tuning._track import TrackingWarning
from sagescale.tuning._tuner import HyperparameterTuner

__all__ = [
    "AUTO_LOG_RATIO",
    "MIN_EARLIER_JOBS",
    "CategoricalParameter",
    "CompletionCriteria",
    "ContinuousParameter",
    "HyperbandConfig",
    "HyperparameterTuner",
    "IntegerParameter",
    "MedianStoppingPruner",
    "TrackingWarning",
    "TrainingJobSummary",
    "TuningJobAnalytics",
    "TuningJobDescription",
    "TuningService",
    "WarmStartConfig",
    "completion_reason",
    "effective_scaling",
    "max_failed_jobs",
    "median_rule_should_stop",
    "running_average",
]
