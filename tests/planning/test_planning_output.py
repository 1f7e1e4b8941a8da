"""The plan as a rich table, HTML, text, and the ``sagescale plan`` command."""

from __future__ import annotations

import json
from pathlib import Path

from rich.console import Console
from typer.testing import CliRunner

from sagescale.planning import Plan, plan
from sagescale.planning._cli import plan_app
from sagescale.specs import ModelParallel, load_training_job

ARGS = ["--params", "1.3e9", "--optimizer", "adamw", "--precision", "bf16", "--batch", "64"]


def _plan() -> Plan:
    return plan(
        params=2.5e9,
        activation_bytes_per_sample=0.5 * 2**30,
        flops_per_sample=1e13,
        batch_size=64,
        precision="fp16",
        instance_type="ml.p3.2xlarge",
        tuning_jobs=5,
    )


def test_rich_rendering_has_every_table() -> None:
    console = Console(record=True, width=200)
    console.print(_plan())
    text = console.export_text()
    for title in ("Decisions", "Memory per device", "Estimates", "Scaling", "Remedies"):
        assert title in text
    assert "model parallel" in text and "partitions" in text
    assert "managed spot" in text and "tuning job (5 jobs)" in text


def test_html_escapes_and_has_tables() -> None:
    html = _plan()._repr_html_()
    assert html.startswith('<div class="sagescale-plan">') and html.endswith("</div>")
    assert html.count("<table>") >= 5
    assert "<th>decision</th>" in html and "assumptions" in html
    assert "(p-1)/(m+p-1)" in html


def test_str_is_plain_text() -> None:
    text = str(_plan())
    assert "Decisions:" in text and "\x1b" not in text


def test_cli_prints_the_plan() -> None:
    result = CliRunner().invoke(plan_app, [*ARGS, "--seq-len", "2048"])
    assert result.exit_code == 0, result.output
    assert "Decisions" in result.output and "data parallel" in result.output


def test_cli_json_matches_the_api() -> None:
    result = CliRunner().invoke(
        plan_app, [*ARGS, "--seq-len", "2048", "--tuning-jobs", "10", "--json"]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    expected = plan(
        params=1.3e9,
        optimizer="adamw",
        precision="bf16",
        batch_size=64,
        seq_len=2048,
        tuning_jobs=10,
    ).to_dict()
    assert data == json.loads(json.dumps(expected))
    assert data["cost"]["tuning_jobs"] == 10


def test_cli_numbers_instead_of_a_model() -> None:
    result = CliRunner().invoke(
        plan_app,
        [
            "--params",
            "3e8",
            "--activation-gib",
            "1",
            "--flops-per-sample",
            "1e12",
            "--batch",
            "10",
            "--instance-type",
            "ml.p3.2xlarge",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["precision"] == "fp16" and data["strategy"] == "data_parallel"


def test_cli_bad_input_exits_2_naming_the_field() -> None:
    result = CliRunner().invoke(plan_app, [*ARGS, "--instance-type", "ml.m5.xlarge"])
    assert result.exit_code == 2
    assert "instance_type" in result.output and "ml.m5.xlarge" in result.output
    assert "Traceback" not in result.output
    missing = CliRunner().invoke(plan_app, ["--batch", "8"])
    assert missing.exit_code == 2 and "params" in missing.output


def test_cli_starts_from_a_job_spec_and_writes_the_planned_job(tmp_path: Path) -> None:
    spec = tmp_path / "job.yaml"
    spec.write_text("entry_point: train.py\ninstance_type: ml.p3.2xlarge\nmixed_precision: fp16\n")
    out = tmp_path / "planned.yaml"
    result = CliRunner().invoke(
        plan_app,
        [
            "--job",
            str(spec),
            "--write-job",
            str(out),
            "--params",
            "2.5e9",
            "--activation-gib",
            "0.5",
            "--flops-per-sample",
            "1e13",
            "--batch",
            "64",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["strategy"] == "model_parallel"
    planned = load_training_job(out)
    assert planned.entry_point == "train.py" and planned.mixed_precision == "fp16"
    assert isinstance(planned.distribution, ModelParallel) and planned.distribution.partitions == 4


def test_cli_job_errors_exit_2(tmp_path: Path) -> None:
    missing = CliRunner().invoke(plan_app, ["--job", str(tmp_path / "nope.yaml"), *ARGS])
    assert missing.exit_code == 2 and "nope.yaml" in missing.output
    alone = CliRunner().invoke(plan_app, [*ARGS, "--write-job", str(tmp_path / "x.yaml")])
    assert alone.exit_code == 2 and "--job" in alone.output
