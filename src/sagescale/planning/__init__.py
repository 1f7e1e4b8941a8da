"""The planner: which strategy, which instances, what batch and what it costs — before a job runs.

``plan(...)`` encodes SageMaker's distributed-training decision flow with numbers behind it
(memory per device, step time, all-reduce, pipeline bubble, cost on demand and on managed
spot) and returns a :class:`Plan` that explains each decision and turns into a
:class:`~sagescale.specs.TrainingJob` with :meth:`Plan.to_job`.
"""

from __future__ import annotations

from sagescale.planning._api import plan
from sagescale.planning._memory import (
    MemoryBreakdown,
    ModelStateBytes,
    model_state_bytes_per_param,
)
from sagescale.planning._perf import pipeline_bubble, ring_allreduce_seconds
from sagescale.planning._plan import CostEstimate, Decision, Plan, Remedy, ScalingStep
from sagescale.planning._request import PlanRequest
from sagescale.planning._trace import TraceProfile, trace_model

__all__ = [
    "CostEstimate",
    "Decision",
    "MemoryBreakdown",
    "ModelStateBytes",
    "Plan",
    "PlanRequest",
    "Remedy",
    "ScalingStep",
    "TraceProfile",
    "model_state_bytes_per_param",
    "pipeline_bubble",
    "plan",
    "ring_allreduce_seconds",
    "trace_model",
]
