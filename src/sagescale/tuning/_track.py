"""Automatic tracking hook: a tuning job becomes a trial group of its training jobs.

Calls :func:`sagescale.tracking.autotrack.record_tuning_job` on the workspace's experiment
store. Tracking must never break tuning: any failure becomes a :class:`TrackingWarning`.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["TrackingWarning", "track_tuning_job"]


class TrackingWarning(UserWarning):
    """Recording a tuning job in the experiment store failed; tuning went on."""


def track_tuning_job(
    workspace: Path, tuning_job_name: str, job_names: Sequence[str], *, backend: Any = None
) -> None:
    """Associate ``job_names`` with the trial group of ``tuning_job_name`` (best effort), in
    the store the backend records its jobs in (``backend.tracking_store``), else the
    workspace's."""
    try:
        from sagescale.tracking._store import get_store
        from sagescale.tracking.autotrack import record_tuning_job
    except ImportError:  # tracking not installed in this build: keep the hook point
        return
    try:
        store = getattr(backend, "tracking_store", None) or _store(workspace, get_store)
        record_tuning_job(store, tuning_job_name=tuning_job_name, training_job_names=job_names)
    except Exception as exc:
        warnings.warn(
            f"tuning job {tuning_job_name}: automatic tracking failed: {exc}",
            TrackingWarning,
            stacklevel=2,
        )


@functools.lru_cache(maxsize=4)
def _store(workspace: Path, factory: Any) -> Any:
    return factory(workspace=workspace)
