"""Warm start: reuse the evaluations of 1-5 parent tuning jobs stored in the workspace.

- ``IdenticalDataAndAlgorithm``: every parent must have the same tuned hyperparameter names
  and the same static hyperparameters per definition, and the same objective. Its
  evaluations are reused as they are; those outside the new ranges are skipped.
- ``TransferLearning``: ranges may change and new hyperparameters may appear. An evaluation
  is reused when its values lie inside the new ranges; a hyperparameter the parent did not
  tune takes the parent's static value when it had one, else the middle of the new range.

With either type, a hyperparameter tuned by a parent and by the child keeps its type
(Integer, Continuous, Categorical), as SageMaker requires; a change is a ``SpecError``.
Parents must have ended (Completed, Stopped or Failed). When they hold evaluations that
reported the objective but none can be reused (other definitions, outside the new ranges),
``fit()`` emits a :class:`SpecWarning` saying how many were found and why none were used.
Only jobs that reported the objective are reused. Parent evaluations inform the search;
they are not training jobs of the new tuning job and do not count towards its ``max_jobs``
or its best training job.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

from sagescale.errors import NotFoundError, SpecError
from sagescale.specs import SpecWarning, TuningJob
from sagescale.tuning._search import Searcher
from sagescale.tuning._service import TrainingJobSummary, TuningJobDescription
from sagescale.tuning._space import SearchSpace
from sagescale.tuning._store import TuningStore

__all__ = ["apply_warm_start", "check_parents", "check_warm_start"]

PARENTS = "warm_start_config.parents"
TYPE = "warm_start_config.warm_start_type"


def _static(spec: TuningJob, definition: str | None) -> dict[str, Any]:
    algorithm = spec.definitions().get(definition)
    if algorithm is None:
        return {}
    tuned = set(algorithm.hyperparameter_ranges)
    return {k: v for k, v in algorithm.training_job.hyperparameters.items() if k not in tuned}


def _load_parent(store: TuningStore, name: str) -> TuningJobDescription:
    try:
        parent = store.get(name)
    except NotFoundError:
        raise SpecError(
            f"warm start parent {name!r} is not a tuning job of this workspace",
            field=PARENTS,
            value=name,
        ) from None
    if not parent.done:
        raise SpecError(
            f"warm start parent {name!r} is {parent.status}; it must have ended",
            field=PARENTS,
            value=name,
        )
    return parent


def _check_identical(spec: TuningJob, parent: TuningJobDescription) -> None:
    mine, theirs = spec.ranges_by_definition(), parent.spec.ranges_by_definition()
    for definition, ranges in mine.items():
        if definition not in theirs:
            continue
        if set(ranges) != set(theirs[definition]):
            raise SpecError(
                f"warm start IdenticalDataAndAlgorithm: parent {parent.name} tunes "
                f"{sorted(theirs[definition])}, this job tunes {sorted(ranges)} "
                "(use TransferLearning to change the tuned hyperparameters)",
                field=TYPE,
                value=parent.name,
            )
        if _static(spec, definition) != _static(parent.spec, definition):
            raise SpecError(
                f"warm start IdenticalDataAndAlgorithm: static hyperparameters differ from "
                f"parent {parent.name} (use TransferLearning)",
                field=TYPE,
                value=parent.name,
            )


def _range_type(rng: Any) -> str:
    """SageMaker's name of a range's type: Integer, Continuous or Categorical."""
    return str(rng.type).capitalize()


def _check_types(spec: TuningJob, parent: TuningJobDescription) -> None:
    """SageMaker: a tuned hyperparameter keeps its type (Integer, Continuous, Categorical)
    between parent and child tuning jobs, with either warm start type."""
    mine, theirs = spec.ranges_by_definition(), parent.spec.ranges_by_definition()
    for definition, ranges in mine.items():
        for name, rng in ranges.items():
            before = theirs.get(definition, {}).get(name)
            if before is None or before.type == rng.type:
                continue
            where = f"training_jobs.{definition}." if definition else ""
            raise SpecError(
                f"{where}hyperparameter_ranges.{name}.type = {rng.type!r}: hyperparameter "
                f"{name!r} is {_range_type(before)} in warm start parent {parent.name!r} and "
                f"{_range_type(rng)} here; a tuned hyperparameter must keep its type between "
                "parent and child tuning jobs (SageMaker's warm start rule)",
                field=f"{where}hyperparameter_ranges.{name}.type",
                value=rng.type,
            )


def _check_objective(spec: TuningJob, parent: TuningJobDescription) -> None:
    if (spec.objective_metric_name, spec.objective_type) != (
        parent.spec.objective_metric_name,
        parent.spec.objective_type,
    ):
        raise SpecError(
            f"warm start parent {parent.name} optimizes {parent.spec.objective_type} "
            f"{parent.spec.objective_metric_name!r}; this job optimizes {spec.objective_type} "
            f"{spec.objective_metric_name!r}",
            field=PARENTS,
            value=parent.name,
        )


def _transfer_values(
    space: SearchSpace, job: TrainingJobSummary, parent_static: dict[str, Any]
) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, dim in space.dimensions.items():
        if name in job.hyperparameters:
            values[name] = job.hyperparameters[name]
        elif name in parent_static and dim.to_internal(parent_static[name]) is not None:
            values[name] = dim.to_value(dim.to_internal(parent_static[name]))
        else:
            values[name] = dim.midpoint()
    return values


def check_parents(spec: TuningJob, store: TuningStore) -> list[TuningJobDescription]:
    """Load and check every parent (raises :class:`SpecError` before anything runs)."""
    config = spec.warm_start_config
    if config is None:
        return []
    parents = []
    for name in config.parents:
        parent = _load_parent(store, name)
        _check_objective(spec, parent)
        _check_types(spec, parent)
        if config.warm_start_type == "IdenticalDataAndAlgorithm":
            _check_identical(spec, parent)
        parents.append(parent)
    return parents


@dataclass
class _Evaluations:
    """What the parents hold and what of it this tuning job can reuse."""

    found: int = 0  # evaluations that reported the objective
    reusable: list[tuple[str | None, dict[str, Any], TrainingJobSummary]] = field(
        default_factory=list
    )
    other_definitions: int = 0  # of a definition this tuning job does not have
    parent_definitions: set[str | None] = field(default_factory=set)
    outside: int = 0  # outside this tuning job's ranges


def _evaluations(
    spec: TuningJob,
    store: TuningStore,
    parents: list[TuningJobDescription],
    spaces: dict[str | None, SearchSpace],
) -> _Evaluations:
    config = spec.warm_start_config
    transfer = config is not None and config.warm_start_type == "TransferLearning"
    out = _Evaluations()
    for parent in parents:
        for job in store.jobs(parent.name):
            if job.objective_status != "Succeeded":
                continue
            out.found += 1
            space = spaces.get(job.definition_name)
            if space is None:
                out.other_definitions += 1
                out.parent_definitions.add(job.definition_name)
                continue
            values: dict[str, Any] = job.hyperparameters
            if transfer:
                values = _transfer_values(space, job, _static(parent.spec, job.definition_name))
            if space.to_internal(dict(values)) is None:
                out.outside += 1
                continue
            out.reusable.append((job.definition_name, values, job))
    return out


def _definitions(names: set[str | None]) -> str:
    if names == {None}:
        return "a single training job"
    return str(sorted(str(n) for n in names))


def check_warm_start(spec: TuningJob, store: TuningStore) -> list[TuningJobDescription]:
    """:func:`check_parents`, and a :class:`SpecWarning` when the parents hold evaluations
    that reported the objective but none of them can be reused (the search starts cold)."""
    parents = check_parents(spec, store)
    if not parents:
        return parents
    spaces = {d: SearchSpace(r) for d, r in spec.ranges_by_definition().items()}
    found = _evaluations(spec, store, parents, spaces)
    if found.found and not found.reusable:
        reasons = []
        if found.other_definitions:
            reasons.append(
                f"{found.other_definitions} belong to training job definitions this tuning job "
                f"does not have (parents: {_definitions(found.parent_definitions)}; this "
                f"tuning job: {_definitions(set(spaces))})"
            )
        if found.outside:
            reasons.append(f"{found.outside} lie outside this tuning job's hyperparameter ranges")
        names = [p.name for p in parents]
        warnings.warn(
            f"warm start reuses none of the {found.found} completed evaluations of parents "
            f"{names}: {'; '.join(reasons)}; the search starts as if without warm start",
            SpecWarning,
            stacklevel=3,
        )
    return parents


def apply_warm_start(spec: TuningJob, searcher: Searcher, store: TuningStore) -> int:
    """Replay the parents' evaluations into ``searcher``; the number reused."""
    parents = check_parents(spec, store)
    if not parents:
        return 0
    reused = 0
    for definition, values, job in _evaluations(spec, store, parents, searcher.spaces).reusable:
        reused += searcher.add_finished(
            definition, values, job.final_objective, job.curve, count=False
        )
    return reused
