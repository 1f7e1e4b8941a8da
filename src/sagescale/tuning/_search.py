"""The search loop's brain: Optuna studies that suggest hyperparameters and stop jobs early.

One in-memory Optuna study per training job definition. Trials are asked in order; with
several definitions the ``i``-th training job uses definition ``i mod n`` (round robin), so
every definition gets the same share of the budget. Completed evaluations of earlier runs
(warm start, resume) are replayed into the studies with :meth:`Searcher.add_finished`.

Strategies:

- ``Bayesian``: :class:`optuna.samplers.GPSampler` (needs ``torch``); the first
  ``n_startup`` suggestions are random; pending (running) jobs are accounted for by the GP
  acquisition function.
- ``Random``: :class:`optuna.samplers.RandomSampler`.
- ``Grid``: every combination of the categorical ranges once, in an order shuffled by
  ``random_seed`` (spec order without a seed).
- ``Hyperband``: random sampling and asynchronous successive halving
  (:class:`optuna.pruners.SuccessiveHalvingPruner`, reduction factor 3) over epochs between
  ``min_resource`` and ``max_resource``.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import optuna
from optuna.pruners import BasePruner, NopPruner, SuccessiveHalvingPruner
from optuna.samplers import BaseSampler, RandomSampler
from optuna.trial import TrialState, create_trial

from sagescale._imports import optional_import
from sagescale.specs import TuningJob
from sagescale.tuning._median import WARM_START_ATTR, MedianStoppingPruner
from sagescale.tuning._space import SearchSpace, Value

__all__ = ["HYPERBAND_REDUCTION_FACTOR", "Searcher", "Suggestion", "default_startup_trials"]

HYPERBAND_REDUCTION_FACTOR = 3
SamplerFactory = Callable[[int | None], BaseSampler]

optuna.logging.set_verbosity(optuna.logging.WARNING)


def default_startup_trials(max_jobs: int) -> int:
    """Random suggestions before the Gaussian process takes over: ``max_jobs // 5`` in 3..10."""
    return min(10, max(3, max_jobs // 5))


@dataclass
class Suggestion:
    """One training job to run: its definition, hyperparameter values and Optuna trial."""

    definition: str | None
    values: dict[str, Value]
    trial: optuna.Trial
    reported: int = 0

    def key(self) -> str:
        return _key(self.definition, self.values)


def _key(definition: str | None, values: Mapping[str, Any]) -> str:
    return json.dumps([definition, sorted(values.items())], default=str)


def _bayesian_sampler(seed: int | None, startup: int) -> BaseSampler:
    optional_import("torch", purpose="strategy Bayesian (Gaussian-process sampler)")
    optional_import("scipy", purpose="strategy Bayesian (Gaussian-process sampler)")
    return optuna.samplers.GPSampler(
        seed=seed, n_startup_trials=startup, warn_independent_sampling=False
    )


class Searcher:
    """Suggests hyperparameters for the training jobs of one tuning job."""

    def __init__(
        self,
        spec: TuningJob,
        *,
        sampler_factory: SamplerFactory | None = None,
        n_startup: int | None = None,
    ) -> None:
        self.spec = spec
        self.maximize = spec.objective_type == "Maximize"
        self.spaces = {d: SearchSpace(r) for d, r in spec.ranges_by_definition().items()}
        self.order = list(self.spaces)
        self._startup = n_startup or default_startup_trials(spec.effective_max_jobs())
        self._sampler_factory = sampler_factory
        seed = spec.random_seed
        self.studies: dict[str | None, optuna.Study] = {}
        for i, definition in enumerate(self.order):
            self.studies[definition] = optuna.create_study(
                direction="maximize" if self.maximize else "minimize",
                sampler=self._new_sampler(None if seed is None else seed + i),
                pruner=self._pruner(),
            )
        self._grid = spec.grid() if spec.strategy == "Grid" else []
        if self._grid and seed is not None:
            random.Random(seed).shuffle(self._grid)
        self._grid_keys = [_key(d, v) for d, v in self._grid]
        # every grid point before the cursor is used: ``_used`` only grows, so the first
        # unused point never moves back and each ask is O(1) amortised (resumed jobs replayed
        # out of order are skipped when the cursor reaches them)
        self._cursor = 0
        self._used: set[str] = set()
        self.asked = 0

    def _new_sampler(self, seed: int | None) -> BaseSampler:
        if self._sampler_factory is not None:
            return self._sampler_factory(seed)
        if self.spec.strategy == "Bayesian":
            return _bayesian_sampler(seed, self._startup)
        return RandomSampler(seed=seed)

    def resumed(self) -> None:
        """Call after replaying the jobs of an interrupted run: a seeded sampler starts its
        random stream again, so without a new seed it would suggest what the first jobs
        already tried. The new seed depends on the seed and the jobs replayed only, so a
        resume from the same point suggests the same values."""
        seed = self.spec.random_seed
        if seed is None or self.asked == 0 or self.spec.strategy == "Grid":
            return
        for i, definition in enumerate(self.order):
            new_seed = random.Random(f"{seed}/{i}/{self.asked}").randrange(2**31)
            self.studies[definition].sampler = self._new_sampler(new_seed)

    def _pruner(self) -> BasePruner:
        if self.spec.strategy == "Hyperband":
            return SuccessiveHalvingPruner(
                min_resource=self.spec.hyperband.min_resource if self.spec.hyperband else 1,
                reduction_factor=HYPERBAND_REDUCTION_FACTOR,
            )
        if self.spec.early_stopping_type == "Auto":
            return MedianStoppingPruner()
        return NopPruner()

    # ---- asking ------------------------------------------------------------------------
    def _next_grid_point(self) -> int | None:
        """The index of the first grid point not used yet, or ``None``."""
        keys, used = self._grid_keys, self._used
        while self._cursor < len(keys) and keys[self._cursor] in used:
            self._cursor += 1
        return self._cursor if self._cursor < len(keys) else None

    def exhausted(self) -> bool:
        """Grid only: every combination was tried."""
        return self.spec.strategy == "Grid" and self._next_grid_point() is None

    def ask(self) -> Suggestion | None:
        """The next training job, or ``None`` when the grid is exhausted."""
        if self.spec.strategy == "Grid":
            index = self._next_grid_point()
            if index is None:
                return None
            definition, values = self._grid[index]
            return self.ask_fixed(definition, values)
        definition = self.order[self.asked % len(self.order)]
        space = self.spaces[definition]
        trial = self.studies[definition].ask(space.distributions())
        return self._record(Suggestion(definition, space.to_values(trial.params), trial))

    def ask_fixed(self, definition: str | None, values: Mapping[str, Any]) -> Suggestion:
        """A trial with given values (grid points, jobs still running when resuming)."""
        space = self.spaces[definition]
        internal = space.to_internal(dict(values))
        if internal is None:
            raise ValueError(f"values {dict(values)} are outside the search space")
        study = self.studies[definition]
        study.enqueue_trial(internal, skip_if_exists=False)
        trial = study.ask(space.distributions())
        return self._record(Suggestion(definition, space.to_values(trial.params), trial))

    def _record(self, suggestion: Suggestion) -> Suggestion:
        self._used.add(suggestion.key())
        self.asked += 1
        return suggestion

    # ---- results -----------------------------------------------------------------------
    def report(self, suggestion: Suggestion, curve: Mapping[int, float]) -> bool:
        """Report new epochs of ``curve``; whether the job should be stopped now."""
        stop = False
        for epoch in sorted(curve):
            if epoch <= suggestion.reported:
                continue
            suggestion.trial.report(curve[epoch], epoch)
            suggestion.reported = epoch
            stop = stop or suggestion.trial.should_prune()
        return stop

    def tell(self, suggestion: Suggestion, value: float | None) -> None:
        """Finish a trial: its final objective, or ``None`` for a failed job."""
        study = self.studies[suggestion.definition]
        if value is None:
            study.tell(suggestion.trial, state=TrialState.FAIL)
        else:
            study.tell(suggestion.trial, value)

    def add_finished(
        self,
        definition: str | None,
        values: Mapping[str, Any],
        value: float | None,
        curve: Mapping[int, float] | None = None,
        *,
        count: bool = True,
    ) -> bool:
        """Replay a finished evaluation; ``False`` when its values are outside the space.

        ``count`` marks a job of this tuning job (resume): it takes its place in the round
        robin and the grid. Warm-start evaluations pass ``count=False``.
        """
        if definition not in self.spaces:
            return False
        space = self.spaces[definition]
        internal = space.to_internal(dict(values))
        if internal is None:
            return False
        trial = create_trial(
            state=TrialState.FAIL if value is None else TrialState.COMPLETE,
            value=value,
            params=internal,
            distributions=space.distributions(),
            intermediate_values=dict(curve or {}),
            system_attrs=self._rungs(curve) if count else {WARM_START_ATTR: True},
        )
        self.studies[definition].add_trial(trial)
        if count:
            self._record_key(definition, space.to_values(internal))
        return True

    def _rungs(self, curve: Mapping[int, float] | None) -> dict[str, Any] | None:
        """Hyperband: the rungs a replayed job reached, as the successive-halving pruner
        records them while a job runs (``completed_rung_<r>`` = its value at the rung's
        epoch), so that jobs after a resume compete with those before it."""
        if self.spec.strategy != "Hyperband" or not curve:
            return None
        step = self.spec.hyperband.min_resource if self.spec.hyperband else 1
        rungs: dict[str, Any] = {}
        while step in curve:
            rungs[f"completed_rung_{len(rungs)}"] = curve[step]
            step *= HYPERBAND_REDUCTION_FACTOR
        return rungs

    def _record_key(self, definition: str | None, values: Mapping[str, Any]) -> None:
        self._used.add(_key(definition, values))
        self.asked += 1
