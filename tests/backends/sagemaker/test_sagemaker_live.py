"""Real AWS (marker ``live``): skipped unless ``SAGESCALE_LIVE_ROLE`` names an execution
role and boto3 finds credentials. What it costs and how to run it: docs/runbook-aws.md."""

from __future__ import annotations

import os
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from sagescale.backends import JobStatus
from sagescale.backends.sagemaker import SageMakerBackend
from sagescale.specs import (
    CategoricalParameter,
    ExperimentConfig,
    TrainingJob,
    TuningJob,
)

ROLE = os.environ.get("SAGESCALE_LIVE_ROLE")
REGION = os.environ.get("SAGESCALE_LIVE_REGION") or os.environ.get("AWS_DEFAULT_REGION")
INSTANCE = os.environ.get("SAGESCALE_LIVE_INSTANCE", "ml.m5.large")
# read at collection, before moto's fixture puts fake keys into the environment
_CREDENTIALS = boto3.Session().get_credentials() if ROLE else None
_FROZEN = _CREDENTIALS.get_frozen_credentials() if _CREDENTIALS is not None else None

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(
        _FROZEN is None, reason="set SAGESCALE_LIVE_ROLE and AWS credentials (docs/runbook-aws.md)"
    ),
]

SCRIPT = """\
import argparse, os
import sagescale.runtime
from sagescale.runtime import load_env

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=2)
parser.add_argument("--width", type=float, default=1.0)
args, _ = parser.parse_known_args()
env = load_env()
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={args.width / (epoch + 1)}", flush=True)
with open(os.path.join(os.environ["SM_MODEL_DIR"], "model.txt"), "w") as fh:
    fh.write("weights")
"""


@pytest.fixture
def live() -> SageMakerBackend:
    assert _FROZEN is not None
    session = boto3.Session(
        aws_access_key_id=_FROZEN.access_key,
        aws_secret_access_key=_FROZEN.secret_key,
        aws_session_token=_FROZEN.token,
        region_name=REGION,
    )
    return SageMakerBackend(role=ROLE, boto_session=session, poll_interval=15)


@pytest.fixture
def live_job(tmp_path: Path) -> TrainingJob:
    (tmp_path / "train.py").write_text(SCRIPT)
    return TrainingJob(
        entry_point="train.py",
        source_dir=str(tmp_path),
        instance_type=INSTANCE,
        max_run_seconds=900,
        hyperparameters={"epochs": 3},
        metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
        base_job_name="sagescale-live",
    )


def test_training_job_end_to_end(
    live: SageMakerBackend, live_job: TrainingJob, tmp_path: Path
) -> None:
    name = live.submit(live_job)
    description = live.wait(name, logs=True, raise_on_failure=True, timeout=1800)
    assert description.status is JobStatus.COMPLETED
    assert description.final_metrics["loss"] == pytest.approx(1 / 3, rel=1e-3)
    assert "epoch=2" in live.logs(name)
    assert [p.value for p in live.metrics(name, ["loss"])] == pytest.approx([1, 0.5, 1 / 3])
    assert live.download_model(name, tmp_path / "model").stat().st_size > 0


def test_stop_a_running_job(live: SageMakerBackend, live_job: TrainingJob) -> None:
    name = live.submit(live_job)
    live.stop(name)
    assert live.describe(name).status in (JobStatus.STOPPING, JobStatus.STOPPED)
    assert live.wait(name, timeout=1800).status is JobStatus.STOPPED


def test_tuning_job_joins_its_experiment(live: SageMakerBackend, live_job: TrainingJob) -> None:
    name = f"sgs-live-{uuid.uuid4().hex[:8]}"
    spec = TuningJob(
        training_job=live_job,
        objective_metric_name="loss",
        objective_type="Minimize",
        hyperparameter_ranges={"width": CategoricalParameter(values=[1.0, 2.0])},
        strategy="Grid",
        max_parallel_jobs=2,
    )
    config = ExperimentConfig(experiment_name=name, trial_name=f"{name}-trial")
    live.create_tuning_job(spec, name, experiment_config=config)
    description = live.wait_tuning_job(name, timeout=3600)
    assert description.status == "Completed"
    frame = live.tuning_dataframe(name)
    assert sorted(frame["width"]) == [1.0, 2.0]
    client: Any = live.aws.client("sagemaker")
    components = client.list_trial_components(TrialName=f"{name}-trial")
    assert len(components["TrialComponentSummaries"]) == 2
