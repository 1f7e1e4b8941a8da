"""Rendering specs as SageMaker API requests (plain dicts that botocore validates)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sagescale.errors import SpecError

if TYPE_CHECKING:
    from sagescale.specs._training import Channel, TrainingJob

__all__ = ["render_training_job", "training_parts"]

MODEL_CONTENT_TYPE = "application/x-sagemaker-model"


def _role(job: TrainingJob, role: str | None) -> str:
    resolved = role or job.role
    if resolved is None:
        raise SpecError(
            "role is required to render a SageMaker request: set role: arn:aws:iam::"
            "<account>:role/<name> in the spec or pass role=",
            field="role",
        )
    from sagescale.specs._training import role_account

    try:
        role_account(resolved)
    except ValueError as exc:
        raise SpecError(f"role: {exc}", field="role", value=resolved) from None
    return resolved


def _output_path(job: TrainingJob, role: str, region: str, default_bucket: str | None) -> str:
    if job.output_path is not None:
        if not job.output_path.startswith("s3://"):
            raise SpecError(
                f"output_path = {job.output_path!r}: a SageMaker job needs an s3:// URI",
                field="output_path",
                value=job.output_path,
            )
        return job.output_path.rstrip("/")
    if default_bucket is None:
        from sagescale.specs._training import role_account

        default_bucket = f"sagemaker-{region}-{role_account(role)}"
    return f"s3://{default_bucket}"


def _channel(name: str, channel: Channel, uri: str) -> dict[str, Any]:
    if not uri.startswith("s3://"):
        raise SpecError(
            f"inputs.{name} = {uri!r}: a SageMaker channel needs an s3:// URI (the sagemaker "
            "backend uploads local paths before it renders the request)",
            field=f"inputs.{name}",
            value=uri,
        )
    out: dict[str, Any] = {
        "ChannelName": name,
        "DataSource": {
            "S3DataSource": {
                "S3DataType": "S3Prefix",
                "S3Uri": uri,
                "S3DataDistributionType": channel.distribution,
            }
        },
    }
    if channel.content_type:
        out["ContentType"] = channel.content_type
    if channel.compression:
        out["CompressionType"] = channel.compression
    if channel.input_mode:
        out["InputMode"] = channel.input_mode
    return out


def _input_config(job: TrainingJob, overrides: Mapping[str, str] | None) -> list[dict[str, Any]]:
    from sagescale.specs._training import Channel

    overrides = overrides or {}
    channels = [
        _channel(name, channel, overrides.get(name, channel.uri))
        for name, channel in job.channels().items()
    ]
    if job.model_uri is not None:
        model = Channel(uri=job.model_uri, content_type=MODEL_CONTENT_TYPE, input_mode="File")
        uri = overrides.get(job.model_channel_name, job.model_uri)
        channels.append(_channel(job.model_channel_name, model, uri))
    return channels


def _is_s3(uri: str | None) -> bool:
    return uri is not None and uri.lower().startswith("s3://")


def _check_instance_type(instance_type: str) -> None:
    """SageMaker rejects a training instance type outside its list; botocore does not."""
    from sagescale._botocore import enum_values

    if instance_type not in enum_values("TrainingInstanceType"):
        import botocore

        raise SpecError(
            f"instance_type = {instance_type!r}: is not a SageMaker training instance type "
            f"(the TrainingInstanceType values of botocore {botocore.__version__}'s SageMaker "
            "service model; a type newer than that needs `pip install -U botocore`)",
            field="instance_type",
            value=instance_type,
        )


def _resource_config(job: TrainingJob) -> dict[str, Any]:
    _check_instance_type(job.instance_type)
    out: dict[str, Any] = {
        "InstanceType": job.instance_type,
        "InstanceCount": job.instance_count,
        "VolumeSizeInGB": job.volume_size_gb,
    }
    if job.security.volume_kms_key:
        out["VolumeKmsKeyId"] = job.security.volume_kms_key
    if job.keep_alive_period_seconds is not None:
        out["KeepAlivePeriodInSeconds"] = job.keep_alive_period_seconds
    return out


def training_parts(
    job: TrainingJob,
    *,
    job_name: str | None,
    region: str,
    role: str | None,
    submit_directory: str | None,
    default_bucket: str | None,
    inputs: Mapping[str, str] | None,
) -> dict[str, Any]:
    """The parts shared by ``CreateTrainingJob`` and a tuning job's training definition."""
    role_arn = _role(job, role)
    output = _output_path(job, role_arn, region, default_bucket)
    if job.uses_framework and submit_directory is None and _is_s3(job.source_dir):
        submit_directory = job.source_dir  # an uploaded sourcedir.tar.gz, used as is (SDK)
    if job.uses_framework and submit_directory is None:
        prefix = f"{output}/{job_name}" if job_name else f"{output}/{job.base_job_name or 'job'}"
        submit_directory = f"{prefix}/source/sourcedir.tar.gz"
    try:
        image = job.training_image(region)
    except ValueError as exc:
        raise SpecError(str(exc), field="framework_version", value=job.framework_version) from None
    algorithm: dict[str, Any] = {"TrainingImage": image, "TrainingInputMode": "File"}
    if job.metric_definitions:
        algorithm["MetricDefinitions"] = [
            {"Name": m.name, "Regex": m.regex} for m in job.metric_definitions
        ]
    parts: dict[str, Any] = {
        "AlgorithmSpecification": algorithm,
        "RoleArn": role_arn,
        "OutputDataConfig": {"S3OutputPath": output},
        "ResourceConfig": _resource_config(job),
        "StoppingCondition": {"MaxRuntimeInSeconds": job.max_run_seconds},
        "HyperParameters": job.sagemaker_hyperparameters(
            job_name=job_name, submit_directory=submit_directory, region=region
        ),
        "EnableNetworkIsolation": job.security.enable_network_isolation,
        "EnableInterContainerTrafficEncryption": job.security.encrypt_inter_container_traffic,
        "EnableManagedSpotTraining": job.spot is not None,
    }
    channels = _input_config(job, inputs)
    if channels:
        parts["InputDataConfig"] = channels
    _optional_parts(job, parts)
    return parts


