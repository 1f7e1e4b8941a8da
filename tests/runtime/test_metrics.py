"""log_metric: the documented line, the regexes backends use, and the JSON-lines records."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest

from sagescale.errors import SpecError
from sagescale.runtime import (
    METRIC_LINE_REGEX,
    log_metric,
    metric_definition,
    metrics_file_name,
    parse_metric_line,
    read_metric_records,
)
from sagescale.runtime._metrics import metrics_dir


@pytest.fixture
def metrics(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SAGESCALE_METRICS_DIR", str(tmp_path / "m"))
    monkeypatch.setenv("SM_CURRENT_HOST", "algo-1")
    monkeypatch.delenv("RANK", raising=False)
    monkeypatch.delenv("SAGESCALE_METRICS_ALL_RANKS", raising=False)
    return tmp_path / "m"


def test_line_and_record(metrics: Path) -> None:
    out = io.StringIO()
    record = log_metric("val:loss", 0.25, step=3, stream=out)
    assert out.getvalue() == "sagescale-metric: name=val:loss value=0.25 step=3\n"
    assert record is not None and record.rank == 0 and record.host == "algo-1"
    lines = (metrics / metrics_file_name("algo-1", 0)).read_text().splitlines()
    data = json.loads(lines[0])
    assert {k: data[k] for k in ("name", "value", "step", "rank", "host")} == {
        "name": "val:loss",
        "value": 0.25,
        "step": 3,
        "rank": 0,
        "host": "algo-1",
    }
    assert read_metric_records(metrics) == [record]


def test_regex_matches_prefixed_lines_and_special_values(metrics: Path) -> None:
    for value in (1e-05, -3.0, float("nan"), float("inf"), 12345678.5):
        out = io.StringIO()
        log_metric("loss", value, step=1, stream=out)
        parsed = parse_metric_line("[rank0]: " + out.getvalue())
        assert parsed is not None
        name, got, step = parsed
        assert (name, step) == ("loss", 1)
        assert got == value or (got != got and value != value)
    match = METRIC_LINE_REGEX.search("x sagescale-metric: name=acc value=0.5 step=7 y")
    assert match is not None and match.group("name", "value", "step") == ("acc", "0.5", "7")
    assert parse_metric_line("Test set: Average loss: 0.3") is None


def test_metric_definition_has_one_group_for_the_value(metrics: Path) -> None:
    out = io.StringIO()
    log_metric("validation:accuracy", 0.875, step=2, stream=out)
    log_metric("accuracy", 0.1, step=2, stream=out)
    definition = metric_definition("validation:accuracy")
    assert definition["Name"] == "validation:accuracy"
    pattern = re.compile(definition["Regex"])
    assert pattern.groups == 1
    found = [m.group(1) for m in pattern.finditer(out.getvalue())]
    assert found == ["0.875"]


def test_steps_default_to_a_counter(metrics: Path) -> None:
    out = io.StringIO()
    first = log_metric("auto-step-metric", 1.0, stream=out)
    second = log_metric("auto-step-metric", 2.0, stream=out)
    assert first is not None and second is not None
    assert (first.step, second.step) == (0, 1)


def test_only_rank_zero_by_default(metrics: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RANK", "1")
    out = io.StringIO()
    assert log_metric("loss", 1.0, step=0, stream=out) is None
    assert out.getvalue() == ""
    assert log_metric("loss", 1.0, step=0, stream=out, all_ranks=True) is not None
    monkeypatch.setenv("SAGESCALE_METRICS_ALL_RANKS", "1")
    assert log_metric("loss", 2.0, step=1, stream=out) is not None
    assert [r.rank for r in read_metric_records(metrics)] == [1, 1]


def test_torn_last_line_is_skipped(metrics: Path) -> None:
    log_metric("loss", 1.0, step=0, stream=io.StringIO())
    path = metrics / metrics_file_name("algo-1", 0)
    with path.open("a") as f:
        f.write('{"name": "loss", "val')
    assert len(read_metric_records(metrics)) == 1


def test_metrics_dir_resolution(tmp_path: Path) -> None:
    assert metrics_dir({"SAGESCALE_METRICS_DIR": "/a"}) == Path("/a")
    assert metrics_dir({"SAGEMAKER_BASE_DIR": "/b"}) == Path("/b/output/metrics")
    assert metrics_dir({}) is None


@pytest.mark.parametrize(
    ("name", "value", "step"),
    [
        ("bad name", 1.0, 0),
        ("", 1.0, 0),
        ("loss", "high", 0),
        ("loss", 1.0, -1),
        ("loss\n", 1.0, 0),  # "$" matches before a final newline: the line would break
    ],
)
def test_bad_input(metrics: Path, name: str, value: object, step: int) -> None:
    out = io.StringIO()
    with pytest.raises(SpecError):
        log_metric(name, value, step=step, stream=out)  # type: ignore[arg-type]
    assert out.getvalue() == ""
    assert read_metric_records(metrics) == []


def test_a_name_with_a_final_newline_is_not_a_metric_name() -> None:
    with pytest.raises(SpecError, match="metric name") as info:
        metric_definition("loss\n")
    assert info.value.field == "name"


def test_rank_from_mpirun(metrics: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "3")
    assert log_metric("loss", 1.0, step=0, stream=io.StringIO()) is None
