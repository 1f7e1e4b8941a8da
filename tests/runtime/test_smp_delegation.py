"""With SageMaker's libraries importable, the runtime hands over to them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

FAKE_SMP = '''
"""A stand-in for smdistributed.modelparallel.torch (only exists in SageMaker DLCs)."""
def init(config=None):
    print("fake smp.init")
def rank():
    return 42
'''


def _fake_smdistributed(root: Path) -> Path:
    pkg = root / "smdistributed"
    (pkg / "modelparallel" / "torch").mkdir(parents=True)
    (pkg / "dataparallel" / "torch").mkdir(parents=True)
    for sub in (pkg, pkg / "modelparallel", pkg / "dataparallel", pkg / "dataparallel" / "torch"):
        (sub / "__init__.py").write_text("")
    (pkg / "modelparallel" / "torch" / "__init__.py").write_text(FAKE_SMP)
    return root


CASES = """
import importlib, json, os, sys
import sagescale.runtime.dist as dist
import sagescale.runtime.smp as smp
for hps, forced in CASES:
    os.environ["SM_HPS"] = json.dumps(hps)
    os.environ["SAGESCALE_SMP_FALLBACK"] = forced
    smp = importlib.reload(smp)
    line = [smp.uses_smdistributed(), dist.smddp_available()]
    if smp.uses_smdistributed():
        smp.init()
        line.append(smp.rank())
    print(json.dumps(line), flush=True)
"""


def test_smp_delegates_when_the_job_asks_and_the_library_exists(tmp_path: Path) -> None:
    root = _fake_smdistributed(tmp_path)
    mp = {"sagemaker_mpi_enabled": True, "mp_parameters": {"partitions": 2}}
    cases = [(mp, ""), ({}, ""), (mp, "1")]
    code = f"CASES = {cases!r}\n" + CASES
    env = {**os.environ, "PYTHONPATH": str(root)}
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    lines = [json.loads(x) for x in result.stdout.splitlines() if x.startswith("[")]
    assert "fake smp.init" in result.stdout
    assert lines == [[True, True, 42], [False, True], [False, True]]
