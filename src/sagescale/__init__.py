"""sagescale: typed training, tuning and experiment tracking, locally and on Amazon SageMaker.

The public names are imported on first use (PEP 562), so ``import sagescale.runtime``
inside a training container pulls in nothing but the standard library and torch.
"""

from __future__ import annotations

import importlib
import typing

from sagescale.errors import (
    BackendError,
    JobFailedError,
    MissingExtraError,
    NotFoundError,
    SageScaleError,
    SpecError,
    TrackingError,
    TuningError,
    WorkspaceError,
)

__version__ = "0.1.0"

# public name → module that defines it
_LAZY: dict[str, str] = {
    **dict.fromkeys(
        [
            "CategoricalParameter",
            "Channel",
            "Checkpoint",
            "CompletionCriteria",
            "ContinuousParameter",
            "DataParallel",
            "ExperimentConfig",
            "HyperbandConfig",
            "IntegerParameter",
            "MetricDefinition",
            "ModelParallel",
            "Security",
            "SpecWarning",
            "Spot",
            "TorchDistributed",
            "TrainingJob",
            "TuningJob",
            "WarmStartConfig",
            "load_spec",
        ],
        "sagescale.specs",
    ),
    **dict.fromkeys(["Session", "TrainingRun"], "sagescale.session"),
    **dict.fromkeys(["HyperparameterTuner", "TuningJobAnalytics"], "sagescale.tuning"),
    **dict.fromkeys(["Plan", "plan"], "sagescale.planning"),
    **dict.fromkeys(
        ["Backend", "JobDescription", "JobStatus", "get_backend"], "sagescale.backends"
    ),
    **dict.fromkeys(
        [
            "Experiment",
            "ExperimentAnalytics",
            "Run",
            "Tracker",
            "Trial",
            "TrialComponent",
            "load_run",
        ],
        "sagescale.tracking",
    ),
}

__all__ = [
    "Backend",
    "BackendError",
    "CategoricalParameter",
    "Channel",
    "Checkpoint",
    "CompletionCriteria",
    "ContinuousParameter",
    "DataParallel",
    "Experiment",
    "ExperimentAnalytics",
    "ExperimentConfig",
    "HyperbandConfig",
    "HyperparameterTuner",
    "IntegerParameter",
    "JobDescription",
    "JobFailedError",
    "JobStatus",
    "MetricDefinition",
    "MissingExtraError",
    "ModelParallel",
    "NotFoundError",
    "Plan",
    "Run",
    "SageScaleError",
    "Security",
    "Session",
    "SpecError",
    "SpecWarning",
    "Spot",
    "TorchDistributed",
    "Tracker",
    "TrackingError",
    "TrainingJob",
    "TrainingRun",
    "Trial",
    "TrialComponent",
    "TuningError",
    "TuningJob",
    "TuningJobAnalytics",
    "WarmStartConfig",
    "WorkspaceError",
    "__version__",
    "get_backend",
    "load_run",
    "load_spec",
    "plan",
]


def __getattr__(name: str) -> typing.Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sagescale' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


if typing.TYPE_CHECKING:
    from sagescale.backends import Backend, JobDescription, JobStatus, get_backend
    from sagescale.planning import Plan, plan
    from sagescale.session import Session, TrainingRun
    from sagescale.specs import (
        CategoricalParameter,
        Channel,
        Checkpoint,
        CompletionCriteria,
        ContinuousParameter,
        DataParallel,
        ExperimentConfig,
        HyperbandConfig,
        IntegerParameter,
        MetricDefinition,
        ModelParallel,
        Security,
        SpecWarning,
        Spot,
        TorchDistributed,
        TrainingJob,
        TuningJob,
        WarmStartConfig,
        load_spec,
    )
    from sagescale.tracking import (
        Experiment,
        ExperimentAnalytics,
        Run,
        Tracker,
        Trial,
        TrialComponent,
        load_run,
    )
    from sagescale.tuning import HyperparameterTuner, TuningJobAnalytics
