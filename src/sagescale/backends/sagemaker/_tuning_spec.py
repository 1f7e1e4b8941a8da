"""Reading tuning jobs back: a :class:`TuningJob` rebuilt from
``DescribeHyperParameterTuningJob`` (for ``attach`` from another process) and tuned values
typed as in the spec's ranges."""

from __future__ import annotations

import json
from typing import Any

from sagescale.backends.sagemaker._describe import decode_hyperparameters
from sagescale.specs import (
    AlgorithmDefinition,
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    MetricDefinition,
    TrainingJob,
    TuningJob,
)

__all__ = ["spec_from_response", "typed_value"]


def _json_or_raw(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def typed_value(rng: Any, raw: str) -> str | int | float | bool:
    """A tuned value as the range's type (``"0.1"`` → 0.1, ``'"adam"'`` → ``"adam"``)."""
    if isinstance(rng, IntegerParameter):
        return int(float(raw))
    if isinstance(rng, ContinuousParameter):
        return float(raw)
    if isinstance(rng, CategoricalParameter):
        for value in rng.values:
            plain = ("true" if value else "false") if isinstance(value, bool) else str(value)
            if raw in (json.dumps(value), plain):
                return value
    decoded = _json_or_raw(raw)
    return decoded if isinstance(decoded, (str, int, float, bool)) else raw


def _ranges(raw: dict[str, Any], framework: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in raw.get("IntegerParameterRanges", []):
        out[item["Name"]] = IntegerParameter(
            min_value=int(float(item["MinValue"])),
            max_value=int(float(item["MaxValue"])),
            scaling_type=item.get("ScalingType", "Auto"),
        )
    for item in raw.get("ContinuousParameterRanges", []):
        out[item["Name"]] = ContinuousParameter(
            min_value=float(item["MinValue"]),
            max_value=float(item["MaxValue"]),
            scaling_type=item.get("ScalingType", "Auto"),
        )
    for item in raw.get("CategoricalParameterRanges", []):
        values = [_json_or_raw(v) if framework else v for v in item["Values"]]
        out[item["Name"]] = CategoricalParameter(values=values)
    return out


def _training_job(definition: dict[str, Any]) -> TrainingJob:
    static: dict[str, str] = definition.get("StaticHyperParameters", {})
    framework = "sagemaker_program" in static
    algorithm = definition["AlgorithmSpecification"]
    resources = definition["ResourceConfig"]
    fields: dict[str, Any] = {
        "image_uri": algorithm["TrainingImage"],
        "role": definition["RoleArn"],
        "instance_type": resources["InstanceType"],
        "instance_count": resources["InstanceCount"],
        "volume_size_gb": resources["VolumeSizeInGB"],
        "output_path": definition["OutputDataConfig"]["S3OutputPath"],
        "max_run_seconds": definition["StoppingCondition"]["MaxRuntimeInSeconds"],
        "hyperparameters": decode_hyperparameters(static, framework=framework),
        "inputs": {
            c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
            for c in definition.get("InputDataConfig", [])
        },
    }
    if framework:
        fields["entry_point"] = _json_or_raw(static["sagemaker_program"])
        if "sagemaker_submit_directory" in static:
            fields["source_dir"] = _json_or_raw(static["sagemaker_submit_directory"])
    return TrainingJob(**fields)


def _metrics(definition: dict[str, Any]) -> list[MetricDefinition] | None:
    raw = definition["AlgorithmSpecification"].get("MetricDefinitions")
    return [MetricDefinition(name=m["Name"], regex=m["Regex"]) for m in raw] if raw else None


def spec_from_response(raw: dict[str, Any]) -> TuningJob:
    """The :class:`TuningJob` a described tuning job was created from (best effort: the
    rebuilt training jobs name their image and S3 source rather than a local folder)."""
    config = raw["HyperParameterTuningJobConfig"]
    limits = config.get("ResourceLimits", {})
    fields: dict[str, Any] = {
        "strategy": config.get("Strategy", "Bayesian"),
        "max_jobs": limits.get("MaxNumberOfTrainingJobs"),
        "max_parallel_jobs": limits.get("MaxParallelTrainingJobs", 1),
        "early_stopping_type": config.get("TrainingJobEarlyStoppingType", "Off"),
    }
    if raw.get("TrainingJobDefinition"):
        definition = raw["TrainingJobDefinition"]
        job = _training_job(definition)
        objective = config["HyperParameterTuningJobObjective"]
        fields["training_job"] = job
        fields["hyperparameter_ranges"] = _ranges(config["ParameterRanges"], job.uses_framework)
        fields["metric_definitions"] = _metrics(definition)
    else:
        definitions = raw["TrainingJobDefinitions"]
        objective = definitions[0]["TuningObjective"]
        fields["training_jobs"] = {}
        for item in definitions:
            job = _training_job(item)
            fields["training_jobs"][item["DefinitionName"]] = AlgorithmDefinition(
                training_job=job,
                hyperparameter_ranges=_ranges(item["HyperParameterRanges"], job.uses_framework),
                objective_metric_name=item["TuningObjective"]["MetricName"],
                metric_definitions=_metrics(item),
            )
    fields["objective_metric_name"] = objective["MetricName"]
    fields["objective_type"] = objective["Type"]
    return TuningJob(**fields)
