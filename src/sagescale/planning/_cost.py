"""On-demand and managed-spot cost of a job and of a tuning job."""

from __future__ import annotations

import json
import math
from functools import cache
from importlib import resources

from sagescale.planning._plan import CostEstimate

__all__ = ["DEFAULT_STEPS", "cost_estimate", "job_steps", "spot_savings"]

DEFAULT_STEPS = 1000
"""Steps costed when neither ``steps`` nor ``samples`` is given."""


@cache
def spot_savings() -> tuple[float, str]:
    """The managed-spot saving the catalog assumes (share of the on-demand price) and why."""
    text = resources.files("sagescale.specs").joinpath("data/instances.json").read_text()
    spot = json.loads(text).get("managed_spot", {})
    return float(spot.get("assumed_savings", 0.7)), str(spot.get("note", ""))


def job_steps(
    steps: int | None, samples: int | None, epochs: float, global_batch: int
) -> tuple[int, str | None]:
    """Optimizer steps of the job and, when it is a default, the assumption made."""
    if steps is not None:
        return steps, None
    if samples is not None:
        return max(1, math.ceil(samples * epochs / global_batch)), None
    return DEFAULT_STEPS, (
        f"the job is costed for {DEFAULT_STEPS} steps: give steps= or samples= (and epochs=) "
        "for the real length"
    )


def cost_estimate(
    *,
    steps: int,
    step_seconds: float,
    price_per_hour: float,
    savings: float,
    tuning_jobs: int | None,
) -> CostEstimate:
    """Cost of ``steps`` steps at ``price_per_hour`` for all instances together."""
    hours = steps * step_seconds / 3600.0
    on_demand = hours * price_per_hour
    spot = on_demand * (1.0 - savings)
    return CostEstimate(
        steps=steps,
        job_hours=hours,
        price_per_hour=price_per_hour,
        on_demand_per_job=on_demand,
        managed_spot_per_job=spot,
        spot_savings=savings,
        tuning_jobs=tuning_jobs,
        on_demand_per_tuning_job=None if tuning_jobs is None else on_demand * tuning_jobs,
        managed_spot_per_tuning_job=None if tuning_jobs is None else spot * tuning_jobs,
    )
