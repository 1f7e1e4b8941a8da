"""Training memory per device: model state, activations and a framework overhead margin.

Model state follows the accounting of the ZeRO paper (Rajbhandari et al., 2020): under mixed
precision a parameter costs 2 bytes of half-precision weights, 2 bytes of half-precision
gradients, 4 bytes of fp32 master weights and the optimizer's own state (8 bytes for Adam /
AdamW: two fp32 moments) — 16 bytes per parameter, unsharded. In fp32 the weights and
gradients take 4 bytes each and there is no master copy (Adam again totals 16 bytes).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FRAGMENTATION",
    "FRAMEWORK_OVERHEAD_BYTES",
    "GIB",
    "OPTIMIZERS",
    "PRECISIONS",
    "MemoryBreakdown",
    "ModelStateBytes",
    "Optimizer",
    "Precision",
    "model_state_bytes_per_param",
]

GIB = 1024**3
Optimizer = Literal["adam", "adamw", "sgd", "sgd_momentum", "adafactor"]
Precision = Literal["fp32", "fp16", "bf16"]
OPTIMIZERS: tuple[Optimizer, ...] = ("adam", "adamw", "sgd", "sgd_momentum", "adafactor")
PRECISIONS: tuple[Precision, ...] = ("fp32", "fp16", "bf16")

FRAMEWORK_OVERHEAD_BYTES = 1 * GIB
"""CUDA context, cuBLAS/cuDNN workspaces and NCCL buffers: a fixed margin per device."""
FRAGMENTATION = 0.10
"""Allocator fragmentation and short-lived temporaries, as a share of state + activations."""

# Optimizer state in fp32 bytes per parameter (Adafactor: see adafactor_state_bytes).
_OPTIMIZER_STATE = {"adam": 8.0, "adamw": 8.0, "sgd": 0.0, "sgd_momentum": 4.0}


def adafactor_state_bytes(matrix_side: float) -> float:
    """Adafactor without momentum keeps a row and a column factor of the second moment.

    For an ``n x n`` weight that is ``2n`` fp32 numbers for ``n**2`` parameters:
    ``8 / n`` bytes per parameter.
    """
    return 8.0 / max(matrix_side, 1.0)


@dataclass(frozen=True)
class ModelStateBytes:
    """Bytes per parameter of each part of the model state."""

    weights: float
    gradients: float
    master_weights: float
    optimizer_state: float

    @property
    def total(self) -> float:
        return self.weights + self.gradients + self.master_weights + self.optimizer_state


def model_state_bytes_per_param(
    optimizer: Optimizer, precision: Precision, *, matrix_side: float = 1024.0
) -> ModelStateBytes:
    """Bytes per parameter for ``optimizer`` under ``precision`` (unsharded).

    >>> model_state_bytes_per_param("adamw", "bf16").total
    16.0
    >>> model_state_bytes_per_param("sgd", "fp32").total
    8.0
    """
    mixed = precision != "fp32"
    if optimizer == "adafactor":
        state = adafactor_state_bytes(matrix_side)
    else:
        state = _OPTIMIZER_STATE[optimizer]
    return ModelStateBytes(
        weights=2.0 if mixed else 4.0,
        gradients=2.0 if mixed else 4.0,
        master_weights=4.0 if mixed else 0.0,
        optimizer_state=state,
    )


@dataclass(frozen=True)
class MemoryBreakdown:
    """Memory of one device during a training step, in bytes."""

    weights: float
    gradients: float
    master_weights: float
    optimizer_state: float
    activations: float
    overhead: float
    capacity: float

    @property
    def model_state(self) -> float:
        return self.weights + self.gradients + self.master_weights + self.optimizer_state

    @property
    def total(self) -> float:
        return self.model_state + self.activations + self.overhead

    @property
    def fits(self) -> bool:
        return self.total <= self.capacity

    @property
    def utilization(self) -> float:
        """Share of the device memory in use (above 1.0 means it does not fit)."""
        return self.total / self.capacity if self.capacity else float("inf")

    def dominant_phrase(self) -> str:
        """``activations dominate`` / ``optimizer state dominates``."""
        part = self.dominant()
        verb = (
            "dominate"
            if part in ("activations", "gradients", "weights", "master_weights")
            else "dominates"
        )
        return f"{part.replace('_', ' ')} {verb}"

    def parts(self) -> dict[str, float]:
        """Each part by name, in bytes (what the tables show)."""
        return {
            "weights": self.weights,
            "gradients": self.gradients,
            "master_weights": self.master_weights,
            "optimizer_state": self.optimizer_state,
            "activations": self.activations,
            "overhead": self.overhead,
        }

    def dominant(self) -> str:
        """``activations`` when they outweigh the model state, else its largest part."""
        if self.activations >= self.model_state:
            return "activations"
        parts = self.parts()
        del parts["activations"], parts["overhead"]
        return max(parts, key=lambda name: parts[name])


def breakdown(
    state: ModelStateBytes,
    params_on_device: float,
    activations: float,
    capacity: float,
) -> MemoryBreakdown:
    """Memory of one device holding ``params_on_device`` parameters and ``activations`` bytes."""
    weights = state.weights * params_on_device
    gradients = state.gradients * params_on_device
    master = state.master_weights * params_on_device
    optim = state.optimizer_state * params_on_device
    variable = weights + gradients + master + optim + activations
    return MemoryBreakdown(
        weights=weights,
        gradients=gradients,
        master_weights=master,
        optimizer_state=optim,
        activations=activations,
        overhead=FRAMEWORK_OVERHEAD_BYTES + FRAGMENTATION * variable,
        capacity=capacity,
    )


def activation_budget(state: ModelStateBytes, params_on_device: float, capacity: float) -> float:
    """Bytes left for activations once model state and the overhead are paid for."""
    fixed = state.total * params_on_device
    return (capacity - FRAMEWORK_OVERHEAD_BYTES) / (1.0 + FRAGMENTATION) - fixed
