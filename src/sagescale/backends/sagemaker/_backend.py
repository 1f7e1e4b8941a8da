"""The SageMaker backend: training jobs through boto3 (tuning in ``_tuning.py``)."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, TextIO

from sagescale._botocore import validate_request
from sagescale.backends._base import (
    Backend,
    JobDescription,
    JobStatus,
    MetricPoint,
    check_destination,
    check_list_arguments,
    check_submit_arguments,
    check_timeout,
    poll_sleep,
)
from sagescale.backends.sagemaker._aws import AwsContext, env_bucket, env_role
from sagescale.backends.sagemaker._describe import from_describe, from_summary
from sagescale.backends.sagemaker._logs import LogCursor, metrics_from_lines
from sagescale.backends.sagemaker._staging import Stager, split_s3_uri
from sagescale.backends.sagemaker._tuning import TuningMixin
from sagescale.errors import BackendError, JobFailedError, NotFoundError, SpecError
from sagescale.specs import ExperimentConfig, TrainingJob, check_job_name, unique_name

__all__ = ["SageMakerBackend"]

_FAILED = frozenset({JobStatus.FAILED, JobStatus.STOPPED})


def request_error(operation: str, exc: Exception) -> SpecError:
    """botocore's ``ParamValidationError`` for a rendered request, as a ``SpecError``."""
    return SpecError(f"the {operation} request breaks the SageMaker API model: {exc}")


def _base_name(job: TrainingJob) -> str:
    return job.base_job_name or ("pytorch-training" if job.uses_framework else "training")


def _checked_name(job_name: str) -> str:
    try:
        return check_job_name(job_name)
    except ValueError as exc:
        raise SpecError(
            f"job_name = {job_name!r}: {exc}", field="job_name", value=job_name
        ) from None


def _check_role(role: str) -> None:
    from sagescale.specs._training import role_account

    try:
        role_account(role)
    except ValueError:
        raise SpecError(
            f"role = {role!r}: must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/"
            "<name>)",
            field="role",
            value=role,
        ) from None


def _status(status: JobStatus | str) -> str:
    try:
        return str(JobStatus(status))
    except ValueError:
        known = ", ".join(s.value for s in JobStatus)
        raise SpecError(
            f"status = {status!r}: must be one of {known}", field="status", value=status
        ) from None


