"""sagescale.runtime runs in a training container: stdlib + torch only."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

BLOCKER = """
import sys
# A module set to None in sys.modules is one that "is not installed": import raises
# ModuleNotFoundError and importlib.util.find_spec answers None.
for name in {blocked!r}:
    sys.modules[name] = None
"""

SAGESCALE_DEPS = ["pydantic", "boto3", "botocore", "optuna", "pandas", "rich", "typer", "yaml"]


def run(code: str, blocked: list[str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    script = BLOCKER.format(blocked=blocked) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )


def test_env_and_metrics_work_without_torch_or_sagescale_deps(tmp_path: Path) -> None:
    code = f"""
    import os, sys
    os.environ["SAGESCALE_METRICS_DIR"] = {str(tmp_path)!r}
    from sagescale import runtime
    from sagescale.runtime._metrics import METRIC_LINE_REGEX, metric_definition
    env = runtime.load_env({{"SM_HPS": '{{"epochs": 2}}'}})
    assert env.hyperparameters == {{"epochs": 2}}
    runtime.log_metric("loss", 0.5, step=1)
    assert sys.modules.get("torch") is None, "sagescale.runtime imported torch eagerly"
    try:
        import sagescale.runtime.dist
    except ImportError as exc:
        print("dist needs torch:", exc)
    """
    result = run(code, ["torch", *SAGESCALE_DEPS], tmp_path)
    assert result.returncode == 0, result.stderr
    assert "sagescale-metric: name=loss value=0.5 step=1" in result.stdout
    assert "dist needs torch" in result.stdout


def test_torch_parts_import_without_sagescale_deps(tmp_path: Path) -> None:
    code = """
    import sagescale.runtime.dist, sagescale.runtime.smp, sagescale.runtime.amp
    from sagescale.runtime import save_checkpoint, load_latest_checkpoint, MixedPrecision
    import sys
    leaked = sorted(m for m in sys.modules if m.startswith("sagescale.") and not (
        m.startswith("sagescale.runtime") or m == "sagescale.errors"))
    assert not leaked, leaked
    print("ok")
    """
    result = run(code, SAGESCALE_DEPS, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
