"""Credentials, region and endpoints come from boto3's own configuration."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

from sagescale.backends.sagemaker import SageMakerBackend
from sagescale.errors import BackendError
from sagescale.specs import TrainingJob

from .sagemaker_constants import ROLE

IMAGE_JOB = TrainingJob(image_uri="123.dkr.ecr.us-east-1.amazonaws.com/algo:1")


def test_endpoint_from_aws_endpoint_url(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    backend = SageMakerBackend(role=ROLE)
    backend.submit(IMAGE_JOB, job_name=name)  # STS, S3 and SageMaker all on moto
    assert backend.describe(name).job_name == name


def test_service_specific_endpoints_win(
    moto_endpoint: str, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ENDPOINT_URL_SAGEMAKER", moto_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_endpoint)
    backend = SageMakerBackend(role=ROLE, bucket="endpoint-test")
    assert backend.aws.client("sagemaker").meta.endpoint_url == moto_endpoint
    assert backend.aws.client("s3").meta.endpoint_url == moto_endpoint
    backend.submit(IMAGE_JOB, job_name=name)
    assert backend.describe(name).output_path == "s3://endpoint-test"


def test_given_boto_session(moto_endpoint: str, name: str) -> None:
    session = boto3.Session(region_name="us-west-2")
    backend = SageMakerBackend(role=ROLE, boto_session=session, endpoint_url=moto_endpoint)
    assert backend.region == "us-west-2"
    backend.submit(IMAGE_JOB, job_name=name)
    assert backend.describe(name).output_path == "s3://sagemaker-us-west-2-123456789012"


@pytest.fixture
def no_aws_config(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for key in (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_DEFAULT_REGION",
        "AWS_REGION",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "missing-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.mark.usefixtures("no_aws_config")
def test_missing_credentials_are_a_clear_error() -> None:
    with pytest.raises(BackendError, match="no AWS credentials found"):
        SageMakerBackend(role=ROLE, region="us-east-1")


@pytest.mark.usefixtures("no_aws_config")
def test_missing_region_is_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "y")
    with pytest.raises(BackendError, match="no AWS region"):
        SageMakerBackend(role=ROLE)


def test_session_facade(moto_endpoint: str, name: str) -> None:
    from sagescale.session import Session

    session = Session(
        "sagemaker", role=ROLE, region="us-east-1", bucket="facade", endpoint_url=moto_endpoint
    )
    assert session.backend.name == "sagemaker"
    session.backend.poll_interval = 0.01  # type: ignore[attr-defined]
    session.fit(IMAGE_JOB, job_name=name)
    assert session.attach(name).backend.describe(name).output_path == "s3://facade"
