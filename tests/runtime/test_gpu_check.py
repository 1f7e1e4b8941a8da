"""benchmarks/gpu_check.py: skips cleanly without a GPU; its code path runs on CPU."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest
import torch

SCRIPT = Path(__file__).parents[2] / "benchmarks" / "gpu_check.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gpu_check", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: the check would run")
def test_skips_without_a_gpu(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "r.json"
    assert _load().main(["--out", str(out)]) == 0
    assert "no CUDA GPU" in capsys.readouterr().out
    assert not out.exists()


def test_cpu_smoke_run_writes_the_table_and_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "r.json"
    assert _load().main(["--allow-cpu", "--tiny", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "| precision | step (ms) |" in printed
    data = json.loads(out.read_text())
    assert [r["precision"] for r in data["results"]] == ["fp32", "bf16", "fp16"]
    assert data["collectives"]["ok"] is True
