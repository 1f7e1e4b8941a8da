"""Sample inputs in the documented shapes: a small tuning job and a small experiment."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pandas as pd
import pytest

T0 = datetime(2026, 1, 5, 9, 0, tzinfo=timezone.utc)
# (name, eta, max_depth, booster, status, objective, start offset in minutes)
JOBS = [
    ("hpo-001-a1b2c3", 0.30, 5, "gbtree", "Completed", 0.412, 0),
    ("hpo-002-d4e5f6", 0.01, 3, "dart", "Completed", 0.388, 0),
    ("hpo-003-g7h8i9", 0.05, 8, "gbtree", "Stopped", 0.455, 6),
    ("hpo-004-j1k2l3", 0.12, 6, "<b>bold</b>", "Completed", 0.351, 7),
    ("hpo-005-m4n5o6", 0.002, 2, "dart", "Failed", math.nan, 12),
    ("hpo-006-p7q8r9", 0.20, 9, "gbtree", "Completed", 0.367, 13),
]


@pytest.fixture
def tuning_df() -> pd.DataFrame:
    rows = []
    # SageMaker lists jobs newest first; the plots must put them in start order
    for name, eta, depth, booster, status, value, minutes in reversed(JOBS):
        start = T0 + timedelta(minutes=minutes)
        end = None if status == "Failed" else start + timedelta(minutes=5)
        rows.append(
            {
                "eta": eta,
                "max_depth": float(depth),
                "booster": booster,
                "TrainingJobName": name,
                "TrainingJobStatus": status,
                "FinalObjectiveValue": value,
                "TrainingStartTime": start,
                "TrainingEndTime": end,
                "TrainingElapsedTimeSeconds": None if end is None else 300.0,
            }
        )
    return pd.DataFrame(rows)  # type: ignore[no-any-return]


@pytest.fixture
def curves_df() -> pd.DataFrame:
    rows = []
    for name, _, _, _, status, value, _ in JOBS:
        if math.isnan(value):
            continue
        epochs = 3 if status == "Stopped" else 10
        for epoch in range(1, epochs + 1):
            v = value + 0.4 * math.exp(-epoch / 2.5)
            rows.append(
                {
                    "TrainingJobName": name,
                    "Epoch": epoch,
                    "ObjectiveValue": v,
                    "TrainingJobStatus": status,
                }
            )
    return pd.DataFrame(rows)  # type: ignore[no-any-return]


COMPONENTS = [
    ("weather-md2-training", "max_depth=2", 2, 3.1, "trial-md2"),
    ("weather-md5-training", "max_depth=5", 5, 2.4, "trial-md5"),
    ("weather-<x>&-training", "odd <name> & co", 3, 2.8, "trial-odd"),
]


@pytest.fixture
def experiment_df() -> pd.DataFrame:
    rows = []
    for name, display, depth, rmse, trial in COMPONENTS:
        row: dict[str, object] = {
            "TrialComponentName": name,
            "DisplayName": display,
            "SourceArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
            "max_depth": float(depth),
            "objective": "reg:squarederror",
        }
        for metric, base in (("validation:rmse", rmse), ("train:rmse", rmse * 0.8)):
            row.update(
                {
                    f"{metric} - Min": base,
                    f"{metric} - Max": base + 2,
                    f"{metric} - Avg": base + 0.7,
                    f"{metric} - StdDev": 0.6,
                    f"{metric} - Last": base,
                    f"{metric} - Count": 10,
                }
            )
        row["Trials"] = [trial]
        row["Experiments"] = ["weather"]
        rows.append(row)
    return pd.DataFrame(rows)  # type: ignore[no-any-return]


@pytest.fixture
def series_df() -> pd.DataFrame:
    rows = []
    for name, _, _, rmse, _ in COMPONENTS:
        for step in range(10):
            for metric, base in (("validation:rmse", rmse), ("train:rmse", rmse * 0.8)):
                rows.append(
                    {
                        "TrialComponentName": name,
                        "metric_name": metric,
                        "step": step,
                        "timestamp": T0.timestamp() + 5 * step,
                        "value": base + 2 * math.exp(-step / 3),
                    }
                )
    return pd.DataFrame(rows)  # type: ignore[no-any-return]
