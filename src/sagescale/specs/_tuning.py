"""Hyperparameter ranges and the tuning job spec (``CreateHyperParameterTuningJob``)."""

from __future__ import annotations

import itertools
import json
import math
import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from sagescale.specs._base import SpecModel, SpecRule, warn_spec
from sagescale.specs._names import check_tuning_job_name, checked_name
from sagescale.specs._training import (
    MAX_HYPERPARAMETERS,
    MetricDefinition,
    TrainingJob,
    check_tags,
)

__all__ = [
    "AlgorithmDefinition",
    "CategoricalParameter",
    "CompletionCriteria",
    "ContinuousParameter",
    "HyperbandConfig",
    "IntegerParameter",
    "ParameterRange",
    "TuningJob",
    "WarmStartConfig",
]

ScalingType = Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]
MAX_RANGES = 30
MAX_CATEGORICAL_VALUES = 30
ADVISED_MAX_RANGES = 20
MAX_TRAINING_JOBS = 10_000  # the largest max_jobs, so also the largest grid
MAX_VALUE_LENGTH = 256  # ParameterValue and ParameterKey in the SageMaker API
_DEFINITION_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,63}$")
# what the SageMaker SDK's tuner adds to a framework job's static hyperparameters
TUNER_ADDED = 2


class _NumericRange(SpecModel):
    scaling_type: ScalingType = "Auto"

    def _check_bounds(self, low: float, high: float) -> None:
        if not low < high:
            raise SpecRule(f"must be less than max_value ({high})", field="min_value", value=low)
        if self.scaling_type == "Logarithmic" and low <= 0:
            raise SpecRule(
                "scaling_type Logarithmic needs min_value > 0", field="min_value", value=low
            )
        if self.scaling_type == "Linear" and low > 0 and high / low >= 1000:
            warn_spec(
                f"linear range [{low}, {high}] spans {math.log10(high / low):.1f} orders of "
                "magnitude: consider scaling_type Logarithmic"
            )

    def request_range(self, name: str) -> dict[str, str]:
        low, high = self.bounds()
        return {
            "Name": name,
            "MinValue": _number(low),
            "MaxValue": _number(high),
            "ScalingType": self.scaling_type,
        }

    def bounds(self) -> tuple[float, float]:
        raise NotImplementedError


class IntegerParameter(_NumericRange):
    """Integers in ``[min_value, max_value]``."""

    type: Literal["integer"] = "integer"
    min_value: int
    max_value: int

    @model_validator(mode="after")
    def _bounds(self) -> IntegerParameter:
        if self.scaling_type == "ReverseLogarithmic":
            raise SpecRule(
                "ReverseLogarithmic is only for continuous ranges",
                field="scaling_type",
                value=self.scaling_type,
            )
        self._check_bounds(self.min_value, self.max_value)
        return self

    def bounds(self) -> tuple[float, float]:
        return float(self.min_value), float(self.max_value)


class ContinuousParameter(_NumericRange):
    """Real numbers in ``[min_value, max_value]``."""

    type: Literal["continuous"] = "continuous"
    min_value: float
    max_value: float

    @model_validator(mode="after")
    def _bounds(self) -> ContinuousParameter:
        for field in ("min_value", "max_value"):
            if not math.isfinite(getattr(self, field)):
                raise SpecRule("must be finite", field=field, value=getattr(self, field))
        self._check_bounds(self.min_value, self.max_value)
        if self.scaling_type == "ReverseLogarithmic":
            rule = "scaling_type ReverseLogarithmic needs 0 <= min_value and max_value < 1"
            if self.min_value < 0:
                raise SpecRule(rule, field="min_value", value=self.min_value)
            if self.max_value >= 1:
                raise SpecRule(rule, field="max_value", value=self.max_value)
        return self

    def bounds(self) -> tuple[float, float]:
        return self.min_value, self.max_value


