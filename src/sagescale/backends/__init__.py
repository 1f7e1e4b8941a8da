"""Backends run training jobs: ``local`` (this machine) and ``sagemaker`` (boto3)."""

from __future__ import annotations

import importlib
import os
from typing import Any

from sagescale.backends._base import (
    TERMINAL_STATUSES,
    Backend,
    JobDescription,
    JobStatus,
    MetricPoint,
    StatusTransition,
)
from sagescale.errors import SpecError

__all__ = [
    "BACKENDS",
    "TERMINAL_STATUSES",
    "Backend",
    "JobDescription",
    "JobStatus",
    "MetricPoint",
    "StatusTransition",
    "backend_name",
    "get_backend",
]

ENV_VAR = "SAGESCALE_BACKEND"
#: backend name → "module:Class", imported on first use
BACKENDS = {
    "local": "sagescale.backends.local:LocalBackend",
    "sagemaker": "sagescale.backends.sagemaker:SageMakerBackend",
}


def get_backend(backend: str | Backend | None = None, **options: Any) -> Backend:
    """Turn ``None | "local" | "sagemaker" | Backend`` into a backend.

    Order: the argument, then ``SAGESCALE_BACKEND``, then ``"local"``. ``options`` go to
    the backend's constructor (e.g. ``workspace=``, ``region=``).
    """
    if isinstance(backend, Backend):
        return backend
    name = backend_name(backend)
    target = BACKENDS.get(name)
    if target is None:
        raise SpecError(
            f"backend = {name!r}: must be one of {', '.join(sorted(BACKENDS))} or a Backend",
            field="backend",
            value=name,
        )
    module_name, _, class_name = target.partition(":")
    cls: type[Backend] = getattr(importlib.import_module(module_name), class_name)
    return cls(**options)


def backend_name(backend: str | None = None) -> str:
    """The backend name in force: the argument, then ``SAGESCALE_BACKEND``, then local."""
    return backend or os.environ.get(ENV_VAR) or "local"
