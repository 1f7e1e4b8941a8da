"""Minimal valid specs as plain data, shared by the specs tests."""

from __future__ import annotations

from typing import Any

ROLE = "arn:aws:iam::111122223333:role/SageMakerRole"


def framework_job(**overrides: Any) -> dict[str, Any]:
    """The smallest valid framework (PyTorch script-mode) training job, as YAML data."""
    data: dict[str, Any] = {"entry_point": "train.py", "role": ROLE}
    data.update(overrides)
    return data


def image_job(**overrides: Any) -> dict[str, Any]:
    """The smallest valid image (built-in algorithm) training job: nothing added to it."""
    data: dict[str, Any] = {"image_uri": "111122223333.dkr.ecr.us-east-1.amazonaws.com/a:1"}
    data.update(role=ROLE, **overrides)
    return data


def tuning_job(**overrides: Any) -> dict[str, Any]:
    """The smallest valid tuning job, as YAML data."""
    data: dict[str, Any] = {
        "objective_metric_name": "loss",
        "objective_type": "Minimize",
        "training_job": framework_job(
            metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}]
        ),
        "hyperparameter_ranges": {
            "lr": {"type": "continuous", "min_value": 0.001, "max_value": 0.1}
        },
    }
    data.update(overrides)
    return data
