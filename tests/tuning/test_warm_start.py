"""Warm start: a tuned hyperparameter keeps its type between parent and child."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sagescale.errors import SpecError
from sagescale.specs import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    TrainingJob,
    WarmStartConfig,
)
from sagescale.tuning import HyperparameterTuner

from ._fakes import ThreadBackend

Make = Callable[..., HyperparameterTuner]
X = {"x": ContinuousParameter(min_value=0.0, max_value=1.0)}
KINDS = ["IdenticalDataAndAlgorithm", "TransferLearning"]


def _parent(make_tuner: Make, ranges: dict[str, Any], max_jobs: int = 3) -> str:
    tuner = make_tuner(strategy="Random", hyperparameter_ranges=ranges, max_jobs=max_jobs)
    return tuner.fit().name


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize(
    ("parent_range", "child_range", "types"),
    [
        (
            ContinuousParameter(min_value=0.0, max_value=1.0),
            IntegerParameter(min_value=0, max_value=1),
            ("Continuous", "Integer"),
        ),
        (
            IntegerParameter(min_value=0, max_value=1),
            ContinuousParameter(min_value=0.0, max_value=1.0),
            ("Integer", "Continuous"),
        ),
        (
            CategoricalParameter(values=[0.1, 0.3, 0.9]),
            ContinuousParameter(min_value=0.0, max_value=1.0),
            ("Categorical", "Continuous"),
        ),
    ],
)
def test_a_tuned_hyperparameter_keeps_its_type(
    make_tuner: Make,
    backend: ThreadBackend,
    kind: str,
    parent_range: Any,
    child_range: Any,
    types: tuple[str, str],
) -> None:
    """The parent's evaluations of another type were dropped silently (Continuous ->
    Integer) or even reused (Integer -> Continuous); SageMaker refuses the child."""
    parent = _parent(make_tuner, {"x": parent_range})
    submitted = list(backend.submitted)
    child = make_tuner(
        hyperparameter_ranges={"x": child_range},
        strategy="Random",
        max_jobs=1,
        warm_start_config=WarmStartConfig(warm_start_type=kind, parents=[parent]),
    )
    with pytest.raises(SpecError) as info:
        child.fit()
    err = info.value
    assert err.field == "hyperparameter_ranges.x.type"
    assert err.value == types[1].lower()
    message = str(err)
    assert "'x'" in message and parent in message
    assert f"{types[0]} in warm start parent" in message and f"{types[1]} here" in message
    # rejected before anything ran or was recorded
    assert backend.submitted == submitted
    assert {d.name for d in child.store.all()} == {parent}


def test_a_type_change_in_a_definition_names_it(make_tuner: Make, backend: ThreadBackend) -> None:
    job = TrainingJob(entry_point="quad.py", framework="pytorch", hyperparameters={"epochs": 2})

    def tuner(rng: Any, **kwargs: Any) -> HyperparameterTuner:
        made = HyperparameterTuner(
            {"quad": job},
            objective_metric_name="score",
            hyperparameter_ranges={"quad": {"x": rng}},
            strategy="Random",
            backend=backend,
            **kwargs,
        )
        made.poll_interval = 0.005
        return made

    parent = tuner(X["x"], max_jobs=2).fit().name
    child = tuner(
        CategoricalParameter(values=[0.1, 0.2]),
        max_jobs=1,
        warm_start_config=WarmStartConfig(warm_start_type="TransferLearning", parents=[parent]),
    )
    with pytest.raises(SpecError, match="Continuous in warm start parent") as info:
        child.fit()
    assert info.value.field == "training_jobs.quad.hyperparameter_ranges.x.type"
