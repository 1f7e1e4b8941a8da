"""Warm start: a tuned hyperparameter keeps its type between parent and child, and a child
that can reuse none of its parents' evaluations says so."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from sagescale.errors import SpecError
from sagescale.specs import (
    CategoricalParameter,
    ContinuousParameter,
    IntegerParameter,
    SpecWarning,
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


def test_no_reusable_evaluation_from_several_algorithms_warns(
    make_tuner: Make, backend: ThreadBackend
) -> None:
    """A parent with several algorithms, a child with one: nothing matched and the child
    started cold without a word."""
    jobs = {
        "quad": TrainingJob(entry_point="quad.py", framework="pytorch"),
        "lin": TrainingJob(entry_point="quad.py", framework="pytorch"),
    }
    parent = HyperparameterTuner(
        jobs,
        objective_metric_name="score",
        hyperparameter_ranges={"quad": X, "lin": X},
        strategy="Random",
        max_jobs=4,
        backend=backend,
    )
    parent.poll_interval = 0.005
    name = parent.fit().name
    child = make_tuner(
        hyperparameter_ranges=X,
        strategy="Random",
        max_jobs=1,
        warm_start_config=WarmStartConfig(warm_start_type="TransferLearning", parents=[name]),
    )
    with pytest.warns(SpecWarning, match="none of the 4 completed evaluations") as caught:
        desc = child.fit()
    message = str(caught[0].message)
    assert name in message
    assert "4 belong to training job definitions this tuning job does not have" in message
    assert "['lin', 'quad']" in message and "a single training job" in message
    assert desc.status == "Completed"  # a warning, not an error: the child still runs


def test_no_evaluation_inside_the_new_ranges_warns(make_tuner: Make) -> None:
    parent = _parent(make_tuner, X)
    child = make_tuner(
        hyperparameter_ranges={"x": ContinuousParameter(min_value=2.0, max_value=3.0)},
        strategy="Random",
        max_jobs=1,
        warm_start_config=WarmStartConfig(parents=[parent]),
    )
    with pytest.warns(SpecWarning, match="none of the 3 completed evaluations") as caught:
        child.fit()
    assert "3 lie outside this tuning job's hyperparameter ranges" in str(caught[0].message)


def test_parents_without_completed_evaluations_do_not_warn(
    make_tuner: Make, backend: ThreadBackend
) -> None:
    """Nothing to reuse is not a surprise when the parent reported no objective at all."""
    failed = make_tuner(
        entry_point="fail.py", strategy="Random", hyperparameter_ranges=X, max_jobs=3
    ).fit()
    assert failed.status == "Failed"
    child = make_tuner(
        hyperparameter_ranges=X,
        strategy="Random",
        max_jobs=1,
        warm_start_config=WarmStartConfig(parents=[failed.name]),
    )
    assert child.fit().status == "Completed"  # filterwarnings=error: no warning was emitted
