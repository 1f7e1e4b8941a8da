"""The planner's validated input."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from sagescale.planning._memory import Optimizer, Precision
from sagescale.planning._perf import DEFAULT_MFU
from sagescale.specs import SpecModel, get_instance_type, instance_types
from sagescale.specs._base import SpecRule

__all__ = ["PlanRequest"]


class PlanRequest(SpecModel):
    """Everything :func:`sagescale.planning.plan` needs besides a torch model.

    ``batch_size`` is the global batch (samples per optimizer step, all devices together).
    ``activation_bytes_per_sample`` is measured at ``precision``.
    """

    params: float = Field(gt=0, le=1e14)
    optimizer: Optimizer = "adamw"
    precision: Precision = "fp32"
    batch_size: int = Field(default=32, ge=1, le=10_000_000)
    seq_len: int | None = Field(default=None, ge=1)
    hidden_size: int | None = Field(default=None, ge=1)
    num_layers: int | None = Field(default=None, ge=1)
    num_heads: int | None = Field(default=None, ge=1)
    flash_attention: bool = True
    activation_bytes_per_sample: float | None = Field(default=None, ge=0, allow_inf_nan=False)
    flops_per_sample: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    instance_type: str | None = None
    instance_count: int | None = Field(default=None, ge=1, le=256)
    max_instances: int = Field(default=8, ge=1, le=256)
    max_hours: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    steps: int | None = Field(default=None, ge=1)
    samples: int | None = Field(default=None, ge=1)
    epochs: float = Field(default=1.0, gt=0, allow_inf_nan=False)
    tuning_jobs: int | None = Field(default=None, ge=1, le=10_000)
    min_device_batch: int = Field(default=4, ge=1)
    min_efficiency: float = Field(default=0.8, gt=0, le=1)
    mfu: float = Field(default=DEFAULT_MFU, gt=0, le=1)
    spot_savings: float | None = Field(default=None, ge=0, lt=1)

    @field_validator("instance_type")
    @classmethod
    def _gpu_instance(cls, value: str | None) -> str | None:
        if value is None:
            return value
        info = get_instance_type(value)
        if info is None:
            known = ", ".join(t.name for t in instance_types() if t.gpus)
            raise ValueError(f"is not in the instance catalog; GPU instance types: {known}")
        if info.gpus == 0:
            raise ValueError("has no GPU: the planner sizes GPU training (e.g. ml.g5.xlarge)")
        return value

    @model_validator(mode="after")
    def _count_needs_type(self) -> PlanRequest:
        if self.instance_count is not None and self.instance_type is None:
            raise SpecRule(
                "needs instance_type: say which instance to count",
                field="instance_count",
                value=self.instance_count,
            )
        return self
