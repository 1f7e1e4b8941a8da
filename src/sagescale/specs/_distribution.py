"""Distribution settings: data parallel, model parallel (SMP v1) and torch_distributed.

``distribution`` in a :class:`~sagescale.specs.TrainingJob` is a union discriminated on
``type``. Defaults are SageMaker's own.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sagescale.runtime._env import PLACEMENT_RULE, PLACEMENT_STRATEGIES, PlacementStrategy
from sagescale.specs._base import SpecModel, SpecRule

__all__ = [
    "DataParallel",
    "Distribution",
    "ModelParallel",
    "SMPv2",
    "TorchDistributed",
]


class DataParallel(SpecModel):
    """Data parallel training.

    ``engine="smddp"`` is SageMaker's data-parallel library (``smdistributed.dataparallel``);
    ``engine="ddp"`` is PyTorch DDP launched with ``torchrun``. ``processes_per_host``
    defaults to the instance's GPU count (on the local backend: the session's local
    processes per host).
    """

    type: Literal["data_parallel"] = "data_parallel"
    engine: Literal["smddp", "ddp"] = "smddp"
    processes_per_host: int | None = Field(default=None, ge=1, le=64)
    custom_mpi_options: str = ""


class ModelParallel(SpecModel):
    """SageMaker model parallel (``smdistributed.modelparallel``, v1 parameters).

    Hybrid data + model parallel is ``ddp: true``: the processes that are not needed for
    the pipeline replicate it. Without ``smdistributed`` the runtime runs the same settings
    on ``torch.distributed.pipelining``.
    """

    type: Literal["model_parallel"] = "model_parallel"
    partitions: int = Field(ge=1, le=64)
    microbatches: int = Field(default=1, ge=1, le=1024)
    pipeline: Literal["simple", "interleaved", "_only_forward"] = "interleaved"
    optimize: Literal["memory", "speed"] = "memory"
    placement_strategy: PlacementStrategy = "cluster"
    auto_partition: bool = True
    default_partition: int = Field(default=0, ge=0)
    memory_weight: float | None = Field(default=None, ge=0.0, le=1.0)
    ddp: bool = False
    active_microbatches: int | None = Field(default=None, ge=1)
    tensor_parallel_degree: int = Field(default=1, ge=1, le=64)
    fp16: bool = False
    shard_optimizer_state: bool = False
    prescaled_batch: bool = False
    processes_per_host: int | None = Field(default=None, ge=1, le=64)
    custom_mpi_options: str = ""

    @field_validator("placement_strategy", mode="before")
    @classmethod
    def _placement(cls, value: Any) -> Any:
        if value not in PLACEMENT_STRATEGIES:
            raise SpecRule(PLACEMENT_RULE)
        return value

    @model_validator(mode="after")
    def _check_partitions(self) -> ModelParallel:
        if self.default_partition >= self.partitions:
            raise SpecRule(
                f"must be less than partitions ({self.partitions})",
                field="default_partition",
                value=self.default_partition,
            )
        return self

    @property
    def effective_memory_weight(self) -> float:
        """SageMaker's default: 0.8 when optimizing memory, 0.2 when optimizing speed."""
        if self.memory_weight is not None:
            return self.memory_weight
        return 0.8 if self.optimize == "memory" else 0.2

    def mp_parameters(self) -> dict[str, Any]:
        """The ``mp_parameters`` dict SageMaker hands to ``smdistributed.modelparallel``."""
        params: dict[str, Any] = {
            "partitions": self.partitions,
            "microbatches": self.microbatches,
            "pipeline": self.pipeline,
            "optimize": self.optimize,
            "placement_strategy": self.placement_strategy,
            "auto_partition": self.auto_partition,
            "default_partition": self.default_partition,
            "memory_weight": self.effective_memory_weight,
            "ddp": self.ddp,
            "tensor_parallel_degree": self.tensor_parallel_degree,
            "fp16": self.fp16,
            "shard_optimizer_state": self.shard_optimizer_state,
            "prescaled_batch": self.prescaled_batch,
        }
        if self.active_microbatches is not None:
            params["active_microbatches"] = self.active_microbatches
        return params


class SMPv2(SpecModel):
    """SageMaker model parallel v2 settings (on top of ``torch_distributed``)."""

    hybrid_shard_degree: int = Field(default=0, ge=0)
    tensor_parallel_degree: int = Field(default=1, ge=1)
    expert_parallel_degree: int = Field(default=1, ge=1)
    sm_activation_offloading: bool = False
    activation_loading_horizon: int | None = Field(default=None, ge=1)
    fsdp_cache_flush_warnings: bool | None = None
    random_seed: int | None = None

    def parameters(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class TorchDistributed(SpecModel):
    """``torchrun`` on every host, optionally with SageMaker model parallel v2."""

    type: Literal["torch_distributed"] = "torch_distributed"
    processes_per_host: int | None = Field(default=None, ge=1, le=64)
    smp: SMPv2 | None = None


Distribution = Annotated[
    DataParallel | ModelParallel | TorchDistributed, Field(discriminator="type")
]
