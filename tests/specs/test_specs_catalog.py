"""The instance catalog, the PyTorch image URIs and generated job names."""

from __future__ import annotations

import re
from datetime import datetime, timezone

import pytest

from sagescale.specs import (
    CATALOG_INFO,
    check_job_name,
    check_tuning_job_name,
    get_instance_type,
    instance_types,
    pytorch_image_uri,
    unique_name,
)

REQUIRED = [
    "ml.p3.2xlarge",
    "ml.p3.8xlarge",
    "ml.p3.16xlarge",
    "ml.p3dn.24xlarge",
    "ml.p4d.24xlarge",
    "ml.p4de.24xlarge",
    "ml.p5.48xlarge",
]


def test_catalog_names_its_source_date_and_region() -> None:
    assert CATALOG_INFO["source"]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", CATALOG_INFO["as_of"])
    assert CATALOG_INFO["price_region"] == "us-east-1"


@pytest.mark.parametrize("name", REQUIRED)
def test_required_gpu_instances(name: str) -> None:
    info = get_instance_type(name)
    assert info is not None
    assert info.gpus >= 1 and info.gpu is not None and info.gpu_memory_gib > 0
    assert info.vcpus > 0 and info.memory_gib > 0 and info.network_gbps > 0
    assert info.price_per_hour > 0
    assert info.intra_node_gbytes_per_s > 0


def test_catalog_covers_every_family() -> None:
    families = {info.family for info in instance_types()}
    assert {"p3", "p3dn", "p4d", "p4de", "p5", "g5", "g4dn", "m5", "c5"} <= families
    assert get_instance_type("ml.p4d.24xlarge").efa  # type: ignore[union-attr]
    assert get_instance_type("ml.m5.xlarge").gpus == 0  # type: ignore[union-attr]
    assert get_instance_type("ml.nope.xlarge") is None


def test_pytorch_image_uris() -> None:
    gpu = pytorch_image_uri("2.3", "py311", region="us-west-2", gpu=True)
    assert gpu == "763104351884.dkr.ecr.us-west-2.amazonaws.com/pytorch-training:2.3.0-gpu-py311"
    cpu = pytorch_image_uri("2.3.0", "py311", region="us-east-1", gpu=False)
    assert cpu.endswith(":2.3.0-cpu-py311")
    with pytest.raises(ValueError, match="known"):
        pytorch_image_uri("0.4", "py3", region="us-east-1", gpu=True)
    with pytest.raises(ValueError, match="available"):
        pytorch_image_uri("2.3", "py27", region="us-east-1", gpu=True)


def test_unique_names_fit_the_name_rules() -> None:
    now = datetime(2026, 1, 2, 3, 4, 5, 678000, tzinfo=timezone.utc)
    assert unique_name("resnet", now=now) == "resnet-2026-01-02-03-04-05-678"
    long = unique_name("x" * 80, now=now)
    assert len(long) == 63 and check_job_name(long) == long
    tuning = unique_name("hyperparameter-search-job", limit=32, now=now)
    assert len(tuning) <= 32 and check_tuning_job_name(tuning) == tuning
    assert check_job_name(unique_name("a" * 39 + "-" * 10, now=now))
