"""Training jobs against moto's server (a real HTTP endpoint speaking the AWS protocol)."""

from __future__ import annotations

import contextlib
import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from sagescale.backends import JobStatus, get_backend
from sagescale.backends.sagemaker import LOG_GROUP, SageMakerBackend
from sagescale.errors import NotFoundError, SpecError
from sagescale.specs import Channel, Checkpoint, ExperimentConfig, Spot, TrainingJob

from .sagemaker_constants import BUCKET, ROLE


def _s3(endpoint: str) -> Any:
    return boto3.client("s3", region_name="us-east-1", endpoint_url=endpoint)


def _tar_names(endpoint: str, uri: str) -> list[str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = _s3(endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body), mode="r:gz") as tar:
        return tar.getnames()


def test_get_backend_builds_it(moto_endpoint: str) -> None:
    backend = get_backend("sagemaker", role=ROLE, endpoint_url=moto_endpoint)
    assert isinstance(backend, SageMakerBackend)
    assert backend.region == "us-east-1"


def test_submit_stages_source_and_inputs(
    backend: SageMakerBackend, job: TrainingJob, name: str, tmp_path: Path, moto_endpoint: str
) -> None:
    data = tmp_path / "data"
    (data / "sub").mkdir(parents=True)
    (data / "a.csv").write_text("1,2\n")
    (data / "sub" / "b.csv").write_text("3,4\n")
    job = job.model_copy(update={"inputs": {"train": str(data), "test": "s3://other/test/"}})
    config = ExperimentConfig(experiment_name="exp-a", trial_name="trial-a")

    assert backend.submit(job, job_name=name, experiment_config=config) == name

    raw = backend.describe(name).extra["response"]
    submit_dir = json.loads(raw["HyperParameters"]["sagemaker_submit_directory"])
    assert submit_dir == f"s3://{BUCKET}/{name}/source/sourcedir.tar.gz"
    names = _tar_names(moto_endpoint, submit_dir)
    assert "train.py" in names and "util.py" in names
    assert "sagescale/runtime/dist.py" in names and "sagescale/__init__.py" in names
    assert not any("__pycache__" in n for n in names)
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"] for c in raw["InputDataConfig"]
    }
    assert channels == {"train": f"s3://{BUCKET}/{name}/input/train/", "test": "s3://other/test/"}
    keys = {
        o["Key"]
        for o in _s3(moto_endpoint).list_objects_v2(Bucket=BUCKET, Prefix=f"{name}/input/")[
            "Contents"
        ]
    }
    assert keys == {f"{name}/input/train/a.csv", f"{name}/input/train/sub/b.csv"}
    assert raw["ExperimentConfig"] == {"ExperimentName": "exp-a", "TrialName": "trial-a"}
    assert raw["OutputDataConfig"]["S3OutputPath"] == f"s3://{BUCKET}"


def test_local_channels_whose_names_share_a_prefix_do_not_overlap(
    backend: SageMakerBackend, job: TrainingJob, name: str, tmp_path: Path, moto_endpoint: str
) -> None:
    # SageMaker's S3Prefix matches keys by prefix: ".../input/train" would also hand the
    # objects of ".../input/train2/" and ".../input/train.x/" to the channel "train"
    inputs: dict[str, str | Channel] = {}
    for channel in ("train", "train2", "train.x"):
        (tmp_path / channel).mkdir()
        (tmp_path / channel / f"{channel}.csv").write_text("1\n")
        inputs[channel] = str(tmp_path / channel)
    backend.submit(job.model_copy(update={"inputs": inputs}), job_name=name)
    raw = backend.describe(name).extra["response"]
    s3 = _s3(moto_endpoint)
    for config in raw["InputDataConfig"]:
        bucket, _, prefix = config["DataSource"]["S3DataSource"]["S3Uri"][5:].partition("/")
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
        assert keys == [f"{name}/input/{config['ChannelName']}/{config['ChannelName']}.csv"]


def test_describe_reports_the_job(backend: SageMakerBackend, job: TrainingJob, name: str) -> None:
    backend.submit(job, job_name=name, hyperparameters={"epochs": 5})
    description = backend.describe(name)
    assert description.backend == "sagemaker"
    assert description.status is JobStatus.COMPLETED  # moto completes jobs at once
    assert description.hyperparameters == {"epochs": "5", "optimizer": "adam"}
    assert description.spec is not None and description.spec.hyperparameters["epochs"] == 5
    assert description.model_artifacts == f"s3://{BUCKET}/{name}/output/model.tar.gz"
    assert description.final_metrics == {"train:progress": 100.0}
    assert description.transitions[0].status == "Starting"
    assert description.done


