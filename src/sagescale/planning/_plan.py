"""The planner's answer: each decision with its reason, the estimates, and the job it implies."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Literal

from sagescale.errors import SpecError
from sagescale.planning._memory import MemoryBreakdown, ModelStateBytes, Optimizer, Precision
from sagescale.specs import SMDDP_INSTANCES, DataParallel, ModelParallel, TrainingJob

__all__ = ["CostEstimate", "Decision", "Plan", "Remedy", "ScalingStep"]

Strategy = Literal["data_parallel", "model_parallel"]


@dataclass(frozen=True)
class Decision:
    """One step of the decision flow: what was chosen and why."""

    topic: str
    choice: str
    reason: str


@dataclass(frozen=True)
class Remedy:
    """One way to make a model fit that does not fit one device, and what it costs."""

    name: str
    fits: bool
    change: str
    cost: str
    applied: bool = False


@dataclass(frozen=True)
class ScalingStep:
    """One rung of the scaling ladder (one GPU → bigger instance → more instances)."""

    kind: str
    instance_type: str
    instance_count: int
    gpus: int
    per_device_batch: int
    gradient_accumulation: int
    step_seconds: float
    allreduce_seconds: float
    samples_per_second: float
    speedup: float
    efficiency: float
    price_per_hour: float
    job_hours: float
    job_cost: float
    fits: bool


@dataclass(frozen=True)
class CostEstimate:
    """On-demand and managed-spot cost of the job and of a tuning job of ``tuning_jobs``."""

    steps: int
    job_hours: float
    price_per_hour: float
    on_demand_per_job: float
    managed_spot_per_job: float
    spot_savings: float
    tuning_jobs: int | None = None
    on_demand_per_tuning_job: float | None = None
    managed_spot_per_tuning_job: float | None = None


@dataclass(frozen=True)
class Plan:
    """What the planner recommends, with the numbers behind it.

    Byte figures are bytes; ``memory`` is one device of the chosen layout (for model
    parallel: the first pipeline stage, which holds the most activations).
    """

    strategy: Strategy
    instance_type: str
    instance_count: int
    processes_per_host: int
    precision: Precision
    requested_precision: Precision
    optimizer: Optimizer
    params: float
    global_batch: int
    per_device_batch: int
    gradient_accumulation: int
    partitions: int
    microbatches: int
    data_parallel_degree: int
    memory: MemoryBreakdown
    state_bytes_per_param: ModelStateBytes
    activation_bytes_per_sample: float
    flops_per_sample: float
    step_seconds: float
    compute_seconds: float
    allreduce_seconds: float
    pipeline_bubble: float
    samples_per_second: float
    scaling: tuple[ScalingStep, ...]
    remedies: tuple[Remedy, ...]
    cost: CostEstimate
    decisions: tuple[Decision, ...]
    warnings: tuple[str, ...]
    assumptions: tuple[str, ...]
    catalog: dict[str, str]
    base_job: TrainingJob | None = field(default=None, compare=False)

    # ---- derived -----------------------------------------------------------------------
    @property
    def total_gpus(self) -> int:
        return self.instance_count * self.processes_per_host

    @property
    def engine(self) -> Literal["smddp", "ddp"]:
        """smddp where SageMaker supports it (and there is more than one GPU), else DDP."""
        if self.instance_type in SMDDP_INSTANCES and self.total_gpus > 1:
            return "smddp"
        return "ddp"

    # ---- outputs -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The plan as JSON-able data (bytes as numbers, nested lists of dicts)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "base_job":
                continue
            out[f.name] = _plain(getattr(self, f.name))
        out["memory"] = {
            **_plain(self.memory),
            "model_state": self.memory.model_state,
            "total": self.memory.total,
            "fits": self.memory.fits,
        }
        out["state_bytes_per_param"]["total"] = self.state_bytes_per_param.total
        out["total_gpus"] = self.total_gpus
        out["engine"] = self.engine if self.strategy == "data_parallel" else None
        return out

    def distribution(self) -> DataParallel | ModelParallel | None:
        """The job's ``distribution``: none for one GPU."""
        if self.strategy == "model_parallel":
            return ModelParallel(
                partitions=self.partitions,
                microbatches=self.microbatches,
                ddp=self.data_parallel_degree > 1,
                processes_per_host=self.processes_per_host,
            )
        if self.total_gpus <= 1:
            return None
        return DataParallel(engine=self.engine, processes_per_host=self.processes_per_host)

    def to_job(
        self,
        base: TrainingJob | None = None,
        *,
        entry_point: str | None = None,
        source_dir: str | None = None,
    ) -> TrainingJob:
        """A :class:`TrainingJob` with the planned instance type, count, distribution and
        precision, on top of ``base`` (default: the job the plan started from)."""
        base = base or self.base_job
        data: dict[str, Any] = base.to_dict() if base is not None else {}
        if entry_point is not None:
            data["entry_point"] = entry_point
        if source_dir is not None:
            data["source_dir"] = source_dir
        if "entry_point" not in data and "image_uri" not in data:
            raise SpecError(
                "entry_point: Plan.to_job needs a base job or an entry_point (rule: a "
                "framework job runs a script)",
                field="entry_point",
                value=None,
            )
        data["instance_type"] = self.instance_type
        data["instance_count"] = self.instance_count
        dist = self.distribution()
        data.pop("distribution", None)
        if dist is not None:
            data["distribution"] = dist.to_dict()
        data.pop("mixed_precision", None)
        if self.precision != "fp32":
            data["mixed_precision"] = self.precision
        return TrainingJob.model_validate(data)

    def __rich__(self) -> Any:
        from sagescale.planning._render import rich_renderable

        return rich_renderable(self)

    def _repr_html_(self) -> str:
        from sagescale.planning._render import plan_html

        return plan_html(self)

    def __str__(self) -> str:
        from sagescale.planning._render import plan_text

        return plan_text(self)


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(item) for item in value]
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, float) and not math.isfinite(value):  # NaN and inf are not JSON
        return None
    return value
