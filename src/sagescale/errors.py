"""Exceptions raised by sagescale.

Every exception sagescale raises on purpose derives from :class:`SageScaleError`::

    SageScaleError
    ├── SpecError (also ValueError)          bad input, rejected before anything runs
    ├── MissingExtraError (also ImportError) an optional dependency is not installed
    ├── WorkspaceError                       the local workspace database or files
    ├── NotFoundError (also LookupError)     no job / tuning job / experiment of that name
    ├── BackendError                         a backend call failed (names the call and job)
    │   └── JobFailedError                   a job ended Failed/Stopped and the caller asked
    │                                        to raise (``wait(raise_on_failure=True)``)
    ├── TuningError                          a tuning job cannot go on
    └── TrackingError                        an experiment store rejected a request

A failed training job is *data* (status ``Failed`` with a ``failure_reason``), not an
exception, unless the caller waits on it with ``raise_on_failure=True``.
"""

from __future__ import annotations

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
]


class SageScaleError(Exception):
    """Root of every exception sagescale raises on purpose."""


class SpecError(SageScaleError, ValueError):
    """Bad input: names the field, the value and the rule that was broken."""

    def __init__(self, message: str, *, field: str | None = None, value: object = None) -> None:
        super().__init__(message)
        self.field = field
        self.value = value


class MissingExtraError(SageScaleError, ImportError):
    """An optional dependency is missing; the message names the ``pip install`` command."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the optional package {package!r}: pip install 'sagescale[{extra}]'"
        )
        self.package = package
        self.extra = extra


class WorkspaceError(SageScaleError):
    """The local workspace (database, job directories, artifacts) is unusable."""


class NotFoundError(SageScaleError, LookupError):
    """A named job, tuning job, experiment, trial or component does not exist."""


class BackendError(SageScaleError):
    """A backend operation failed. ``call`` names the operation, ``job_name`` the job."""

    def __init__(
        self, message: str, *, call: str | None = None, job_name: str | None = None
    ) -> None:
        prefix = ""
        if call:
            prefix += f"{call}"
        if job_name:
            prefix += f" [{job_name}]" if prefix else f"[{job_name}]"
        super().__init__(f"{prefix}: {message}" if prefix else message)
        self.call = call
        self.job_name = job_name
        self.reason = message


class JobFailedError(BackendError):
    """A job ended in ``Failed`` or ``Stopped`` and the caller asked to raise on failure."""

    def __init__(self, job_name: str, status: str, failure_reason: str | None) -> None:
        super().__init__(
            f"job ended {status}: {failure_reason or 'no reason given'}",
            call="wait",
            job_name=job_name,
        )
        self.status = status
        self.failure_reason = failure_reason


class TuningError(SageScaleError):
    """A tuning job cannot continue (too many failed training jobs, bad warm-start parent)."""


class TrackingError(SageScaleError):
    """An experiment store rejected a request or holds inconsistent data."""
