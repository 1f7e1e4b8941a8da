"""Hand a spec to the official SageMaker Python SDK v3 (extra ``sagemaker``).

``to_model_trainer(job)`` builds a ``sagemaker.train.ModelTrainer`` and
``to_hyperparameter_tuner(spec)`` a ``sagemaker.train.tuner.HyperparameterTuner`` for users
who want to continue with the official SDK. Distribution settings travel as the same
hyperparameters sagescale's runtime reads (``mp_parameters``,
``sagemaker_distributed_dataparallel_enabled`` ...), next to the SDK's own ``distributed``
runner, and a script that imports ``sagescale.runtime`` is handed over as a packed
``sourcedir.tar.gz`` that carries the runtime.

One setting cannot travel: SDK v3's ``ModelTrainer`` has no ``experiment_config`` (its
``CreateTrainingJob`` request never carries ``ExperimentConfig``; ``TrainingJob.create`` of
sagemaker-core takes one, but ``ModelTrainer.train`` never passes it), and
``CreateHyperParameterTuningJob`` has no such field at all. A spec with an
``experiment_config`` is still handed over, with a :class:`SpecWarning` naming it.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from types import ModuleType
from typing import Any

from sagescale._imports import optional_import
from sagescale.backends.sagemaker._source import pack_source
from sagescale.specs import (
    CategoricalParameter,
    Channel,
    ContinuousParameter,
    DataParallel,
    IntegerParameter,
    ModelParallel,
    SpecWarning,
    TrainingJob,
    TuningJob,
    distribution_hyperparameters,
)
from sagescale.specs._render import MODEL_CONTENT_TYPE

__all__ = ["to_hyperparameter_tuner", "to_model_trainer"]

_PURPOSE = "handing a spec to the official SageMaker SDK"


def _sdk(module: str) -> ModuleType:
    with warnings.catch_warnings():  # the SDK's own import-time deprecation notices
        warnings.simplefilter("ignore")
        return optional_import(module, purpose=_PURPOSE)


def _source_code(job: TrainingJob, configs: ModuleType) -> Any:
    if job.entry_point is None:
        return None
    if job.source_dir is not None and job.source_dir.startswith("s3://"):
        return configs.SourceCode(source_dir=job.source_dir, entry_script=job.entry_point)
    if job.source_dir is None:
        root, entry, only = Path(job.entry_point).parent, Path(job.entry_point).name, True
    else:
        root, entry, only = Path(job.source_dir).expanduser(), job.entry_point, False
    packed = pack_source(root, entry, only_entry_point=only)
    if not packed.includes_runtime and not only:
        return configs.SourceCode(source_dir=str(root), entry_script=entry)
    folder = Path(tempfile.mkdtemp(prefix="sagescale-source-"))
    tarball = folder / "sourcedir.tar.gz"
    tarball.write_bytes(packed.data)
    return configs.SourceCode(source_dir=str(tarball), entry_script=entry)


def _distributed(job: TrainingJob, distributed: ModuleType) -> Any:
    dist = job.distribution
    if dist is None:
        return None
    per_host = job.processes_per_host()
    if isinstance(dist, ModelParallel):
        options = dist.custom_mpi_options.split() or None
        return distributed.MPI(process_count_per_node=per_host, mpi_additional_options=options)
    if isinstance(dist, DataParallel):
        return distributed.Torchrun(process_count_per_node=per_host)
    smp = None
    if dist.smp is not None:
        smp = distributed.SMP(**{k: v for k, v in dist.smp.parameters().items() if v is not None})
    return distributed.Torchrun(process_count_per_node=per_host, smp=smp)


def _hyperparameters(job: TrainingJob) -> dict[str, Any]:
    values: dict[str, Any] = dict(job.hyperparameters)
    for key, value in distribution_hyperparameters(job).items():
        values[key] = value if isinstance(value, (str, int, float, bool)) else json.dumps(value)
    if job.mixed_precision is not None:
        from sagescale.specs import MIXED_PRECISION_HP

        values[MIXED_PRECISION_HP] = job.mixed_precision
    return values


def _s3_channel(name: str, channel: Channel, shapes: ModuleType) -> Any:
    """A full ``Channel``, so the input mode, distribution and compression travel too."""
    source = shapes.S3DataSource(
        s3_data_type="S3Prefix",
        s3_uri=channel.uri,
        s3_data_distribution_type=channel.distribution,
    )
    fields = {
        "content_type": channel.content_type,
        "compression_type": channel.compression,
        "input_mode": channel.input_mode,
    }
    return shapes.Channel(
        channel_name=name,
        data_source=shapes.DataSource(s3_data_source=source),
        **{k: v for k, v in fields.items() if v is not None},
    )


def _inputs(job: TrainingJob, configs: ModuleType, shapes: ModuleType) -> list[Any] | None:
    channels = job.channels()
    if job.model_uri is not None:
        channels[job.model_channel_name] = Channel(
            uri=job.model_uri, content_type=MODEL_CONTENT_TYPE, input_mode="File"
        )
    out: list[Any] = []
    for name, channel in channels.items():
        if channel.is_s3:
            out.append(_s3_channel(name, channel, shapes))
        else:  # a local path: the SDK uploads it
            out.append(
                configs.InputData(
                    channel_name=name, data_source=channel.uri, content_type=channel.content_type
                )
            )
    return out or None


def _trainer_fields(
    job: TrainingJob, region: str, configs: ModuleType, shapes: ModuleType
) -> dict[str, Any]:
    security = job.security
    fields: dict[str, Any] = {
        "training_image": job.training_image(region),
        "source_code": _source_code(job, configs),
        "compute": configs.Compute(
            instance_type=job.instance_type,
            instance_count=job.instance_count,
            volume_size_in_gb=job.volume_size_gb,
            enable_managed_spot_training=job.spot is not None,
            keep_alive_period_in_seconds=job.keep_alive_period_seconds,
            volume_kms_key_id=security.volume_kms_key,
        ),
        "stopping_condition": configs.StoppingCondition(
            max_runtime_in_seconds=job.max_run_seconds,
            max_wait_time_in_seconds=job.spot.max_wait_seconds if job.spot else None,
        ),
        "hyperparameters": _hyperparameters(job),
        "environment": dict(job.environment),
        "input_data_config": _inputs(job, configs, shapes),
    }
    if (
        security.subnets
        or security.enable_network_isolation
        or security.encrypt_inter_container_traffic
    ):
        fields["networking"] = configs.Networking(
            subnets=security.subnets or None,
            security_group_ids=security.security_group_ids or None,
            enable_network_isolation=security.enable_network_isolation,
            enable_inter_container_traffic_encryption=security.encrypt_inter_container_traffic,
        )
    if job.output_path is not None or security.output_kms_key is not None:
        # no output_path: the SDK fills in its default path, the KMS key stays
        fields["output_data_config"] = configs.OutputDataConfig(
            s3_output_path=job.output_path, kms_key_id=security.output_kms_key
        )
    if job.checkpoint is not None and job.checkpoint.s3_uri is not None:
        fields["checkpoint_config"] = configs.CheckpointConfig(
            s3_uri=job.checkpoint.s3_uri, local_path=job.checkpoint.local_path
        )
    if job.base_job_name is not None:
        fields["base_job_name"] = job.base_job_name
    if job.tags:
        fields["tags"] = [{"Key": k, "Value": v} for k, v in job.tags.items()]
    return {k: v for k, v in fields.items() if v is not None}


def to_model_trainer(
    job: TrainingJob,
    *,
    role: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    sagemaker_session: Any = None,
) -> Any:
    """A ``sagemaker.train.ModelTrainer`` configured like ``job``.

    ``role`` (else the spec's) is the execution role; ``sagemaker_session`` a
    ``sagemaker.core.helper.session_helper.Session`` (default: a new one for ``region`` and
    ``bucket`` from boto3's configuration). Needs ``pip install 'sagescale[sagemaker]'``.
    The SDK's ``ModelTrainer`` cannot carry the job's ``experiment_config``: a job with one
    gets a :class:`SpecWarning` saying it is left out.
    """
    if job.experiment_config is not None:
        warnings.warn(
            "to_model_trainer: the job's experiment_config (experiment "
            f"{job.experiment_config.experiment_name!r}) is not handed over: the SageMaker "
            "SDK v3 ModelTrainer has no experiment_config, so its CreateTrainingJob request "
            "carries no ExperimentConfig. Submit with backend='sagemaker' to keep it, or "
            "associate the trial component '<training-job-name>-aws-training-job' with the "
            "trial after train()",
            SpecWarning,
            stacklevel=2,
        )
    return _model_trainer(
        job, role=role, region=region, bucket=bucket, sagemaker_session=sagemaker_session
    )


def _model_trainer(
    job: TrainingJob,
    *,
    role: str | None,
    region: str | None,
    bucket: str | None,
    sagemaker_session: Any,
) -> Any:
    trainer_module = _sdk("sagemaker.train.model_trainer")
    configs = _sdk("sagemaker.core.training.configs")
    distributed = _sdk("sagemaker.train.distributed")
    shapes = _sdk("sagemaker.core.shapes")
    if sagemaker_session is None:
        session_module = _sdk("sagemaker.core.helper.session_helper")
        import boto3

        sagemaker_session = session_module.Session(
            boto3.Session(region_name=region), default_bucket=bucket
        )
    region = region or sagemaker_session.boto_region_name
    fields = _trainer_fields(job, str(region), configs, shapes)
    dist = _distributed(job, distributed)
    if dist is not None:
        fields["distributed"] = dist
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        trainer = trainer_module.ModelTrainer(
            sagemaker_session=sagemaker_session, role=role or job.role, **fields
        )
    if job.metric_definitions:
        trainer = trainer.with_metric_definitions(
            [shapes.MetricDefinition(name=m.name, regex=m.regex) for m in job.metric_definitions]
        )
    if job.max_retry_attempts is not None:
        trainer = trainer.with_retry_strategy(
            shapes.RetryStrategy(maximum_retry_attempts=job.max_retry_attempts)
        )
    return trainer


def _range(rng: Any, parameter: ModuleType) -> Any:
    if isinstance(rng, IntegerParameter):
        return parameter.IntegerParameter(rng.min_value, rng.max_value, rng.scaling_type)
    if isinstance(rng, ContinuousParameter):
        return parameter.ContinuousParameter(rng.min_value, rng.max_value, rng.scaling_type)
    assert isinstance(rng, CategoricalParameter)
    return parameter.CategoricalParameter(list(rng.values))


def _tuner_options(spec: TuningJob, shapes: ModuleType) -> dict[str, Any]:
    options: dict[str, Any] = {
        "strategy": spec.strategy,
        "objective_type": spec.objective_type,
        "max_jobs": spec.effective_max_jobs(),
        "max_parallel_jobs": spec.max_parallel_jobs,
        "max_runtime_in_seconds": spec.max_runtime_seconds,
        "early_stopping_type": spec.early_stopping_type,
        "base_tuning_job_name": spec.base_tuning_job_name,
        "random_seed": spec.random_seed,
    }
    if spec.tags:
        options["tags"] = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    if spec.warm_start_config is not None:
        options["warm_start_config"] = shapes.HyperParameterTuningJobWarmStartConfig(
            parent_hyper_parameter_tuning_jobs=[
                shapes.ParentHyperParameterTuningJob(hyper_parameter_tuning_job_name=p)
                for p in spec.warm_start_config.parents
            ],
            warm_start_type=spec.warm_start_config.warm_start_type,
        )
    if spec.hyperband is not None:
        options["strategy_config"] = shapes.HyperParameterTuningJobStrategyConfig(
            hyperband_strategy_config=shapes.HyperbandStrategyConfig(
                min_resource=spec.hyperband.min_resource, max_resource=spec.hyperband.max_resource
            )
        )
    if spec.completion_criteria is not None:
        options["completion_criteria_config"] = _criteria(spec, shapes)
    return {k: v for k, v in options.items() if v is not None}


def _criteria(spec: TuningJob, shapes: ModuleType) -> Any:
    criteria = spec.completion_criteria
    assert criteria is not None
    fields: dict[str, Any] = {}
    if criteria.target_objective_value is not None:
        fields["target_objective_metric_value"] = criteria.target_objective_value
    if criteria.max_jobs_not_improving is not None:
        fields["best_objective_not_improving"] = shapes.BestObjectiveNotImproving(
            max_number_of_training_jobs_not_improving=criteria.max_jobs_not_improving
        )
    if criteria.complete_on_convergence:
        fields["convergence_detected"] = shapes.ConvergenceDetected(
            complete_on_convergence="Enabled"
        )
    return shapes.TuningJobCompletionCriteria(**fields)


def to_hyperparameter_tuner(
    spec: TuningJob,
    *,
    role: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
    sagemaker_session: Any = None,
) -> Any:
    """A ``sagemaker.train.tuner.HyperparameterTuner`` configured like ``spec`` (several
    training job definitions become ``HyperparameterTuner.create(model_trainer_dict=...)``).
    Needs ``pip install 'sagescale[sagemaker]'``. Neither the SDK's tuner nor
    ``CreateHyperParameterTuningJob`` can carry an ``experiment_config``: a training job
    definition with one gets a :class:`SpecWarning` saying it is left out."""
    with_experiment = [
        key or "default"
        for key, definition in spec.definitions().items()
        if definition.training_job.experiment_config is not None
    ]
    if with_experiment:
        warnings.warn(
            "to_hyperparameter_tuner: the experiment_config of training job definition(s) "
            f"{', '.join(map(repr, with_experiment))} is not handed over: the SageMaker SDK v3 "
            "HyperparameterTuner has no experiment_config and CreateHyperParameterTuningJob "
            "has no ExperimentConfig field. Create the tuning job with backend='sagemaker' "
            "(create_tuning_job(..., experiment_config=...)) to have its training jobs join "
            "the experiment",
            SpecWarning,
            stacklevel=2,
        )
    tuner_module = _sdk("sagemaker.train.tuner")
    parameter = _sdk("sagemaker.core.parameter")
    shapes = _sdk("sagemaker.core.shapes")
    options = _tuner_options(spec, shapes)
    trainers: dict[str, Any] = {}
    objectives: dict[str, str] = {}
    ranges: dict[str, dict[str, Any]] = {}
    metrics: dict[str, list[dict[str, str]]] = {}
    for key, definition in spec.definitions().items():
        name = key or "default"
        trainers[name] = _model_trainer(
            definition.training_job,
            role=role,
            region=region,
            bucket=bucket,
            sagemaker_session=sagemaker_session,
        )
        objectives[name] = definition.objective_metric_name or spec.objective_metric_name
        ranges[name] = {
            k: _range(v, parameter) for k, v in definition.hyperparameter_ranges.items()
        }
        found = (
            definition.metric_definitions
            or spec.metric_definitions
            or definition.training_job.metric_definitions
        )
        metrics[name] = [{"Name": m.name, "Regex": m.regex} for m in found or []]
    cls = tuner_module.HyperparameterTuner
    if spec.training_jobs is None:
        return cls(
            trainers["default"],
            objectives["default"],
            ranges["default"],
            metric_definitions=metrics["default"] or None,
            **options,
        )
    return cls.create(
        model_trainer_dict=trainers,
        objective_metric_name_dict=objectives,
        hyperparameter_ranges_dict=ranges,
        metric_definitions_dict={k: v for k, v in metrics.items() if v} or None,
        **options,
    )