class SageMakerBackend(TuningMixin, Backend):
    """Runs training jobs (and hands tuning jobs) to Amazon SageMaker with boto3.

    ``role`` is the execution role for jobs whose spec has none (else the
    ``SAGESCALE_SAGEMAKER_ROLE`` environment variable); ``bucket`` (else
    ``SAGESCALE_SAGEMAKER_BUCKET``) holds sources, local inputs and, when a spec has no
    ``output_path``, outputs (default ``sagemaker-<region>-<account>``, created when missing).
    Endpoints follow boto3's configuration (``AWS_ENDPOINT_URL``,
    ``AWS_ENDPOINT_URL_SAGEMAKER``, ``AWS_ENDPOINT_URL_S3`` ...) unless ``endpoint_url`` is
    given for every service. ``poll_interval`` is the seconds between ``DescribeTrainingJob``
    calls in :meth:`wait`; ``stream`` receives what ``wait`` prints (default stdout).
    ``workspace`` is accepted for symmetry with the local backend and unused.
    """

    name = "sagemaker"

    def __init__(
        self,
        *,
        role: str | None = None,
        region: str | None = None,
        bucket: str | None = None,
        boto_session: Any = None,
        endpoint_url: str | None = None,
        poll_interval: float = 10.0,
        stream: TextIO | None = None,
        workspace: str | Path | None = None,
    ) -> None:
        if role is not None:
            _check_role(role)
        self.aws = AwsContext(region=region, boto_session=boto_session, endpoint_url=endpoint_url)
        self.role = role or env_role()
        self.stager = Stager(self.aws, bucket or env_bucket())
        self.poll_interval = poll_interval
        self._stream = stream
        self._specs: dict[str, TrainingJob] = {}
        self._tuning_of: dict[str, str] = {}
        self._generated: set[str] = set()
        self._lock = threading.Lock()
        self._init_tuning()

    @property
    def region(self) -> str:
        return self.aws.region

    def _print(self, text: str) -> None:
        print(text, file=self._stream or sys.stdout, flush=True)

    def _job_name(self, job: TrainingJob, job_name: str | None) -> str:
        """``job_name``, else ``<base>-<timestamp>`` unique within this process too."""
        if job_name is not None:
            return _checked_name(job_name)
        with self._lock:
            name = unique_name(_base_name(job))
            while name in self._generated:  # same millisecond in another thread
                time.sleep(0.001)
                name = unique_name(_base_name(job))
            self._generated.add(name)
        return name

    def _role_for(self, job: TrainingJob) -> str | None:
        if job.role is not None:
            return None  # the spec's own role wins
        if self.role is None:
            raise SpecError(
                "role is required on SageMaker: set role: arn:aws:iam::<account>:role/<name> "
                "in the spec, pass SageMakerBackend(role=...) / --role, or set "
                "SAGESCALE_SAGEMAKER_ROLE",
                field="role",
            )
        return self.role

    # ---- submit ------------------------------------------------------------------------
    def _prepare(
        self,
        job: TrainingJob,
        hyperparameters: Mapping[str, str | int | float | bool] | None,
        experiment_config: ExperimentConfig | None,
    ) -> TrainingJob:
        update: dict[str, Any] = {}
        if hyperparameters:
            update["hyperparameters"] = {**job.hyperparameters, **dict(hyperparameters)}
        if experiment_config is not None:
            update["experiment_config"] = experiment_config
        return job.model_copy(update=update) if update else job

    def render(self, job: TrainingJob, job_name: str) -> tuple[dict[str, Any], Any]:
        """The validated ``CreateTrainingJob`` request and its staging plan (no uploads)."""
        from botocore.exceptions import ParamValidationError

        role = self._role_for(job)
        plan = self.stager.plan(job, job_name)
        request = plan.job.to_request(
            job_name=job_name,
            region=self.region,
            role=role,
            submit_directory=plan.submit_directory,
            default_bucket=self.stager.bucket,
            inputs=plan.inputs,
        )
        if job.checkpoint is not None and job.checkpoint.s3_uri is None:
            request["CheckpointConfig"] = {  # synced by SageMaker: spot restarts resume
                "S3Uri": f"s3://{self.stager.bucket}/{job_name}/checkpoints",
                "LocalPath": job.checkpoint.local_path,
            }
        try:
            validate_request("CreateTrainingJob", request)
        except ParamValidationError as exc:
            raise request_error("CreateTrainingJob", exc) from None
        return request, plan

    def _check_unused(self, job_name: str) -> None:
        try:
            self.aws.call("sagemaker", "DescribeTrainingJob", job_name, TrainingJobName=job_name)
        except NotFoundError:
            return
        raise SpecError(
            f"job_name = {job_name!r}: a training job of that name exists already (names are "
            "unique per account and region)",
            field="job_name",
            value=job_name,
        )

    def submit(
        self,
        job: TrainingJob,
        *,
        job_name: str | None = None,
        hyperparameters: Mapping[str, str | int | float | bool] | None = None,
        experiment_config: ExperimentConfig | None = None,
        tuning_job_name: str | None = None,
    ) -> str:
        """Pack and upload the source and local inputs, then ``CreateTrainingJob``."""
        args = check_submit_arguments(
            job,
            job_name=job_name,
            hyperparameters=hyperparameters,
            experiment_config=experiment_config,
            tuning_job_name=tuning_job_name,
        )
        name = self._job_name(job, args.job_name)
        job = self._prepare(job, args.hyperparameters, args.experiment_config)
        request, plan = self.render(job, name)
        if tuning_job_name is not None:
            request.setdefault("Tags", []).append(
                {"Key": "sagescale:tuning-job", "Value": tuning_job_name}
            )
        self._check_unused(name)
        self.stager.upload(plan, name)
        self.aws.call("sagemaker", "CreateTrainingJob", name, **request)
        with self._lock:
            self._specs[name] = job
            if tuning_job_name is not None:
                self._tuning_of[name] = tuning_job_name
        return name

    # ---- watch -------------------------------------------------------------------------
    def describe(self, job_name: str) -> JobDescription:
        raw = self.aws.call("sagemaker", "DescribeTrainingJob", job_name, TrainingJobName=job_name)
        with self._lock:
            spec = self._specs.get(job_name)
            tuning_job_name = self._tuning_of.get(job_name)
        description = from_describe(raw, spec)
        if description.tuning_job_name is None:  # submitted here on behalf of a tuner
            description.tuning_job_name = tuning_job_name
        return description

    def attach(self, job_name: str) -> JobDescription:
        """The description of an existing job (``NotFoundError`` when there is none)."""
        return self.describe(job_name)

    def _show_transitions(self, description: JobDescription, shown: int) -> int:
        for transition in description.transitions[shown:]:
            stamp = transition.start_time.strftime("%Y-%m-%d %H:%M:%S")
            self._print(f"{stamp} {transition.status} - {transition.message}".rstrip(" -"))
        return len(description.transitions)

    def wait(
        self,
        job_name: str,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        logs: bool = False,
    ) -> JobDescription:
        """Poll until terminal, printing secondary-status transitions (and logs)."""
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        cursor = LogCursor(self.aws, job_name) if logs else None
        shown = 0
        while True:
            description = self.describe(job_name)
            shown = self._show_transitions(description, shown)
            if cursor is not None:
                for line in cursor.read():
                    self._print(line.render())
            if description.done:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise BackendError(
                    f"timed out after {timeout} s; the job is still {description.status}",
                    call="wait",
                    job_name=job_name,
                )
            poll_sleep(self.poll_interval, deadline)
        if raise_on_failure and description.status in _FAILED:
            raise JobFailedError(job_name, str(description.status), description.failure_reason)
        return description

    def stop(self, job_name: str) -> None:
        """``StopTrainingJob``; a no-op for a finished or stopping job."""
        description = self.describe(job_name)
        if description.done or description.status is JobStatus.STOPPING:
            return
        try:
            self.aws.call("sagemaker", "StopTrainingJob", job_name, TrainingJobName=job_name)
        except BackendError:
            if not self.describe(job_name).done:  # it may have finished in between
                raise

    def list_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        max_results: int = 100,
    ) -> list[JobDescription]:
        """``ListTrainingJobs``, newest first."""
        check_list_arguments(
            name_contains=name_contains,
            created_after=created_after,
            created_before=created_before,
            max_results=max_results,
        )
        request: dict[str, Any] = {"SortBy": "CreationTime", "SortOrder": "Descending"}
        if status is not None:
            request["StatusEquals"] = _status(status)
        if name_contains:
            request["NameContains"] = name_contains
        if created_after is not None:
            request["CreationTimeAfter"] = created_after
        if created_before is not None:
            request["CreationTimeBefore"] = created_before
        # SageMaker sorts server-side; a narrowed set is also read whole and sorted here, so
        # "newest first" holds on endpoints that ignore SortBy (moto)
        if not (name_contains or created_after):
            request["PaginationConfig"] = {"MaxItems": max_results}
        summaries = self.aws.pages(
            "sagemaker", "ListTrainingJobs", "TrainingJobSummaries", **request
        )
        jobs = [from_summary(s) for s in summaries]
        jobs.sort(key=lambda j: j.creation_time, reverse=True)
        return jobs[:max_results]

    def logs(self, job_name: str) -> str:
        """Every CloudWatch log line of the job so far, prefixed ``[algo-N]``."""
        self.describe(job_name)
        return "\n".join(line.render() for line in LogCursor(self.aws, job_name).read())

    def _metric_definitions(self, description: JobDescription) -> list[tuple[str, str]]:
        if description.spec is not None and description.spec.metric_definitions:
            return [(m.name, m.regex) for m in description.spec.metric_definitions]
        algorithm = description.extra["response"].get("AlgorithmSpecification", {})
        return [(str(m["Name"]), str(m["Regex"])) for m in algorithm.get("MetricDefinitions", [])]

    def metrics(self, job_name: str, names: Sequence[str] | None = None) -> list[MetricPoint]:
        """Metric points matched in the job's CloudWatch logs by its metric definitions."""
        description = self.describe(job_name)
        lines = LogCursor(self.aws, job_name).read()
        return metrics_from_lines(lines, self._metric_definitions(description), names)

    def download_model(self, job_name: str, destination: str | Path) -> Path:
        """Download the job's ``model.tar.gz`` into the folder ``destination``."""
        check_destination(destination)
        description = self.describe(job_name)
        if description.model_artifacts is None:
            raise BackendError(
                f"no model artifact (status {description.status})",
                call="download_model",
                job_name=job_name,
            )
        return self.download(description.model_artifacts, destination, job_name)

    def download(self, uri: str, destination: str | Path, job_name: str | None = None) -> Path:
        """Download one S3 object into the folder ``destination``; return the file."""
        from botocore.exceptions import BotoCoreError, ClientError

        from sagescale.backends.sagemaker._aws import translate_error

        bucket, key = split_s3_uri(uri)
        folder = check_destination(destination)
        target = folder / key.rsplit("/", 1)[-1]
        try:
            folder.mkdir(parents=True, exist_ok=True)
            self.aws.client("s3").download_file(bucket, key, str(target))
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, "GetObject", job_name) from exc
        except OSError as exc:
            raise BackendError(str(exc), call="GetObject", job_name=job_name) from exc
        return target
