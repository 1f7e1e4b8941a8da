"""Rendering a :class:`TuningJob` as ``CreateHyperParameterTuningJob``."""

from __future__ import annotations

import contextlib
import json
from typing import TYPE_CHECKING, Any

from sagescale.errors import SpecError
from sagescale.runtime._metrics import metric_definition
from sagescale.specs._render import training_parts
from sagescale.specs._tuning import CategoricalParameter

if TYPE_CHECKING:
    from sagescale.specs._tuning import AlgorithmDefinition, TuningJob

__all__ = ["render_tuning_job"]

_RANGE_KEYS = {
    "integer": "IntegerParameterRanges",
    "continuous": "ContinuousParameterRanges",
    "categorical": "CategoricalParameterRanges",
}


def parameter_ranges(ranges: dict[str, Any], *, json_encode: bool) -> dict[str, Any]:
    """``ParameterRanges``: integer, continuous and categorical lists (framework values JSON)."""
    out: dict[str, list[dict[str, Any]]] = {key: [] for key in _RANGE_KEYS.values()}
    for name, rng in ranges.items():
        if isinstance(rng, CategoricalParameter):
            out[_RANGE_KEYS[rng.type]].append(rng.request_range(name, json_encode=json_encode))
        else:
            out[_RANGE_KEYS[rng.type]].append(rng.request_range(name))
    return out


def _definition(
    spec: TuningJob,
    name: str | None,
    definition: AlgorithmDefinition,
    options: dict[str, Any],
) -> dict[str, Any]:
    job = definition.training_job
    parts = training_parts(job, job_name=None, **options)
    tuned = set(definition.hyperparameter_ranges)
    static = {k: v for k, v in parts.pop("HyperParameters").items() if k not in tuned}
    static.pop("sagemaker_job_name", None)
    objective = definition.objective_metric_name or spec.objective_metric_name
    if job.uses_framework:
        # What the SageMaker SDK's tuner adds for a Framework estimator (so that its
        # ``HyperparameterTuner.attach`` can rebuild one); SageMaker itself sets the reserved
        # ``_tuning_objective_metric``, so it is never sent.
        static["sagemaker_estimator_class_name"] = json.dumps("PyTorch")
        static["sagemaker_estimator_module"] = json.dumps("sagemaker.pytorch.estimator")
    metrics = definition.metric_definitions or spec.metric_definitions or job.metric_definitions
    algorithm = parts["AlgorithmSpecification"]
    algorithm.pop("MetricDefinitions", None)
    definitions = [{"Name": m.name, "Regex": m.regex} for m in metrics or []]
    if job.uses_framework and objective not in {d["Name"] for d in definitions}:
        # a script that reports its objective with sagescale.runtime.log_metric prints a
        # line this definition matches, so SageMaker AMT sees the objective too
        with contextlib.suppress(SpecError):  # a name log_metric cannot print
            definitions.append(metric_definition(objective))
    if definitions:
        algorithm["MetricDefinitions"] = definitions
    out: dict[str, Any] = {**parts, "StaticHyperParameters": static}
    ranges = parameter_ranges(
        dict(definition.hyperparameter_ranges), json_encode=job.uses_framework
    )
    if name is not None:
        out["DefinitionName"] = name
        out["TuningObjective"] = {"Type": spec.objective_type, "MetricName": objective}
        out["HyperParameterRanges"] = ranges
    return out


def _config(spec: TuningJob) -> dict[str, Any]:
    limits: dict[str, Any] = {
        "MaxNumberOfTrainingJobs": spec.effective_max_jobs(),
        "MaxParallelTrainingJobs": spec.max_parallel_jobs,
    }
    if spec.max_runtime_seconds is not None:
        limits["MaxRuntimeInSeconds"] = spec.max_runtime_seconds
    config: dict[str, Any] = {
        "Strategy": spec.strategy,
        "ResourceLimits": limits,
        "TrainingJobEarlyStoppingType": spec.early_stopping_type,
    }
    if spec.training_job is not None:
        config["HyperParameterTuningJobObjective"] = {
            "Type": spec.objective_type,
            "MetricName": spec.objective_metric_name,
        }
        config["ParameterRanges"] = parameter_ranges(
            dict(spec.hyperparameter_ranges), json_encode=spec.training_job.uses_framework
        )
    if spec.hyperband is not None:
        config["StrategyConfig"] = {
            "HyperbandStrategyConfig": {
                "MinResource": spec.hyperband.min_resource,
                "MaxResource": spec.hyperband.max_resource,
            }
        }
    if spec.completion_criteria is not None:
        config["TuningJobCompletionCriteria"] = _criteria(spec)
    if spec.random_seed is not None:
        config["RandomSeed"] = spec.random_seed
    return config


def _criteria(spec: TuningJob) -> dict[str, Any]:
    criteria = spec.completion_criteria
    assert criteria is not None
    out: dict[str, Any] = {}
    if criteria.target_objective_value is not None:
        out["TargetObjectiveMetricValue"] = criteria.target_objective_value
    if criteria.max_jobs_not_improving is not None:
        out["BestObjectiveNotImproving"] = {
            "MaxNumberOfTrainingJobsNotImproving": criteria.max_jobs_not_improving
        }
    if criteria.complete_on_convergence:
        out["ConvergenceDetected"] = {"CompleteOnConvergence": "Enabled"}
    return out


def render_tuning_job(
    spec: TuningJob,
    *,
    tuning_job_name: str,
    region: str,
    role: str | None,
    submit_directory: str | None,
    default_bucket: str | None,
    inputs: dict[str, str] | None,
) -> dict[str, Any]:
    options = {
        "region": region,
        "role": role,
        "submit_directory": submit_directory,
        "default_bucket": default_bucket,
        "inputs": inputs,
    }
    request: dict[str, Any] = {
        "HyperParameterTuningJobName": tuning_job_name,
        "HyperParameterTuningJobConfig": _config(spec),
    }
    definitions = [
        _definition(spec, name, definition, options)
        for name, definition in spec.definitions().items()
    ]
    if spec.training_job is not None:
        request["TrainingJobDefinition"] = definitions[0]
    else:
        request["TrainingJobDefinitions"] = definitions
    if spec.warm_start_config is not None:
        request["WarmStartConfig"] = {
            "ParentHyperParameterTuningJobs": [
                {"HyperParameterTuningJobName": p} for p in spec.warm_start_config.parents
            ],
            "WarmStartType": spec.warm_start_config.warm_start_type,
        }
    if spec.tags:
        request["Tags"] = [{"Key": k, "Value": v} for k, v in spec.tags.items()]
    return request