def _optional_parts(job: TrainingJob, parts: dict[str, Any]) -> None:
    if job.security.output_kms_key:
        parts["OutputDataConfig"]["KmsKeyId"] = job.security.output_kms_key
    if job.spot is not None:
        parts["StoppingCondition"]["MaxWaitTimeInSeconds"] = job.spot.max_wait_seconds
    if job.checkpoint is not None and job.checkpoint.s3_uri is not None:
        if not _is_s3(job.checkpoint.s3_uri):
            raise SpecError(
                f"checkpoint.s3_uri = {job.checkpoint.s3_uri!r}: a SageMaker job syncs "
                "checkpoints to an s3:// URI",
                field="checkpoint.s3_uri",
                value=job.checkpoint.s3_uri,
            )
        parts["CheckpointConfig"] = {
            "S3Uri": job.checkpoint.s3_uri,
            "LocalPath": job.checkpoint.local_path,
        }
    if job.security.subnets:
        parts["VpcConfig"] = {
            "Subnets": list(job.security.subnets),
            "SecurityGroupIds": list(job.security.security_group_ids),
        }
    if job.max_retry_attempts is not None:
        parts["RetryStrategy"] = {"MaximumRetryAttempts": job.max_retry_attempts}
    if job.environment:
        parts["Environment"] = dict(job.environment)


def render_training_job(
    job: TrainingJob,
    *,
    job_name: str,
    region: str,
    role: str | None,
    submit_directory: str | None,
    default_bucket: str | None,
    inputs: Mapping[str, str] | None,
) -> dict[str, Any]:
    request: dict[str, Any] = {"TrainingJobName": job_name}
    request.update(
        training_parts(
            job,
            job_name=job_name,
            region=region,
            role=role,
            submit_directory=submit_directory,
            default_bucket=default_bucket,
            inputs=inputs,
        )
    )
    if job.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in job.tags.items()]
    if job.experiment_config is not None:
        request["ExperimentConfig"] = job.experiment_config.to_request()
    return request
