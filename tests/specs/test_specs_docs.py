"""The examples of docs/specs.md run and its YAML loads."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from sagescale.specs import TuningJob

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "specs.md"


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)


def test_the_page_has_examples() -> None:
    assert len(_blocks("python")) >= 4
    assert _blocks("yaml")


@pytest.mark.parametrize("code", _blocks("python"))
def test_docs_example_runs(code: str, capsys: pytest.CaptureFixture[str]) -> None:
    cwd = Path.cwd()
    os.chdir(ROOT)
    try:
        exec(compile(code, str(DOC), "exec"), {"__name__": "docs_example"})
    finally:
        os.chdir(cwd)
    assert capsys.readouterr().out


def test_docs_yaml_is_a_valid_tuning_job() -> None:
    spec = TuningJob.model_validate(yaml.safe_load(_blocks("yaml")[0]))
    assert set(spec.hyperparameter_ranges) == {"eta", "max_depth", "booster"}
    spec.to_request(tuning_job_name="docs-tuning")
