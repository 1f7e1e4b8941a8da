"""Lazy imports of optional dependencies with an error that names the extra to install."""

from __future__ import annotations

import importlib
from types import ModuleType

from sagescale.errors import MissingExtraError

_EXTRA_OF = {
    "torch": "torch",
    "scipy": "torch",  # optuna's Gaussian-process sampler needs it with torch
    "mlflow": "mlflow",
    "matplotlib": "plot",
    "sagemaker": "sagemaker",
}


def optional_import(module: str, *, purpose: str) -> ModuleType:
    """Import ``module`` or raise :class:`MissingExtraError` naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        top = module.split(".")[0]
        raise MissingExtraError(top, _EXTRA_OF.get(top, top), purpose) from exc
