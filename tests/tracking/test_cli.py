"""`sagescale experiments ...` through typer's CliRunner on the sub-app."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from sagescale.tracking import autotrack, get_store
from sagescale.tracking._cli import experiments_app

runner = CliRunner()


@pytest.fixture
def uri(tmp_path: Path) -> str:
    uri = f"sqlite:///{tmp_path / 'ws' / 'sagescale.db'}"
    store = get_store(uri)
    for i, lr in enumerate(["0.1", "0.01"]):
        job = f"job-{i}"
        autotrack.record_training_job_start(
            store,
            job_name=job,
            experiment_config={"ExperimentName": "mnist", "TrialName": f"trial-{i}"},
            base_job_name="mnist",
            hyperparameters={"lr": lr},
            instance_type="local",
            instance_count=1,
            distribution=None,
            input_channels={"train": "s3://data/mnist/train"},
            environment_names=["SECRET_TOKEN"],
            source_dir="s3://code/src.tar.gz",
            entry_point="train.py",
        )
        autotrack.record_training_job_end(
            store,
            job_name=job,
            status="Completed",
            model_artifact=f"s3://models/{job}/model.tar.gz",
            metric_series={"loss": [(0, 1.0), (1, 0.5 / (i + 1))]},
        )
    return uri


def test_list_and_show(uri: str) -> None:
    result = runner.invoke(experiments_app, ["list", "--store", uri])
    assert result.exit_code == 0, result.output
    assert "mnist" in result.output
    result = runner.invoke(experiments_app, ["show", "mnist", "--store", uri])
    assert result.exit_code == 0, result.output
    assert "job-0-aws-training-job" in result.output and "loss=0.5" in result.output
    missing = runner.invoke(experiments_app, ["show", "nope", "--store", uri])
    assert missing.exit_code == 1 and "does not exist" in missing.output


def test_compare(uri: str) -> None:
    result = runner.invoke(
        experiments_app,
        [
            "compare",
            "mnist",
            "--metric",
            "loss",
            "--param",
            "lr",
            "--stat",
            "Min",
            "--sort-by",
            "Metrics.loss.Min",
            "--store",
            uri,
        ],
    )
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if "aws-training-job" in line]
    assert "job-1" in lines[0] and "0.25" in lines[0]
    assert "loss - Min" in result.output


def test_export_csv_and_parquet(uri: str, tmp_path: Path) -> None:
    csv, parquet = tmp_path / "m.csv", tmp_path / "m.parquet"
    result = runner.invoke(experiments_app, ["export", "mnist", "-o", str(csv), "--store", uri])
    assert result.exit_code == 0, result.output
    df = pd.read_csv(csv)
    assert list(df["TrialComponentName"]) == ["job-0-aws-training-job", "job-1-aws-training-job"]
    assert "loss - Avg" in df.columns and df["Experiments"].tolist() == ["mnist", "mnist"]
    result = runner.invoke(
        experiments_app,
        ["export", "mnist", "--format", "parquet", "-o", str(parquet), "--store", uri],
    )
    assert result.exit_code == 0, result.output
    assert pd.read_parquet(parquet).shape == df.shape


def test_lineage_backwards_and_forwards(uri: str) -> None:
    result = runner.invoke(
        experiments_app, ["lineage", "s3://models/job-1/model.tar.gz", "--store", uri]
    )
    assert result.exit_code == 0, result.output
    assert "job-1" in result.output and "s3://data/mnist/train" in result.output
    assert "SECRET_TOKEN" not in result.output  # env names are parameters, not lineage
    result = runner.invoke(
        experiments_app, ["lineage", "s3://data/mnist", "--json", "--store", uri]
    )
    assert result.exit_code == 0, result.output
    models = [m["model_artifact"] for m in json.loads(result.output)]
    assert models == ["s3://models/job-0/model.tar.gz", "s3://models/job-1/model.tar.gz"]
    assert json.loads(result.output)[0]["code"]["SageScale.SourceDir"] == "s3://code/src.tar.gz"
    unknown = runner.invoke(experiments_app, ["lineage", "s3://nothing", "--store", uri])
    assert unknown.exit_code == 1


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["compare", "mnist", "--stat", "Median"], 2, "--stat 'Median' must be one of Min"),
        (["compare", "mnist", "--sort-by", "Bogus"], 2, "sort_by='Bogus'"),
        (["compare", "mnist", "--search", "{not json"], 2, "--search '{not json' is not JSON"),
        (["compare", "mnist", "--search", '{"Filters": [{"Name": "X"}]}'], 2, "needs a Value"),
        (["list", "--store", "bogus://x"], 2, "is not supported"),
        (["compare", "nope"], 1, "experiment 'nope' does not exist"),
        (["export", "nope"], 1, "experiment 'nope' does not exist"),
    ],
)
def test_bad_input_exits_2_and_a_missing_experiment_1(
    uri: str, tmp_path: Path, args: list[str], code: int, message: str
) -> None:
    """Bad input is exit 2 as in every sagescale command (was 1, or 0 with the metric columns
    silently dropped for --stat); comparing or exporting a missing experiment is an error
    (was an empty table, or an empty CSV written)."""
    store = [] if "--store" in args else ["--store", uri]
    result = runner.invoke(experiments_app, [*args, *store], catch_exceptions=False)
    assert result.exit_code == code, result.output
    assert message in result.output
    assert not (Path.cwd() / "nope.csv").exists()


def test_parquet_export_of_a_parameter_that_is_a_number_here_and_text_there(
    tmp_path: Path,
) -> None:
    """A tracker's lr=0.1 and a job's lr="auto" in one experiment: the Parquet export died
    with pyarrow's ArrowInvalid traceback (CSV worked)."""
    uri = f"sqlite:///{tmp_path / 'ws' / 'sagescale.db'}"
    store = get_store(uri)
    store.create_experiment("mix")
    store.create_trial("mix-t", experiment_name="mix")
    for name, lr in (("a", 0.1), ("b", "auto"), ("c", None)):
        store.create_trial_component(name, trial_name="mix-t")
        if lr is not None:
            store.update_trial_component(name, parameters={"lr": lr})
    target = tmp_path / "mix.parquet"
    result = runner.invoke(
        experiments_app, ["export", "mix", "-f", "parquet", "-o", str(target), "--store", uri]
    )
    assert result.exit_code == 0, result.output
    lr = pd.read_parquet(target)["lr"].tolist()
    assert lr[:2] == ["0.1", "auto"] and pd.isna(lr[2])
