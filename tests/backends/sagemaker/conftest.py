"""Fixtures for the sagemaker backend: a backend on moto's server, a training script,
and ``fake_operation`` for the few calls moto does not implement."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse
from botocore.validate import validate_parameters

from sagescale.backends.sagemaker import SageMakerBackend
from sagescale.specs import TrainingJob

from .sagemaker_constants import ROLE, FakeOperation

TRAIN_PY = """\
import argparse

import sagescale.runtime.dist as dist

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=1)
args, _ = parser.parse_known_args()
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={1.0 / (epoch + 1)}")
"""


@pytest.fixture
def backend(moto_endpoint: str) -> SageMakerBackend:
    return SageMakerBackend(
        role=ROLE, region="us-east-1", endpoint_url=moto_endpoint, poll_interval=0.01
    )


@pytest.fixture
def name() -> str:
    """A job name no other test uses (moto's server lives for the whole session)."""
    return f"t-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    root = tmp_path / "src"
    root.mkdir()
    (root / "train.py").write_text(TRAIN_PY)
    (root / "util.py").write_text("VALUE = 1\n")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "util.cpython-311.pyc").write_bytes(b"\0")
    return root


@pytest.fixture
def job(source_dir: Path) -> TrainingJob:
    return TrainingJob(
        entry_point="train.py",
        source_dir=str(source_dir),
        hyperparameters={"epochs": 3, "optimizer": "adam"},
        metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
    )


@pytest.fixture
def fake_operation(backend: SageMakerBackend) -> Iterator[FakeOperation]:
    """Answer one SageMaker operation moto lacks with ``response``, like botocore's Stubber
    (the request is validated by the client, the response against the output shape), while
    every other call still goes to moto. Returns the request bodies it received."""
    client = backend.aws.client("sagemaker")
    handlers: list[tuple[str, Any]] = []

    def install(operation: str, response: dict[str, Any]) -> list[dict[str, Any]]:
        shape = client.meta.service_model.operation_model(operation).output_shape
        validate_parameters(response, shape)
        seen: list[dict[str, Any]] = []

        def handler(params: dict[str, Any], **_: Any) -> tuple[AWSResponse, dict[str, Any]]:
            seen.append(json.loads(params.get("body") or b"{}"))
            return AWSResponse(None, 200, {}, None), response

        event = f"before-call.sagemaker.{operation}"
        client.meta.events.register(event, handler)
        handlers.append((event, handler))
        return seen

    yield install
    for event, handler in handlers:
        client.meta.events.unregister(event, handler)