def test_default_bucket_is_created(moto_endpoint: str, job: TrainingJob, name: str) -> None:
    backend = SageMakerBackend(role=ROLE, region="eu-west-1", endpoint_url=moto_endpoint)
    backend.submit(job, job_name=name)
    s3 = boto3.client("s3", region_name="eu-west-1", endpoint_url=moto_endpoint)
    location = s3.get_bucket_location(Bucket="sagemaker-eu-west-1-123456789012")
    assert location["LocationConstraint"] == "eu-west-1"
    raw = backend.describe(name).extra["response"]
    assert raw["AlgorithmSpecification"]["TrainingImage"].startswith(
        "763104351884.dkr.ecr.eu-west-1.amazonaws.com/pytorch-training:2.3.0-cpu-py311"
    )


def test_explicit_bucket_and_lone_entry_point(
    moto_endpoint: str, source_dir: Path, name: str
) -> None:
    backend = SageMakerBackend(role=ROLE, bucket="my-bucket", endpoint_url=moto_endpoint)
    job = TrainingJob(entry_point=str(source_dir / "train.py"))
    backend.submit(job, job_name=name)
    raw = backend.describe(name).extra["response"]
    assert json.loads(raw["HyperParameters"]["sagemaker_program"]) == "train.py"
    names = _tar_names(moto_endpoint, f"s3://my-bucket/{name}/source/sourcedir.tar.gz")
    assert "train.py" in names and "util.py" not in names  # only the script itself
    assert raw["OutputDataConfig"]["S3OutputPath"] == "s3://my-bucket"


def test_image_job_without_source(backend: SageMakerBackend, name: str) -> None:
    job = TrainingJob(
        image_uri="123.dkr.ecr.us-east-1.amazonaws.com/algo:1", hyperparameters={"k": 3}
    )
    backend.submit(job, job_name=name)
    raw = backend.describe(name).extra["response"]
    assert raw["HyperParameters"] == {"k": "3"}
    assert backend.describe(name).hyperparameters == {"k": "3"}


def test_checkpoints_default_to_the_job_prefix(
    backend: SageMakerBackend, job: TrainingJob, name: str
) -> None:
    spot = job.model_copy(
        update={"checkpoint": Checkpoint(), "spot": Spot(max_wait_seconds=90_000)}
    )
    request, _ = backend.render(spot, name)
    assert request["CheckpointConfig"] == {
        "S3Uri": f"s3://{BUCKET}/{name}/checkpoints",
        "LocalPath": "/opt/ml/checkpoints",
    }
    assert request["EnableManagedSpotTraining"] is True


def test_a_job_name_is_used_once(backend: SageMakerBackend, job: TrainingJob, name: str) -> None:
    backend.submit(job, job_name=name)
    with pytest.raises(SpecError, match="exists already"):
        backend.submit(job, job_name=name)


def test_generated_names_follow_the_base(backend: SageMakerBackend, job: TrainingJob) -> None:
    name = backend.submit(job.model_copy(update={"base_job_name": "my-base"}))
    assert name.startswith("my-base-")


def test_bad_input_is_rejected_before_any_call(
    moto_endpoint: str, job: TrainingJob, name: str, tmp_path: Path
) -> None:
    no_role = SageMakerBackend(endpoint_url=moto_endpoint)
    with pytest.raises(SpecError, match="role is required") as info:
        no_role.submit(job, job_name=name)
    assert info.value.field == "role"
    backend = SageMakerBackend(role=ROLE, endpoint_url=moto_endpoint)
    missing = job.model_copy(update={"inputs": {"train": str(tmp_path / "nope")}})
    with pytest.raises(SpecError, match="does not exist") as info:
        backend.submit(missing, job_name=name)
    assert info.value.field == "inputs.train"
    with pytest.raises(SpecError, match="job_name"):
        backend.submit(job, job_name="bad_name!")
    with pytest.raises(SpecError, match="entry_point"):
        backend.submit(job.model_copy(update={"entry_point": "missing.py"}), job_name=name)
    with pytest.raises(SpecError, match="IAM role ARN"):
        SageMakerBackend(role="not-a-role", endpoint_url=moto_endpoint)
    with pytest.raises(NotFoundError):
        backend.describe(name)  # nothing was created


