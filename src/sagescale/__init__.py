"""sagescale: typed training, tuning and experiment tracking, locally and on Amazon SageMaker."""

from __future__ import annotations

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

__all__ = [
    "BackendError",
    "JobFailedError",
    "MissingExtraError",
    "NotFoundError",
    "SageScaleError",
    "SpecError",
    "TrackingError",
    "TuningError",
    "WorkspaceError",
    "__version__",
]
