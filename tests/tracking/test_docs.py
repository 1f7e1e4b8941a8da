"""The examples in docs/tracking.md run, in order, in a fresh workspace."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from sagescale.tracking import get_store, ingest_job_files

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "tracking.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.S)


def test_doc_examples_run(workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = _blocks()
    assert len(blocks) >= 4
    for block in blocks:
        if "runs inside the job" in block:
            _run_in_job(block, tmp_path)
        else:
            exec(compile(block, str(DOC), "exec"), {})


def _run_in_job(block: str, tmp_path: Path) -> None:
    store = get_store()
    store.create_trial_component("doc-job-aws-training-job")
    job_dir = tmp_path / "job" / "output" / "tracking"
    env = {
        "SAGESCALE_TRACKING_DIR": str(job_dir),
        "SAGESCALE_TRIAL_COMPONENT_NAME": "doc-job-aws-training-job",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run([sys.executable, "-c", block], env=env, check=True, timeout=60)
    assert ingest_job_files(store, job_dir, "doc-job-aws-training-job") == 3


def test_benchmark_quick_runs(tmp_path: Path) -> None:
    out = tmp_path / "bench.json"
    result = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "tracking.py"),
            "--quick",
            "--no-mlflow",
            "--output",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "ingest (points/s)" in result.stdout and out.exists()
