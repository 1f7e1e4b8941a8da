"""Step time: compute from FLOPs and the GPU's peak, ring all-reduce, pipeline bubble."""

from __future__ import annotations

from dataclasses import dataclass

from sagescale.planning._memory import Precision
from sagescale.specs import InstanceType

__all__ = [
    "DEFAULT_MFU",
    "StepTime",
    "allreduce_seconds",
    "peak_flops",
    "pipeline_bubble",
    "ring_allreduce_seconds",
]

DEFAULT_MFU = 0.4
"""Model FLOPs utilisation assumed: the share of the dense peak a training step achieves."""


def ring_allreduce_seconds(nbytes: float, ranks: int, gbytes_per_s: float) -> float:
    """Ring all-reduce of ``nbytes`` over ``ranks``: ``2(N-1)/N x bytes / bandwidth``."""
    if ranks <= 1 or nbytes <= 0:
        return 0.0
    return 2.0 * (ranks - 1) / ranks * nbytes / (gbytes_per_s * 1e9)


def network_gbytes_per_s(instance: InstanceType) -> float:
    """Bandwidth between instances in GB/s (the network's Gbps / 8; EFA where present)."""
    return instance.network_gbps / 8.0


def allreduce_seconds(
    grad_bytes: float, instance: InstanceType, *, local_ranks: int, nodes: int
) -> float:
    """Hierarchical all-reduce of ``grad_bytes`` held by every rank of a replica group.

    Inside an instance ``local_ranks`` GPUs reduce over NVLink (PCIe without it); between
    ``nodes`` instances every instance moves the whole gradient over its network link
    (each of its GPUs sends its shard).
    """
    intra = ring_allreduce_seconds(grad_bytes, local_ranks, instance.intra_node_gbytes_per_s)
    inter = ring_allreduce_seconds(grad_bytes, nodes, network_gbytes_per_s(instance))
    return intra + inter


def pipeline_bubble(partitions: int, microbatches: int) -> float:
    """Idle share of a pipeline step: ``(p-1)/(m+p-1)``."""
    if partitions <= 1:
        return 0.0
    return (partitions - 1) / (microbatches + partitions - 1)


def peak_flops(instance: InstanceType, precision: Precision) -> float:
    """Dense peak FLOP/s of one GPU of ``instance`` at ``precision``."""
    gpu = instance.gpu
    if gpu is None:
        raise ValueError(f"{instance.name} has no GPU")
    tflops = {"fp32": gpu.fp32_tflops, "fp16": gpu.fp16_tflops, "bf16": gpu.bf16_tflops}[precision]
    if tflops is None:
        raise ValueError(f"{gpu.model} has no {precision} peak")
    return tflops * 1e12


@dataclass(frozen=True)
class StepTime:
    """Seconds of one optimizer step and its parts."""

    compute: float
    allreduce: float
    exposed_allreduce: float
    bubble: float

    @property
    def total(self) -> float:
        return self.compute / (1.0 - self.bubble) + self.exposed_allreduce


def step_time(
    *,
    flops_per_device: float,
    flops_per_second: float,
    allreduce: float,
    bubble: float,
) -> StepTime:
    """Compute at the assumed utilisation; all-reduce overlaps the backward pass (2/3 of it)."""
    compute = flops_per_device / flops_per_second
    backward = compute * 2.0 / 3.0
    return StepTime(
        compute=compute,
        allreduce=allreduce,
        exposed_allreduce=max(0.0, allreduce - backward),
        bubble=bubble,
    )
