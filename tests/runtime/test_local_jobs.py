"""The runtime inside jobs the local backend runs: the environment it reads, the metric
records it writes, and the two ported seed scripts, unchanged."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from sagescale.backends import JobStatus
from sagescale.backends.local import LocalBackend
from sagescale.runtime import metric_definition
from sagescale.specs import TrainingJob

EXAMPLES = Path(__file__).parents[2] / "examples"
QUICK = {"epochs": 2, "num-samples": 256, "batch-size": 32}


@pytest.fixture
def backend(workspace: Path) -> LocalBackend:
    return LocalBackend(workspace, stop_grace_seconds=2.0, poll_interval=0.1)


def _run(backend: LocalBackend, job: TrainingJob) -> tuple[str, str]:
    name = backend.submit(job)
    desc = backend.wait(name, timeout=300)
    logs = backend.logs(name)
    assert desc.status is JobStatus.COMPLETED, (desc.failure_reason, logs[-4000:])
    return name, logs


def test_runtime_job_metrics_reach_the_backend(backend: LocalBackend, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    shutil.copy(Path(__file__).with_name("jobs") / "runtime_job.py", src / "train.py")
    data = tmp_path / "data"
    data.mkdir()
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(src),
        hyperparameters={"epochs": 3, "lr": 0.6},
        inputs={"train": str(data)},
        mixed_precision="bf16",
        metric_definitions=[{"name": "from-log", **_lower(metric_definition("validation:loss"))}],
    )
    name, logs = _run(backend, job)
    assert "sagescale-metric: name=validation:loss value=0.3 step=1" in logs
    points = [p for p in backend.metrics(name) if p.name == "validation:loss"]
    assert sorted((p.step, p.value) for p in points) == [(0, 0.6), (1, 0.3), (2, 0.6 / 3)]
    from_log = [p.value for p in backend.metrics(name) if p.name == "from-log"]
    assert sorted(from_log) == [0.6 / 3, 0.3, 0.6]


def _lower(definition: dict[str, str]) -> dict[str, Any]:
    return {"regex": definition["Regex"]}


@pytest.mark.slow
def test_ported_data_parallel_seed_as_a_job(backend: LocalBackend) -> None:
    """engine smddp without the library (not a SageMaker container): gloo, unchanged script."""
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(EXAMPLES / "data_parallel"),
        hyperparameters=QUICK,
        instance_type="ml.p4d.24xlarge",
        distribution={"type": "data_parallel", "engine": "smddp", "processes_per_host": 2},
    )
    name, logs = _run(backend, job)
    assert re.search(r"Test set: Average loss: [0-9.]+, Accuracy: [0-9.]+%", logs)
    assert (backend.job_dir(name) / "output" / "model.tar.gz").is_file()


@pytest.mark.slow
def test_ported_model_parallel_seed_as_a_job(backend: LocalBackend) -> None:
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(EXAMPLES / "model_parallel"),
        hyperparameters=QUICK,
        instance_type="ml.p3.16xlarge",
        distribution={
            "type": "model_parallel",
            "partitions": 2,
            "microbatches": 4,
            "pipeline": "interleaved",
            "processes_per_host": 2,
        },
    )
    name, logs = _run(backend, job)
    accuracy = re.findall(r"Accuracy: ([0-9.]+)%", logs)
    assert len(accuracy) == 2 and float(accuracy[-1]) > 50.0
    assert sorted(p.name for p in (backend.job_dir(name) / "model").iterdir()) == [
        "model.pt_0_0",
        "model.pt_1_0",
    ]


TWO_HOSTS = """\
import os
from sagescale import runtime
env = runtime.load_env()
print("leader" if env.is_leader else "follower", env.current_host, flush=True)
runtime.log_metric("score", 1.0 if env.is_leader else 2.0, step=0)
"""


def test_a_plain_two_host_job_logs_its_metrics_once(backend: LocalBackend, tmp_path: Path) -> None:
    """Each host of a plain multi-host job runs the script; only algo-1 leads and logs
    (both did, so the metric was counted twice and the final value could be algo-2's)."""
    src = tmp_path / "src"
    src.mkdir()
    (src / "train.py").write_text(TWO_HOSTS)
    job = TrainingJob(entry_point="train.py", source_dir=str(src), instance_count=2)
    name, logs = _run(backend, job)
    assert "[algo-1] leader algo-1" in logs and "[algo-2] follower algo-2" in logs
    assert [(p.value, p.step) for p in backend.metrics(name)] == [(1.0, 0)]
    assert backend.describe(name).final_metrics == {"score": 1.0}