def test_role_and_bucket_from_environment(
    moto_endpoint: str, job: TrainingJob, name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SAGESCALE_SAGEMAKER_ROLE", ROLE)
    monkeypatch.setenv("SAGESCALE_SAGEMAKER_BUCKET", "env-bucket")
    backend = SageMakerBackend(endpoint_url=moto_endpoint)
    backend.submit(job, job_name=name)
    raw = backend.describe(name).extra["response"]
    assert raw["RoleArn"] == ROLE
    assert raw["OutputDataConfig"]["S3OutputPath"] == "s3://env-bucket"


def test_unknown_job_is_not_found(backend: SageMakerBackend, name: str, tmp_path: Path) -> None:
    for call in (backend.describe, backend.logs, backend.metrics, backend.stop, backend.attach):
        with pytest.raises(NotFoundError, match=name):
            call(name)
    with pytest.raises(NotFoundError):
        backend.download_model(name, tmp_path)


def test_wait_prints_transitions(
    backend: SageMakerBackend, job: TrainingJob, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    backend.submit(job, job_name=name)
    description = backend.wait(name, raise_on_failure=True, timeout=30)
    assert description.status is JobStatus.COMPLETED
    assert "Starting - Preparing the instances for training" in capsys.readouterr().out


def test_stop_on_a_finished_job_is_a_no_op(
    backend: SageMakerBackend, job: TrainingJob, name: str
) -> None:
    backend.submit(job, job_name=name)
    backend.stop(name)  # moto has no StopTrainingJob: a call would fail
    assert backend.describe(name).status is JobStatus.COMPLETED


def test_list_jobs_filters_and_orders(
    backend: SageMakerBackend, job: TrainingJob, name: str
) -> None:
    first, second = f"{name}-a", f"{name}-b"
    backend.submit(job, job_name=first)
    time.sleep(0.01)
    backend.submit(job, job_name=second)
    jobs = backend.list_jobs(name_contains=name)
    assert [j.job_name for j in jobs] == [second, first]
    assert backend.list_jobs(name_contains=name, status="Failed") == []
    assert len(backend.list_jobs(name_contains=name, max_results=1)) == 1
    with pytest.raises(SpecError, match="status"):
        backend.list_jobs(status="Done")


def _put_logs(endpoint: str, name: str, lines: list[str], host: str = "algo-1") -> None:
    logs = boto3.client("logs", region_name="us-east-1", endpoint_url=endpoint)
    with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
        logs.create_log_group(logGroupName=LOG_GROUP)
    stream = f"{name}/{host}-1700000000"
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    now = int(time.time() * 1000)
    events = [{"timestamp": now + i, "message": line} for i, line in enumerate(lines)]
    logs.put_log_events(logGroupName=LOG_GROUP, logStreamName=stream, logEvents=events)


def test_logs_and_metrics_from_cloudwatch(
    backend: SageMakerBackend,
    job: TrainingJob,
    name: str,
    moto_endpoint: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    backend.submit(job, job_name=name)
    assert backend.logs(name) == ""  # no stream yet
    _put_logs(moto_endpoint, name, ["epoch=0 loss=1.0", "epoch=1 loss=0.5"])
    assert backend.logs(name) == "[algo-1] epoch=0 loss=1.0\n[algo-1] epoch=1 loss=0.5"
    points = backend.metrics(name)
    assert [(p.name, p.value, p.step) for p in points] == [("loss", 1.0, 0), ("loss", 0.5, 1)]
    assert backend.metrics(name, names=["accuracy"]) == []
    backend.wait(name, logs=True)
    assert "[algo-1] epoch=1 loss=0.5" in capsys.readouterr().out
    # another process (no spec in memory) reads the definitions from the job description
    other = SageMakerBackend(role=ROLE, endpoint_url=moto_endpoint)
    assert other.metrics(name) == []  # moto replaces the definitions with its own


def test_metrics_of_a_multi_instance_job_come_from_one_host(
    backend: SageMakerBackend, job: TrainingJob, name: str, moto_endpoint: str
) -> None:
    """Both instances print their loss: the series is algo-1's (the SDK's Host=algo-1), not
    the two hosts' lines interleaved into twice the steps. The logs show both hosts."""
    backend.submit(job, job_name=name)
    _put_logs(moto_endpoint, name, ["loss=1.1", "loss=0.6"], host="algo-2")
    _put_logs(moto_endpoint, name, ["loss=1.0", "loss=0.5"], host="algo-1")
    points = backend.metrics(name)
    assert [(p.name, p.value, p.step) for p in points] == [("loss", 1.0, 0), ("loss", 0.5, 1)]
    text = backend.logs(name)
    assert "[algo-2] loss=0.6" in text and "[algo-1] loss=0.5" in text


def test_download_model(
    backend: SageMakerBackend, job: TrainingJob, name: str, moto_endpoint: str, tmp_path: Path
) -> None:
    backend.submit(job, job_name=name)
    _s3(moto_endpoint).put_object(Bucket=BUCKET, Key=f"{name}/output/model.tar.gz", Body=b"model")
    path = backend.download_model(name, tmp_path / "out")
    assert path == tmp_path / "out" / "model.tar.gz" and path.read_bytes() == b"model"


def test_missing_model_artifact_is_a_backend_error(
    backend: SageMakerBackend, job: TrainingJob, name: str, tmp_path: Path
) -> None:
    backend.submit(job, job_name=name)
    with pytest.raises(NotFoundError, match="GetObject"):
        backend.download_model(name, tmp_path)
