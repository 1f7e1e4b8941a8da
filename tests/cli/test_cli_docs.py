"""docs/cli.md is generated from the CLI: it must match what the CLI says today."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_cli_reference_is_up_to_date() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def test_every_command_is_documented() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    for command in ("validate", "render training", "render tuning", "train", "tune", "plan"):
        assert f"## `sagescale {command}`" in text, command
    for group in ("jobs", "tuning", "experiments", "report"):
        assert f"## `sagescale {group} " in text, group


def test_usage_error_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "sagescale", "validate"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 2
    assert "Missing argument" in proc.stderr
    assert "Traceback" not in proc.stderr
