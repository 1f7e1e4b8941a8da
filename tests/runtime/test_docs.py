"""docs/runtime.md: its Python examples run and its regex is the code's."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import pytest

from sagescale.runtime import METRIC_LINE_REGEX

DOC = Path(__file__).resolve().parents[2] / "docs" / "runtime.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


@pytest.mark.parametrize("code", _blocks())
def test_docs_example_runs(code: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("SAGESCALE_METRICS_DIR", "SAGEMAKER_BASE_DIR", "RANK", "SM_HPS"):
        monkeypatch.delenv(name, raising=False)
    module = types.ModuleType("docs_example")
    monkeypatch.setitem(sys.modules, "docs_example", module)
    exec(compile(code, str(DOC), "exec"), module.__dict__)


def test_documented_regex_is_the_real_one() -> None:
    assert f"  {METRIC_LINE_REGEX.pattern}\n" in DOC.read_text()