class CategoricalParameter(SpecModel):
    """One of ``values``."""

    type: Literal["categorical"] = "categorical"
    values: list[str | int | float | bool] = Field(min_length=1)

    @field_validator("values")
    @classmethod
    def _values(cls, value: list[str | int | float | bool]) -> list[str | int | float | bool]:
        if len(value) > MAX_CATEGORICAL_VALUES:
            raise SpecRule(
                f"at most {MAX_CATEGORICAL_VALUES} categorical values are allowed, got {len(value)}"
            )
        if len({json.dumps(v) for v in value}) != len(value):
            raise SpecRule("values must be distinct")
        for index, item in enumerate(value):
            if len(json.dumps(item)) > MAX_VALUE_LENGTH:
                raise SpecRule(
                    f"a categorical value must be at most {MAX_VALUE_LENGTH} characters as sent "
                    "(JSON-encoded for a framework job)",
                    field=f"[{index}]",
                    value=item,
                )
        return value

    def request_range(self, name: str, *, json_encode: bool) -> dict[str, Any]:
        encode = json.dumps if json_encode else _plain
        return {"Name": name, "Values": [encode(v) for v in self.values]}


ParameterRange = Annotated[
    IntegerParameter | ContinuousParameter | CategoricalParameter, Field(discriminator="type")
]


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _plain(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class WarmStartConfig(SpecModel):
    """Start from the evaluations of 1-5 earlier tuning jobs."""

    warm_start_type: Literal["IdenticalDataAndAlgorithm", "TransferLearning"] = (
        "IdenticalDataAndAlgorithm"
    )
    parents: list[str] = Field(min_length=1, max_length=5)

    @field_validator("parents")
    @classmethod
    def _parents(cls, value: list[str]) -> list[str]:
        for name in value:
            check_tuning_job_name(name)
        return value


class CompletionCriteria(SpecModel):
    """When a tuning job stops before ``max_jobs``."""

    target_objective_value: float | None = None
    max_jobs_not_improving: int | None = Field(default=None, ge=3)
    complete_on_convergence: bool = False


class HyperbandConfig(SpecModel):
    """Resource bounds (epochs) for the Hyperband strategy."""

    min_resource: int = Field(default=1, ge=1)
    max_resource: int = Field(ge=1)

    @model_validator(mode="after")
    def _order(self) -> HyperbandConfig:
        if self.min_resource >= self.max_resource:
            raise SpecRule(
                f"must be less than max_resource ({self.max_resource})",
                field="min_resource",
                value=self.min_resource,
            )
        return self


class AlgorithmDefinition(SpecModel):
    """One training job definition of a multi-algorithm tuning job."""

    training_job: TrainingJob
    hyperparameter_ranges: dict[str, ParameterRange] = Field(min_length=1)
    objective_metric_name: str | None = Field(default=None, min_length=1, max_length=255)
    metric_definitions: list[MetricDefinition] | None = None


class TuningJob(SpecModel):
    """A hyperparameter tuning job: one training job definition, or up to 10 named ones."""

    base_tuning_job_name: str | None = None
    training_job: TrainingJob | None = None
    training_jobs: dict[str, AlgorithmDefinition] | None = None
    objective_metric_name: str = Field(min_length=1, max_length=255)
    objective_type: Literal["Maximize", "Minimize"] = "Maximize"
    metric_definitions: list[MetricDefinition] | None = None
    hyperparameter_ranges: dict[str, ParameterRange] = Field(default_factory=dict)
    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian"
    max_jobs: int | None = Field(default=None, ge=1, le=MAX_TRAINING_JOBS)
    max_parallel_jobs: int = Field(default=1, ge=1, le=100)
    max_runtime_seconds: int | None = Field(default=None, ge=120, le=15_768_000)
    early_stopping_type: Literal["Off", "Auto"] = "Off"
    warm_start_config: WarmStartConfig | None = None
    completion_criteria: CompletionCriteria | None = None
    hyperband: HyperbandConfig | None = None
    random_seed: int | None = Field(default=None, ge=0, le=2**31 - 1)
    tags: dict[str, str] = Field(default_factory=dict)

    @field_validator("base_tuning_job_name")
    @classmethod
    def _base(cls, value: str | None) -> str | None:
        return None if value is None else check_tuning_job_name(value)

    @field_validator("tags")
    @classmethod
    def _tags(cls, value: dict[str, str]) -> dict[str, str]:
        return check_tags(value)

    @field_validator("training_jobs")
    @classmethod
    def _definition_names(
        cls, value: dict[str, AlgorithmDefinition] | None
    ) -> dict[str, AlgorithmDefinition] | None:
        for name in value or {}:
            if not _DEFINITION_NAME.fullmatch(name):
                raise SpecRule(
                    "a definition name must be 1-64 letters, digits and hyphens, start with a "
                    "letter or digit and not end with a hyphen",
                    value=name,
                )
        return value

    @model_validator(mode="after")
    def _rules(self) -> TuningJob:
        self._check_definitions()
        self._check_single_algorithm()
        for name, definition in self.definitions().items():
            self._check_ranges(name, dict(definition.hyperparameter_ranges))
            self._check_sent(name, definition)
        self._check_strategy()
        return self

    def _check_definitions(self) -> None:
        if (self.training_job is None) == (self.training_jobs is None):
            raise SpecRule(
                "give exactly one of training_job or training_jobs",
                field="training_job",
                value=self.training_job,
            )
        if self.training_jobs is not None:
            if not 1 <= len(self.training_jobs) <= 10:
                raise SpecRule(
                    f"takes 1-10 training job definitions, got {len(self.training_jobs)}",
                    field="training_jobs",
                    value=sorted(self.training_jobs),
                )
            if self.hyperparameter_ranges:
                raise SpecRule(
                    "with training_jobs, put hyperparameter_ranges inside each definition",
                    field="hyperparameter_ranges",
                    value=sorted(self.hyperparameter_ranges),
                )
        elif not self.hyperparameter_ranges:
            raise SpecRule("needs at least one range", field="hyperparameter_ranges", value={})

    def _check_single_algorithm(self) -> None:
        """SageMaker: "Warm start and early stopping are available only when you're tuning a
        single algorithm" (CreateHyperParameterTuningJob rejects the request)."""
        count = len(self.training_jobs or {})
        if count <= 1:
            return
        rule = (
            f"warm start and early stopping are available only when tuning a single algorithm "
            f"(SageMaker's rule); this tuning job has {count} training job definitions"
        )
        if self.early_stopping_type != "Off":
            raise SpecRule(
                f"{rule}: set early_stopping_type Off",
                field="early_stopping_type",
                value=self.early_stopping_type,
            )
        if self.warm_start_config is not None:
            raise SpecRule(
                f"{rule}: remove warm_start_config (parents {self.warm_start_config.parents})",
                field="warm_start_config",
                value=self.warm_start_config.model_dump(),
            )

    def _check_ranges(self, definition: str | None, ranges: dict[str, Any]) -> None:
        where = f"training_jobs.{definition}." if definition else ""
        if len(ranges) > MAX_RANGES:
            raise SpecRule(
                f"at most {MAX_RANGES} ranges are allowed, got {len(ranges)}",
                field=f"{where}hyperparameter_ranges",
                value=sorted(ranges),
            )
        for name in ranges:
            if not 1 <= len(name) <= MAX_VALUE_LENGTH:
                raise SpecRule(
                    f"a tuned hyperparameter name must be 1-{MAX_VALUE_LENGTH} characters",
                    field=f"{where}hyperparameter_ranges",
                    value=name,
                )
        if len(ranges) > ADVISED_MAX_RANGES:
            warn_spec(
                f"{len(ranges)} tuned hyperparameters: SageMaker advises at most "
                f"{ADVISED_MAX_RANGES}; the search needs far more jobs to converge"
            )

    def _check_sent(self, name: str | None, definition: AlgorithmDefinition) -> None:
        """Each training job the tuner starts gets static + tuned hyperparameters (<= 100)."""
        job = definition.training_job
        static = job.sagemaker_hyperparameters(
            job_name=None, submit_directory="s3://b/sourcedir.tar.gz", region="us-east-1"
        )
        total = len(set(static) | set(definition.hyperparameter_ranges))
        total += TUNER_ADDED if job.uses_framework else 0
        if total > MAX_HYPERPARAMETERS:
            where = f"training_jobs.{name}." if name else ""
            raise SpecRule(
                f"each training job would get {total} hyperparameters (static, tuned and "
                f"those SageMaker tooling adds); SageMaker takes at most {MAX_HYPERPARAMETERS}",
                field=f"{where}hyperparameter_ranges",
                value=len(definition.hyperparameter_ranges),
            )

    def _check_strategy(self) -> None:
        if self.strategy == "Grid":
            self._check_grid()
        if self.strategy == "Hyperband" and self.early_stopping_type != "Off":
            raise SpecRule(
                "must be Off with strategy Hyperband",
                field="early_stopping_type",
                value=self.early_stopping_type,
            )
        if self.hyperband is not None and self.strategy != "Hyperband":
            raise SpecRule(
                "hyperband settings need strategy Hyperband", field="strategy", value=self.strategy
            )

    def _check_grid(self) -> None:
        for definition, ranges in self.ranges_by_definition().items():
            where = f"training_jobs.{definition}." if definition else ""
            for name, rng in ranges.items():
                if not isinstance(rng, CategoricalParameter):
                    raise SpecRule(
                        "strategy Grid takes categorical ranges only",
                        field=f"{where}hyperparameter_ranges.{name}.type",
                        value=rng.type,
                    )
        combos = self.grid_size()
        if combos > MAX_TRAINING_JOBS:
            raise SpecRule(
                f"strategy Grid runs every combination once: {combos} combinations, more than "
                f"the {MAX_TRAINING_JOBS} training jobs a tuning job may start",
                field="training_jobs" if self.training_jobs else "hyperparameter_ranges",
                value=combos,
            )
        if self.max_jobs is not None and self.max_jobs != combos:
            raise SpecRule(
                f"strategy Grid needs max_jobs equal to the number of combinations ({combos})",
                field="max_jobs",
                value=self.max_jobs,
            )

    # ---- derived values ----------------------------------------------------------------
    def definitions(self) -> dict[str | None, AlgorithmDefinition]:
        """Every training job definition; a single job is keyed ``None``."""
        if self.training_jobs is not None:
            return dict(self.training_jobs.items())
        assert self.training_job is not None
        single = AlgorithmDefinition.model_construct(
            training_job=self.training_job,
            hyperparameter_ranges=self.hyperparameter_ranges,
            objective_metric_name=None,
            metric_definitions=self.metric_definitions,
        )
        return {None: single}

    def ranges_by_definition(self) -> dict[str | None, dict[str, Any]]:
        if self.training_jobs is not None:
            return {k: dict(v.hyperparameter_ranges) for k, v in self.training_jobs.items()}
        return {None: dict(self.hyperparameter_ranges)}

    def grid_size(self) -> int:
        """The number of combinations of every categorical range (Grid strategy)."""
        total = 0
        for ranges in self.ranges_by_definition().values():
            total += math.prod(
                len(r.values) for r in ranges.values() if isinstance(r, CategoricalParameter)
            )
        return total

    def grid(self) -> list[tuple[str | None, dict[str, Any]]]:
        """Every combination once, per definition (Grid strategy)."""
        out: list[tuple[str | None, dict[str, Any]]] = []
        for definition, ranges in self.ranges_by_definition().items():
            names = sorted(ranges)
            for combo in itertools.product(*(ranges[n].values for n in names)):
                out.append((definition, dict(zip(names, combo, strict=True))))
        return out

    def effective_max_jobs(self) -> int:
        if self.max_jobs is not None:
            return self.max_jobs
        return self.grid_size() if self.strategy == "Grid" else 1

    def to_request(
        self,
        *,
        tuning_job_name: str,
        region: str = "us-east-1",
        role: str | None = None,
        submit_directory: str | None = None,
        default_bucket: str | None = None,
        inputs: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """Render ``CreateHyperParameterTuningJob``."""
        from sagescale.specs._render_tuning import render_tuning_job

        return render_tuning_job(
            self,
            tuning_job_name=checked_name(check_tuning_job_name, tuning_job_name, "tuning_job_name"),
            region=region,
            role=role,
            submit_directory=submit_directory,
            default_bucket=default_bucket,
            inputs=inputs,
        )
