"""``sagescale validate`` and ``sagescale render``: output, exit codes, one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sagescale._botocore import validate_request
from sagescale.cli import main

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"


def _write(path: Path, data: dict[str, object]) -> Path:
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.fixture
def training_spec(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "train.yaml",
        {
            "base_job_name": "dp",
            "entry_point": "train.py",
            "role": ROLE,
            "instance_type": "ml.p3.16xlarge",
            "instance_count": 2,
            "distribution": {"type": "data_parallel", "engine": "smddp"},
            "inputs": {"train": "s3://bucket/train"},
            "hyperparameters": {"epochs": 3},
        },
    )


@pytest.fixture
def tuning_spec(tmp_path: Path) -> Path:
    return _write(
        tmp_path / "tune.yaml",
        {
            "base_tuning_job_name": "xgb",
            "training_job": {
                "image_uri": "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1",
                "role": ROLE,
                "inputs": {"train": "s3://bucket/train"},
                "output_path": "s3://bucket/out",
            },
            "objective_metric_name": "validation:rmse",
            "objective_type": "Minimize",
            "hyperparameter_ranges": {
                "eta": {"type": "continuous", "min_value": 0, "max_value": 1},
                "max_depth": {"type": "integer", "min_value": 1, "max_value": 10},
            },
            "max_jobs": 10,
            "max_parallel_jobs": 2,
        },
    )


def test_validate_ok(training_spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(training_spec)]) == 0
    assert "valid training job spec" in capsys.readouterr().out


def test_validate_prints_best_practice_warnings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _write(
        tmp_path / "spot.yaml",
        {"entry_point": "t.py", "spot": {"max_wait_seconds": 90000}},
    )
    assert main(["validate", str(spec)]) == 0
    out = capsys.readouterr().out
    assert "warning" in out and "checkpoint" in out


def test_render_training_validates_against_botocore(
    training_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "training", str(training_spec), "--job-name", "dp-1"]) == 0
    request = json.loads(capsys.readouterr().out)
    validate_request("CreateTrainingJob", request)
    assert request["TrainingJobName"] == "dp-1"
    assert request["HyperParameters"]["sagemaker_distributed_dataparallel_enabled"] == "true"
    assert request["ResourceConfig"]["InstanceCount"] == 2


def test_render_tuning(tuning_spec: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["render", "tuning", str(tuning_spec), "--job-name", "xgb-1"]) == 0
    request = json.loads(capsys.readouterr().out)
    validate_request("CreateHyperParameterTuningJob", request)
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    assert limits == {"MaxNumberOfTrainingJobs": 10, "MaxParallelTrainingJobs": 2}
    assert "eta" not in request["TrainingJobDefinition"]["StaticHyperParameters"]


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"entry_point": "t.py", "instance_count": 0}, "instance_count"),
        ({"entry_point": "t.py", "base_job_name": "bad_name!"}, "base_job_name"),
        ({"entry_point": "t.py", "unknown_field": 1}, "unknown_field"),
        (
            {
                "entry_point": "t.py",
                "instance_type": "ml.p3.2xlarge",
                "distribution": {"type": "data_parallel", "engine": "smddp"},
            },
            "distribution.engine",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], data: dict[str, object], field: str
) -> None:
    spec = _write(tmp_path / "bad.yaml", data)
    assert main(["validate", str(spec)]) == 2
    err = capsys.readouterr().err
    assert field in err
    assert "Traceback" not in err


def test_render_without_role_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = _write(tmp_path / "norole.yaml", {"entry_point": "t.py"})
    assert main(["render", "training", str(spec)]) == 2
    assert "role" in capsys.readouterr().err


def test_render_tuning_of_a_training_spec_is_one_clear_error(
    training_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "tuning", str(training_spec)]) == 2
    captured = capsys.readouterr()
    err = " ".join(captured.err.split())  # the console may wrap long lines
    assert captured.out == ""
    assert err.count("error:") == 1 and "Extra inputs" not in err
    assert f"{training_spec} looks like a training job spec, not a tuning job spec" in err
    assert f"use `sagescale render training {training_spec}`" in err


def test_render_training_of_a_tuning_spec_is_one_clear_error(
    tuning_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", "training", str(tuning_spec)]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("error:") == 1 and "Extra inputs" not in err
    assert "looks like a tuning job spec, not a training job spec" in err
    assert f"use `sagescale render tuning {tuning_spec}`" in err
    # validate tells the kinds apart by itself
    assert main(["validate", str(tuning_spec)]) == 0
    assert "valid tuning job spec" in capsys.readouterr().out


def test_train_of_a_tuning_spec_is_one_clear_error(
    tuning_spec: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", str(tuning_spec), "--backend", "local"]) == 2
    err = " ".join(capsys.readouterr().err.split())
    assert err.count("error:") == 1 and "Extra inputs" not in err
    assert "looks like a tuning job spec" in err
    assert f"`sagescale render tuning {tuning_spec}`" in err


def test_missing_file_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["validate", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_console_script_exit_code(tmp_path: Path) -> None:
    spec = _write(tmp_path / "bad.yaml", {"entry_point": "t.py", "instance_count": -1})
    proc = subprocess.run(
        [sys.executable, "-m", "sagescale", "validate", str(spec)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert "instance_count" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_errors_and_warnings_print_square_brackets_verbatim(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the job-name rule quotes its pattern; rich would read "[a-zA-Z0-9]" as a style tag
    spec = _write(tmp_path / "bad.yaml", {"entry_point": "t.py", "base_job_name": "bad_name"})
    assert main(["validate", str(spec)]) == 2
    assert "^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$" in capsys.readouterr().err
    odd = tmp_path / "[a]"
    odd.mkdir()
    spot = _write(odd / "spot.yaml", {"entry_point": "t.py", "spot": {"max_wait_seconds": 90000}})
    assert main(["validate", str(spot)]) == 0
    assert f"{spot} is a valid training job spec" in capsys.readouterr().out.replace("\n", "")
