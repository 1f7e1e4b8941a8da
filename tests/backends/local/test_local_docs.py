"""The Python examples of docs/local-backend.md run."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[3] / "docs" / "local-backend.md"


def _blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples_and_the_benchmark_table() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert _blocks()
    assert "BENCHMARK_TABLE" not in text
    assert "| torchrun-2 |" in text


@pytest.mark.parametrize("code", _blocks())
def test_docs_example_runs(
    code: str, tmp_path: Path, workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
