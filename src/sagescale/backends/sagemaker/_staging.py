"""Staging a job in S3: the packed source and local input paths, planned before uploading.

``plan`` does no I/O against AWS beyond naming the bucket, so a request can be rendered and
validated before anything is uploaded; ``upload`` then puts the files in place.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from sagescale.backends.sagemaker._source import PackedSource, pack_source
from sagescale.errors import SpecError
from sagescale.specs import TrainingJob

if TYPE_CHECKING:
    from sagescale.backends.sagemaker._aws import AwsContext

__all__ = ["StagePlan", "Stager", "split_s3_uri"]


def split_s3_uri(uri: str) -> tuple[str, str]:
    """``s3://bucket/key`` → ``(bucket, key)``."""
    if not uri.startswith("s3://"):
        raise SpecError(f"{uri!r} is not an s3:// URI", value=uri)
    bucket, _, key = uri[5:].partition("/")
    return bucket, key


@dataclass
class StagePlan:
    """What one training job definition needs in S3, and the URIs it will have there."""

    job: TrainingJob
    submit_directory: str | None = None
    source: PackedSource | None = None
    inputs: dict[str, str] = field(default_factory=dict)
    files: list[tuple[Path, str]] = field(default_factory=list)  # local file → s3 uri


def _local_path(uri: str) -> Path:
    return Path(uri.removeprefix("file://")).expanduser()


class Stager:
    """Plans and uploads sources and inputs under ``s3://<bucket>/<prefix>/``."""

    def __init__(self, aws: AwsContext, bucket: str | None) -> None:
        self.aws = aws
        self._bucket = bucket
        self._lock = threading.Lock()

    @property
    def bucket(self) -> str:
        """The configured bucket, else ``sagemaker-<region>-<account>``."""
        with self._lock:
            if self._bucket is None:
                self._bucket = self.aws.default_bucket()
            return self._bucket

    def _source(self, job: TrainingJob, prefix: str, plan: StagePlan) -> TrainingJob:
        if not job.uses_framework or job.entry_point is None:
            return job
        if job.source_dir is not None and job.source_dir.startswith("s3://"):
            plan.submit_directory = job.source_dir
            return job
        if job.source_dir is None:  # a lone script: pack it alone, as the official SDK does
            entry = Path(job.entry_point)
            root, only = entry.parent, True
            job = job.model_copy(update={"entry_point": entry.name})
        else:
            root, only = Path(job.source_dir).expanduser(), False
            if not root.is_dir():
                raise SpecError(
                    f"source_dir = {job.source_dir!r}: not a directory",
                    field="source_dir",
                    value=job.source_dir,
                )
        assert job.entry_point is not None
        plan.source = pack_source(root, job.entry_point, only_entry_point=only)
        plan.submit_directory = f"s3://{self.bucket}/{prefix}/source/sourcedir.tar.gz"
        return job

    def _local_input(self, name: str, uri: str, prefix: str, plan: StagePlan) -> None:
        path = _local_path(uri)
        if not path.exists():
            raise SpecError(
                f"inputs.{name} = {uri!r}: the local path does not exist",
                field=f"inputs.{name}",
                value=uri,
            )
        base = f"s3://{self.bucket}/{prefix}/input/{name}"
        if path.is_file():
            plan.inputs[name] = f"{base}/{path.name}"
            plan.files.append((path, plan.inputs[name]))
            return
        # a folder is the S3 prefix ``.../<channel>/``: without the slash, channel ``train``
        # would also receive every object of a channel ``train2`` or ``train.x``
        plan.inputs[name] = f"{base}/"
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            plan.files.append((file, f"{base}/{file.relative_to(path).as_posix()}"))

    def plan(self, job: TrainingJob, prefix: str) -> StagePlan:
        """Pack the source and map local inputs (and a local ``model_uri``) to S3 URIs."""
        plan = StagePlan(job)
        plan.job = self._source(job, prefix, plan)
        channels = {name: channel.uri for name, channel in job.channels().items()}
        if job.model_uri is not None:
            channels[job.model_channel_name] = job.model_uri
        for name, uri in channels.items():
            if uri.startswith("s3://"):
                plan.inputs[name] = uri
            else:
                self._local_input(name, uri, prefix, plan)
        return plan

    def upload(self, plan: StagePlan, job_name: str) -> None:
        """Create the bucket if needed and upload the plan's source and files."""
        self.aws.ensure_bucket(self.bucket)
        if plan.source is not None and plan.submit_directory is not None:
            bucket, key = split_s3_uri(plan.submit_directory)
            self.aws.call(
                "s3", "PutObject", job_name, Bucket=bucket, Key=key, Body=plan.source.data
            )
        for path, uri in plan.files:
            self.upload_file(path, uri, job_name)

    def upload_file(self, path: Path, uri: str, job_name: str | None) -> None:
        from boto3.exceptions import S3UploadFailedError
        from botocore.exceptions import BotoCoreError, ClientError

        from sagescale.backends.sagemaker._aws import translate_error

        bucket, key = split_s3_uri(uri)
        try:
            self.aws.client("s3").upload_file(str(path), bucket, key)
        except (ClientError, BotoCoreError, S3UploadFailedError) as exc:
            raise translate_error(exc, "PutObject", job_name) from exc
