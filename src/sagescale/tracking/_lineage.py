"""Lineage: from a model artifact back to its job, data, code and parameters, and forwards."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sagescale.errors import NotFoundError, SpecError
from sagescale.tracking._model import ParameterValue, TrialComponentRecord
from sagescale.tracking.autotrack import (
    CODE_ENTRY_POINT,
    CODE_IMAGE_URI,
    CODE_SOURCE_DIR,
    MODEL_ARTIFACT,
    SYSTEM_PARAMETERS,
    TRAINING_JOB_TAG,
    TUNING_JOB_TAG,
    located,
)

if TYPE_CHECKING:
    from sagescale.tracking._store import ExperimentStore

__all__ = ["ModelLineage", "model_lineage", "models_trained_on"]

_CODE = (CODE_SOURCE_DIR, CODE_ENTRY_POINT, CODE_IMAGE_URI)


@dataclass(frozen=True)
class ModelLineage:
    """Where a model came from."""

    model_artifact: str
    trial_component_name: str
    training_job_name: str | None
    source_arn: str | None
    status: str | None
    input_data: dict[str, str] = field(default_factory=dict)
    code: dict[str, str] = field(default_factory=dict)
    hyperparameters: dict[str, ParameterValue] = field(default_factory=dict)
    tuning_job_name: str | None = None
    trials: tuple[str, ...] = ()
    experiments: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, object]:
        from dataclasses import asdict

        return asdict(self)


def _lineage(store: ExperimentStore, tc: TrialComponentRecord, model: str) -> ModelLineage:
    tuning = None
    for trial in store.list_trials(trial_component_name=tc.name):
        if TUNING_JOB_TAG in trial.tags:
            tuning = trial.tags[TUNING_JOB_TAG]
    return ModelLineage(
        model_artifact=model,
        trial_component_name=tc.name,
        training_job_name=tc.tags.get(TRAINING_JOB_TAG),
        source_arn=tc.source_arn,
        status=tc.status,
        input_data={k: a.value for k, a in tc.input_artifacts.items() if k not in _CODE},
        code={k: a.value for k, a in tc.input_artifacts.items() if k in _CODE},
        hyperparameters={k: v for k, v in tc.parameters.items() if k not in SYSTEM_PARAMETERS},
        tuning_job_name=tuning,
        trials=tc.trial_names,
        experiments=tc.experiment_names,
    )


def _model_of(tc: TrialComponentRecord) -> str | None:
    artifact = tc.output_artifacts.get(MODEL_ARTIFACT)
    return None if artifact is None else artifact.value


def _check_uri(value: object, field: str) -> None:
    if not isinstance(value, str) or not value:
        raise SpecError(f"{field}={value!r} must be a non-empty URI", field=field, value=value)


def model_lineage(
    model_artifact_uri: str, *, store: ExperimentStore | str | None = None
) -> ModelLineage:
    """Trace a model artifact URI back to its component, job, data, code and parameters."""
    from sagescale.tracking._store import get_store

    _check_uri(model_artifact_uri, "model_artifact_uri")
    s = get_store(store)
    found = s.trial_components_with_artifact(model_artifact_uri, direction="output")
    if not found and located(model_artifact_uri) != model_artifact_uri:
        model_artifact_uri = located(model_artifact_uri)
        found = s.trial_components_with_artifact(model_artifact_uri, direction="output")
    if not found:
        raise NotFoundError(f"no trial component produced the artifact {model_artifact_uri!r}")
    return _lineage(s, found[-1], model_artifact_uri)


def models_trained_on(
    dataset_uri: str, *, prefix: bool = True, store: ExperimentStore | str | None = None
) -> list[ModelLineage]:
    """Every model trained on a data set (input URIs equal to, or with ``prefix`` under, it)."""
    from sagescale.tracking._store import get_store

    _check_uri(dataset_uri, "dataset_uri")
    s = get_store(store)
    found = s.trial_components_with_artifact(dataset_uri, direction="input", prefix=prefix)
    if located(dataset_uri) != dataset_uri:  # a local path: as recorded, absolute
        names = {tc.name for tc in found}
        more = s.trial_components_with_artifact(
            located(dataset_uri), direction="input", prefix=prefix
        )
        found += [tc for tc in more if tc.name not in names]
    return [_lineage(s, tc, model) for tc in found if (model := _model_of(tc))]
