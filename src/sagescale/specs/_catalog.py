"""The instance catalog: GPUs, memory, network and price of SageMaker training instances.

The data lives in ``data/instances.json`` with its source, date and the region of its prices.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["CATALOG_INFO", "GpuSpec", "InstanceType", "get_instance_type", "instance_types"]


@dataclass(frozen=True)
class GpuSpec:
    """Peak dense throughput (TFLOPS) and NVLink bandwidth (GB/s, one direction) of a GPU."""

    model: str
    fp32_tflops: float
    fp16_tflops: float
    bf16_tflops: float | None
    nvlink_gbytes_per_s: float | None


@dataclass(frozen=True)
class InstanceType:
    """One SageMaker training instance type."""

    name: str
    gpus: int
    gpu_model: str | None
    gpu_memory_gib: float
    vcpus: int
    memory_gib: float
    network_gbps: float
    efa: bool
    price_per_hour: float
    gpu: GpuSpec | None

    @property
    def family(self) -> str:
        """``p3`` for ``ml.p3.16xlarge``."""
        return self.name.split(".")[1]

    @property
    def intra_node_gbytes_per_s(self) -> float:
        """GPU-to-GPU bandwidth inside the instance: NVLink where present, else PCIe."""
        if self.gpu is not None and self.gpu.nvlink_gbytes_per_s and self.gpus > 1:
            return self.gpu.nvlink_gbytes_per_s
        return float(_raw()["pcie_gbytes_per_s"])


@cache
def _raw() -> dict[str, Any]:
    text = resources.files("sagescale.specs").joinpath("data/instances.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


@cache
def _catalog() -> dict[str, InstanceType]:
    raw = _raw()
    gpus = {name: GpuSpec(model=name, **spec) for name, spec in raw["gpus"].items()}
    out: dict[str, InstanceType] = {}
    for row in raw["instances"]:
        model = row["gpu_model"]
        out[row["name"]] = InstanceType(**row, gpu=gpus.get(model) if model else None)
    return out


def get_instance_type(name: str) -> InstanceType | None:
    """The catalog entry for ``name``, or ``None`` for an instance type it does not list."""
    return _catalog().get(name)


def instance_types() -> list[InstanceType]:
    """Every instance type in the catalog, in catalog order."""
    return list(_catalog().values())


def _info() -> dict[str, str]:
    raw = _raw()
    return {"source": raw["source"], "as_of": raw["as_of"], "price_region": raw["price_region"]}


CATALOG_INFO = _info()
