"""The container contract, asserted from inside a plain, a 2-process and a 2-host job."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from sagescale.backends import JobStatus
from sagescale.backends.local import LocalBackend
from sagescale.specs import TrainingJob

SCRIPT = Path(__file__).with_name("scripts") / "contract.py"


@pytest.fixture
def contract_src(tmp_path: Path) -> Path:
    src = tmp_path / "contract-src"
    src.mkdir()
    shutil.copy(SCRIPT, src / "contract.py")
    (src / "helper.py").write_text("VALUE = 1\n")
    return src


@pytest.fixture
def train_dir(tmp_path: Path) -> Path:
    data = tmp_path / "train-data"
    data.mkdir()
    (data / "data.csv").write_text("1,2\n")
    return data


def _run(backend: LocalBackend, job: TrainingJob) -> tuple[Any, list[dict[str, Any]]]:
    name = backend.submit(job)
    desc = backend.wait(name, timeout=240)
    assert desc.status is JobStatus.COMPLETED, (desc.failure_reason, backend.logs(name))
    data = backend.job_dir(name) / "output" / "data"
    reports = [json.loads(p.read_text()) for p in sorted(data.glob("*.json"))]
    return desc, reports


def _job(src: Path, data: Path, **options: Any) -> TrainingJob:
    return TrainingJob(
        entry_point="contract.py",
        source_dir=str(src),
        hyperparameters={"epochs": 2, "label": "x y"},
        inputs={"train": str(data)},
        **options,
    )


def test_plain_job_sees_the_contract(
    backend: LocalBackend, contract_src: Path, train_dir: Path
) -> None:
    desc, reports = _run(backend, _job(contract_src, train_dir))
    assert [(r["host"], r["rank"], r["world_size"]) for r in reports] == [("algo-1", 0, 1)]
    assert reports[0]["argv"] == ["--epochs", "2", "--label", "x y"]
    job_dir = Path(desc.extra["job_dir"])
    for path in ("input/config/hyperparameters.json", "output/model.tar.gz", "code/helper.py"):
        assert (job_dir / path).is_file(), path
    assert not (job_dir / "output" / "failure").exists()


@pytest.mark.slow
def test_two_process_job_sees_the_contract(
    backend: LocalBackend, contract_src: Path, train_dir: Path
) -> None:
    job = _job(
        contract_src,
        train_dir,
        distribution={"type": "torch_distributed", "processes_per_host": 2},
    )
    _, reports = _run(backend, job)
    assert sorted((r["host"], r["rank"], r["local_rank"]) for r in reports) == [
        ("algo-1", 0, 0),
        ("algo-1", 1, 1),
    ]
    assert {r["world_size"] for r in reports} == {2}


@pytest.mark.slow
def test_two_host_job_sees_the_contract(
    backend: LocalBackend, contract_src: Path, train_dir: Path
) -> None:
    job = _job(
        contract_src,
        train_dir,
        instance_count=2,
        distribution={"type": "torch_distributed", "processes_per_host": 1},
    )
    desc, reports = _run(backend, job)
    assert sorted((r["host"], r["rank"]) for r in reports) == [("algo-1", 0), ("algo-2", 1)]
    logs = backend.logs(desc.job_name)
    assert "[algo-1] contract ok on algo-1" in logs
    assert "[algo-2] contract ok on algo-2" in logs
    resource = Path(desc.extra["job_dir"]) / "hosts" / "algo-2" / "input" / "config"
    assert json.loads((resource / "resourceconfig.json").read_text())["current_host"] == "algo-2"
