"""The training job spec and its ``CreateTrainingJob`` request."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import AliasChoices, Field, field_validator, model_validator

from sagescale.specs._base import SpecModel, SpecRule, warn_spec
from sagescale.specs._catalog import get_instance_type
from sagescale.specs._distribution import DataParallel, Distribution, ModelParallel
from sagescale.specs._images import pytorch_image_uri
from sagescale.specs._names import (
    check_experiment_name,
    check_job_name,
    check_s3_uri,
    checked_name,
)

__all__ = [
    "Channel",
    "Checkpoint",
    "ExperimentConfig",
    "MetricDefinition",
    "Security",
    "Spot",
    "TrainingJob",
]

HyperparameterValue = str | int | float | bool
_ROLE = re.compile(r"^arn:aws[a-z\-]*:iam::(\d{12}):role/?[a-zA-Z_0-9+=,.@\-_/]+$")
_INSTANCE = re.compile(r"^ml\.[a-z0-9]+[a-z0-9\-]*\.[a-z0-9]+$")
_CHANNEL = re.compile(r"^[A-Za-z0-9\.\-_]+$")
_VPC_ID = re.compile(r"[-0-9a-zA-Z]{1,32}")
MAX_HYPERPARAMETERS = 100
MAX_HYPERPARAMETER_VALUE = 2500
SMDDP_INSTANCES = frozenset(
    {"ml.p3.16xlarge", "ml.p3dn.24xlarge", "ml.p4d.24xlarge", "ml.p4de.24xlarge"}
)
MIXED_PRECISION_HP = "sagescale_mixed_precision"


class Channel(SpecModel):
    """One input channel: a URI (``s3://``, ``file://`` or a local path) and how to read it."""

    uri: str = Field(min_length=1, max_length=1024)
    input_mode: Literal["File", "Pipe", "FastFile"] | None = None
    content_type: str | None = Field(default=None, max_length=256)
    distribution: Literal["FullyReplicated", "ShardedByS3Key"] = "FullyReplicated"
    compression: Literal["None", "Gzip"] | None = None

    @field_validator("uri")
    @classmethod
    def _uri(cls, value: str) -> str:
        return check_s3_uri(value)

    @property
    def is_s3(self) -> bool:
        return self.uri.startswith("s3://")


class MetricDefinition(SpecModel):
    """A metric read from the job's log with a regular expression (first group = value)."""

    name: str = Field(min_length=1, max_length=255)
    regex: str = Field(min_length=1, max_length=500)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = re.compile(value)
        except re.error as exc:
            raise ValueError(f"is not a valid regular expression: {exc}") from None
        if compiled.groups < 1:
            raise ValueError("needs one capturing group for the metric value")
        return value


class Spot(SpecModel):
    """Managed spot training: wait at most ``max_wait_seconds`` (>= ``max_run_seconds``)."""

    max_wait_seconds: int = Field(ge=1, le=2_419_200)


class Checkpoint(SpecModel):
    """Where checkpoints are synced to (``s3_uri``) from the job's ``local_path``."""

    s3_uri: str | None = Field(default=None, max_length=1024)
    local_path: str = Field(default="/opt/ml/checkpoints", max_length=4096)

    @field_validator("s3_uri")
    @classmethod
    def _s3_uri(cls, value: str | None) -> str | None:
        return None if value is None else check_s3_uri(value)


class Security(SpecModel):
    """Network isolation, encryption and VPC settings."""

    encrypt_inter_container_traffic: bool = False
    enable_network_isolation: bool = False
    volume_kms_key: str | None = Field(default=None, max_length=2048)
    output_kms_key: str | None = Field(default=None, max_length=2048)
    subnets: list[str] = Field(default_factory=list, max_length=16)
    security_group_ids: list[str] = Field(default_factory=list, max_length=5)

    @field_validator("subnets", "security_group_ids")
    @classmethod
    def _vpc_ids(cls, value: list[str]) -> list[str]:
        for index, item in enumerate(value):
            if not _VPC_ID.fullmatch(item):
                raise SpecRule(
                    "must be 1-32 letters, digits or hyphens (subnet-..., sg-...)",
                    field=f"[{index}]",
                    value=item,
                )
        return value

    @model_validator(mode="after")
    def _vpc_pairs(self) -> Security:
        if bool(self.subnets) != bool(self.security_group_ids):
            raise SpecRule(
                "subnets and security_group_ids must be given together (VpcConfig)",
                field="subnets" if not self.subnets else "security_group_ids",
                value=[],
            )
        return self


class ExperimentConfig(SpecModel):
    """Which experiment, trial and run a job is recorded under (SageMaker's names accepted)."""

    experiment_name: str = Field(validation_alias=AliasChoices("experiment_name", "ExperimentName"))
    trial_name: str | None = Field(
        default=None, validation_alias=AliasChoices("trial_name", "TrialName")
    )
    trial_component_display_name: str | None = Field(
        default=None,
        validation_alias=AliasChoices("trial_component_display_name", "TrialComponentDisplayName"),
    )
    run_name: str | None = Field(default=None, validation_alias=AliasChoices("run_name", "RunName"))

    @field_validator("experiment_name", "trial_name", "trial_component_display_name", "run_name")
    @classmethod
    def _names(cls, value: str | None) -> str | None:
        return None if value is None else check_experiment_name(value)

    def to_request(self) -> dict[str, str]:
        out = {"ExperimentName": self.experiment_name}
        for key, value in (
            ("TrialName", self.trial_name),
            ("TrialComponentDisplayName", self.trial_component_display_name),
            ("RunName", self.run_name),
        ):
            if value is not None:
                out[key] = value
        return out


class TrainingJob(SpecModel):
    """Everything needed to run one training job, locally or on SageMaker.

    A framework job (``framework="pytorch"``, the default) runs ``entry_point`` from
    ``source_dir`` in SageMaker's PyTorch image; an ``image_uri`` job runs that image
    (with ``entry_point`` in script mode, or as a built-in algorithm without one).
    """

    base_job_name: str | None = None
    entry_point: str | None = Field(default=None, min_length=1, max_length=256)
    source_dir: str | None = None
    framework: Literal["pytorch"] | None = None
    framework_version: str = "2.3"
    py_version: str = "py311"
    image_uri: str | None = Field(default=None, max_length=255)
    role: str | None = None
    instance_type: str = "ml.m5.xlarge"
    instance_count: int = Field(default=1, ge=1, le=256)
    volume_size_gb: int = Field(default=30, ge=1, le=16384)
    hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict)
    inputs: dict[str, str | Channel] = Field(default_factory=dict)
    output_path: str | None = None
    distribution: Distribution | None = None
    mixed_precision: Literal["fp16", "bf16"] | None = None
    metric_definitions: list[MetricDefinition] = Field(default_factory=list)
    max_run_seconds: int = Field(default=86_400, ge=1, le=2_419_200)
    spot: Spot | None = None
    checkpoint: Checkpoint | None = None
    model_uri: str | None = None
    model_channel_name: str = "model"
    security: Security = Field(default_factory=Security)
    environment: dict[str, str] = Field(default_factory=dict)
    max_retry_attempts: int | None = Field(default=None, ge=1, le=30)
    keep_alive_period_seconds: int | None = Field(default=None, ge=0, le=3600)
    tags: dict[str, str] = Field(default_factory=dict)
    experiment_config: ExperimentConfig | None = None

    # ---- field rules -------------------------------------------------------------------
    @field_validator("base_job_name")
    @classmethod
    def _base_name(cls, value: str | None) -> str | None:
        return None if value is None else check_job_name(value)

    @field_validator("role")
    @classmethod
    def _role(cls, value: str | None) -> str | None:
        if value is not None and not _ROLE.fullmatch(value):
            raise ValueError(
                "must be an IAM role ARN (arn:aws:iam::<12-digit account>:role/<name>)"
            )
        return value

    @field_validator("source_dir", "output_path", "model_uri")
    @classmethod
    def _uris(cls, value: str | None) -> str | None:
        return None if value is None else check_s3_uri(value)

    @field_validator("instance_type")
    @classmethod
    def _instance_type(cls, value: str) -> str:
        if not _INSTANCE.fullmatch(value):
            raise ValueError("must be a SageMaker instance type such as ml.p3.16xlarge")
        return value

    @field_validator("hyperparameters")
    @classmethod
    def _hyperparameters(cls, value: dict[str, HyperparameterValue]) -> dict[str, Any]:
        if len(value) > MAX_HYPERPARAMETERS:
            raise SpecRule(
                f"at most {MAX_HYPERPARAMETERS} hyperparameters are allowed, got {len(value)}"
            )
        for key, item in value.items():
            if not 1 <= len(key) <= 256:
                raise SpecRule(
                    f"a hyperparameter name must be 1-256 characters, got {len(key)}", value=key
                )
            if len(_hp_string(item)) > 2500:
                raise SpecRule(
                    f"a hyperparameter value must be at most 2500 characters, "
                    f"got {len(_hp_string(item))}",
                    field=key,
                    value=item,
                )
        return value

    @field_validator("inputs")
    @classmethod
    def _inputs(cls, value: dict[str, str | Channel]) -> dict[str, str | Channel]:
        if len(value) > 20:
            raise SpecRule(f"at most 20 input channels are allowed, got {len(value)}")
        for name, channel in value.items():
            if not _CHANNEL.fullmatch(name) or len(name) > 64:
                raise SpecRule(
                    "a channel name must be 1-64 letters, digits, '.', '-' or '_'", value=name
                )
            if isinstance(channel, str):  # a Channel checks its own uri
                try:
                    check_s3_uri(channel)
                except ValueError as exc:
                    raise SpecRule(str(exc), field=name, value=channel) from None
        return value

    @field_validator("environment")
    @classmethod
    def _environment(cls, value: dict[str, str]) -> dict[str, str]:
        if len(value) > 100:
            raise SpecRule(f"at most 100 environment variables are allowed, got {len(value)}")
        for key, item in value.items():
            if not re.fullmatch(r"[a-zA-Z_][a-zA-Z0-9_]{0,511}", key):
                raise SpecRule(
                    "an environment variable name must match [a-zA-Z_][a-zA-Z0-9_]{0,511}",
                    value=key,
                )
            if len(item) > 512:
                raise SpecRule(
                    "an environment variable value must be at most 512 characters",
                    field=key,
                    value=item,
                )
        return value

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_tags(value)

    @field_validator("metric_definitions")
    @classmethod
    def _metric_count(cls, value: list[MetricDefinition]) -> list[MetricDefinition]:
        if len(value) > 40:
            raise SpecRule(f"at most 40 metric definitions are allowed, got {len(value)}")
        return value

    @field_validator("model_channel_name")
    @classmethod
    def _model_channel(cls, value: str) -> str:
        if not _CHANNEL.fullmatch(value):
            raise ValueError("must be letters, digits, '.', '-' or '_'")
        return value

    # ---- cross-field rules -------------------------------------------------------------
    @model_validator(mode="after")
    def _cross_field(self) -> TrainingJob:
        if self.image_uri is None and self.entry_point is None:
            raise SpecRule(
                "is required for a framework job (or give image_uri)",
                field="entry_point",
                value=None,
            )
        if self.model_uri is not None and self.model_channel_name in self.inputs:
            raise SpecRule(
                "clashes with an input channel of the same name",
                field="model_channel_name",
                value=self.model_channel_name,
            )
        if self.spot is not None and self.spot.max_wait_seconds < self.max_run_seconds:
            raise SpecRule(
                f"must be >= max_run_seconds ({self.max_run_seconds})",
                field="spot.max_wait_seconds",
                value=self.spot.max_wait_seconds,
            )
        if self.spot is not None and self.checkpoint is None:
            warn_spec(
                "spot training without a checkpoint restarts from scratch after every "
                "interruption: add checkpoint: {s3_uri: ...}"
            )
        _check_distribution(self)
        _check_rendered_hyperparameters(self)
        return self

    # ---- derived values ----------------------------------------------------------------
    @property
    def uses_framework(self) -> bool:
        """True when the job runs an entry point in script mode."""
        return self.entry_point is not None

    @property
    def gpus_per_instance(self) -> int:
        info = get_instance_type(self.instance_type)
        return info.gpus if info else 0

    def processes_per_host(self) -> int:
        """Processes per host on SageMaker: the distribution's setting, else GPUs, else 1."""
        dist = self.distribution
        if dist is not None and dist.processes_per_host is not None:
            return dist.processes_per_host
        return max(1, self.gpus_per_instance) if dist is not None else 1

    def channels(self) -> dict[str, Channel]:
        """Every input channel as a :class:`Channel` (string URIs expanded)."""
        return {
            name: value if isinstance(value, Channel) else Channel(uri=value)
            for name, value in self.inputs.items()
        }

    def training_image(self, region: str) -> str:
        if self.image_uri is not None:
            return self.image_uri
        return pytorch_image_uri(
            self.framework_version, self.py_version, region=region, gpu=self.gpus_per_instance > 0
        )

    def sagemaker_hyperparameters(
        self, *, job_name: str | None, submit_directory: str | None, region: str
    ) -> dict[str, str]:
        """Hyperparameters as SageMaker receives them (framework values JSON-encoded)."""
        if not self.uses_framework:
            return {key: _hp_string(value) for key, value in self.hyperparameters.items()}
        values: dict[str, Any] = dict(self.hyperparameters)
        values["sagemaker_program"] = self.entry_point
        if submit_directory is not None:
            values["sagemaker_submit_directory"] = submit_directory
        values["sagemaker_container_log_level"] = 20
        if job_name is not None:
            values["sagemaker_job_name"] = job_name
        values["sagemaker_region"] = region
        if self.mixed_precision is not None:
            values[MIXED_PRECISION_HP] = self.mixed_precision
        values.update(distribution_hyperparameters(self))
        return {key: json.dumps(value) for key, value in values.items()}

    def to_request(
        self,
        *,
        job_name: str,
        region: str = "us-east-1",
        role: str | None = None,
        submit_directory: str | None = None,
        default_bucket: str | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Render the ``CreateTrainingJob`` request for this spec.

        ``inputs`` replaces channel URIs (the SageMaker backend passes the S3 URIs of
        uploaded local inputs); ``default_bucket`` is used when ``output_path`` is unset
        (default: ``sagemaker-<region>-<account of the role>``).
        """
        from sagescale.specs._render import render_training_job

        return render_training_job(
            self,
            job_name=checked_name(check_job_name, job_name, "job_name"),
            region=region,
            role=role,
            submit_directory=submit_directory,
            default_bucket=default_bucket,
            inputs=inputs,
        )


def check_tags(value: dict[str, str]) -> dict[str, str]:
    """At most 50 tags; keys 1-128 and values 0-256 characters (a field validator's body)."""
    if len(value) > 50:
        raise SpecRule(f"at most 50 tags are allowed, got {len(value)}")
    for key, item in value.items():
        if not 1 <= len(key) <= 128 or len(item) > 256:
            raise SpecRule(
                "tag keys are 1-128 and tag values 0-256 characters", field=key, value=item
            )
    return value


def _hp_string(value: HyperparameterValue) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def role_account(role: str) -> str:
    match = _ROLE.fullmatch(role)
    if match is None:
        raise ValueError(f"role {role!r} is not an IAM role ARN")
    return match.group(1)


def _check_rendered_hyperparameters(job: TrainingJob) -> None:
    """The limits hold for what SageMaker receives: framework values JSON-encoded, plus the
    hyperparameters the framework and the distribution add."""
    sent = job.sagemaker_hyperparameters(
        job_name="j", submit_directory="s3://b/sourcedir.tar.gz", region="us-east-1"
    )
    added = len(sent) - len(job.hyperparameters)
    if len(sent) > MAX_HYPERPARAMETERS:
        raise SpecRule(
            f"SageMaker takes at most {MAX_HYPERPARAMETERS} hyperparameters and this job adds "
            f"{added} of its own (sagemaker_program, distribution settings...): at most "
            f"{MAX_HYPERPARAMETERS - added} are left, got {len(job.hyperparameters)}",
            field="hyperparameters",
            value=len(job.hyperparameters),
        )
    for key in job.hyperparameters:
        if len(sent[key]) > MAX_HYPERPARAMETER_VALUE:
            raise SpecRule(
                f"a hyperparameter value must be at most {MAX_HYPERPARAMETER_VALUE} characters "
                f"as sent (JSON-encoded for a framework job), got {len(sent[key])}",
                field=f"hyperparameters.{key}",
                value=job.hyperparameters[key],
            )


def _check_distribution(job: TrainingJob) -> None:
    dist = job.distribution
    if isinstance(dist, DataParallel) and dist.engine == "smddp":
        _check_smddp(job)
    elif isinstance(dist, ModelParallel):
        _check_model_parallel(job, dist)


def _check_smddp(job: TrainingJob) -> None:
    if job.instance_type not in SMDDP_INSTANCES:
        hint = (
            " (on ml.p5 use type torch_distributed)"
            if job.instance_type.startswith("ml.p5")
            else ""
        )
        raise SpecRule(
            f"distribution.engine smddp runs only on {', '.join(sorted(SMDDP_INSTANCES))}{hint}",
            field="instance_type",
            value=job.instance_type,
        )
    total = job.gpus_per_instance * job.instance_count
    if total < 2:
        raise SpecRule(
            f"distribution.engine smddp needs more than one GPU in total, {job.instance_count} "
            f"x {job.instance_type} has {total}",
            field="instance_count",
            value=job.instance_count,
        )


def _check_model_parallel(job: TrainingJob, dist: ModelParallel) -> None:
    info = get_instance_type(job.instance_type)
    if info is not None and info.gpus == 0:
        raise SpecRule(
            "distribution type model_parallel needs a GPU instance type",
            field="instance_type",
            value=job.instance_type,
        )
    per_host = job.processes_per_host()
    if info is not None and per_host > info.gpus:
        raise SpecRule(
            f"must be <= the GPUs per instance of {job.instance_type} ({info.gpus})",
            field="distribution.processes_per_host",
            value=per_host,
        )
    total = per_host * job.instance_count
    group = dist.partitions * dist.tensor_parallel_degree
    if total % group:
        raise SpecRule(
            f"total processes ({total} = {per_host} per host x {job.instance_count} hosts) must "
            f"be divisible by partitions x tensor_parallel_degree ({dist.partitions} x "
            f"{dist.tensor_parallel_degree} = {group})",
            field="distribution.partitions",
            value=dist.partitions,
        )
    if dist.tensor_parallel_degree > 1 and not dist.ddp:
        raise SpecRule(
            "tensor_parallel_degree > 1 needs ddp: true",
            field="distribution.tensor_parallel_degree",
            value=dist.tensor_parallel_degree,
        )


def distribution_hyperparameters(job: TrainingJob) -> dict[str, Any]:
    """The hyperparameters the SageMaker SDK adds for the job's distribution."""
    dist = job.distribution
    if dist is None:
        return {}
    out: dict[str, Any] = {"sagemaker_instance_type": job.instance_type}
    if not isinstance(dist, ModelParallel) and dist.processes_per_host is not None:
        # the training toolkit starts this many processes per host for every launcher
        # (torchrun, smddp's mpirun); without it SageMaker starts one per GPU
        out["sagemaker_mpi_num_of_processes_per_host"] = dist.processes_per_host
    if isinstance(dist, DataParallel):
        if dist.engine == "smddp":
            out["sagemaker_distributed_dataparallel_enabled"] = True
            out["sagemaker_distributed_dataparallel_custom_mpi_options"] = dist.custom_mpi_options
        else:
            out["sagemaker_torch_distributed_enabled"] = True
        return out
    if isinstance(dist, ModelParallel):
        # {"smdistributed": {"modelparallel": ...}, "mpi": ...}: the SDK's smdistributed
        # branch also sends sagemaker_distributed_dataparallel_enabled = false.
        out["sagemaker_mpi_enabled"] = True
        out["sagemaker_mpi_num_of_processes_per_host"] = job.processes_per_host()
        out["sagemaker_mpi_custom_mpi_options"] = dist.custom_mpi_options
        out["mp_parameters"] = dist.mp_parameters()
        out["sagemaker_distributed_dataparallel_enabled"] = False
        return out
    out["sagemaker_torch_distributed_enabled"] = True
    if dist.smp is not None:
        out["mp_parameters"] = dist.smp.parameters()
        out["sagemaker_distributed_dataparallel_enabled"] = False
    return out
