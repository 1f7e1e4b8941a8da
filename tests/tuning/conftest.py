from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from sagescale.specs import TrainingJob
from sagescale.tuning import HyperparameterTuner

from ._fakes import JobContext, ThreadBackend

EPOCH_SECONDS = 0.01


def curve_job(value: Callable[[dict[str, Any], int], float], epochs: int = 4) -> Any:
    """A fake training function reporting ``value(hps, epoch)`` for epochs 1..epochs."""

    def run(ctx: JobContext) -> None:
        n = int(ctx.hps.get("epochs", epochs))
        for epoch in range(1, n + 1):
            if ctx.stopped:
                return
            ctx.log("score", value(ctx.hps, epoch))
            time.sleep(EPOCH_SECONDS)

    return run


def quadratic(hps: dict[str, Any], epoch: int) -> float:
    x = float(hps["x"])
    bonus = {"a": 0.0, "b": 0.5, "c": 1.0}.get(str(hps.get("kind", "a")), 0.0)
    return -((x - 0.3) ** 2) + bonus - 1.0 / epoch


def failing(ctx: JobContext) -> None:
    raise RuntimeError("boom")


@pytest.fixture
def backend() -> ThreadBackend:
    return ThreadBackend(
        {
            "quad.py": curve_job(quadratic),
            "lin.py": curve_job(lambda hps, epoch: float(hps["y"]) * epoch),
            "fail.py": failing,
        }
    )


@pytest.fixture
def make_tuner(workspace: Path, backend: ThreadBackend) -> Callable[..., HyperparameterTuner]:
    def make(entry_point: str = "quad.py", **kwargs: Any) -> HyperparameterTuner:
        kwargs.setdefault("objective_metric_name", "score")
        job = kwargs.pop("training_job", None) or TrainingJob(
            entry_point=entry_point, framework="pytorch", hyperparameters={"epochs": 4}
        )
        tuner = HyperparameterTuner(job, backend=backend, **kwargs)
        tuner.poll_interval = 0.005
        return tuner

    return make
