"""Grid search at its largest: 10,000 combinations, each once, in the seeded order, with the
work per suggestion bounded (counted, not timed)."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import pytest

from sagescale.specs import CategoricalParameter, TrainingJob, TuningJob
from sagescale.tuning import _search
from sagescale.tuning._search import Searcher

JOB = TrainingJob(entry_point="train.py", framework="pytorch")
SIDE = 10  # 4 ranges of 10 values: 10,000 combinations, the most a tuning job may run


def _spec(seed: int | None = 7, side: int = SIDE) -> TuningJob:
    ranges = {f"p{i}": CategoricalParameter(values=list(range(side))) for i in range(4)}
    return TuningJob(
        training_job=JOB,
        objective_metric_name="m",
        hyperparameter_ranges=ranges,
        strategy="Grid",
        random_seed=seed,
    )


def _order(spec: TuningJob) -> list[tuple[Any, ...]]:
    grid = spec.grid()
    if spec.random_seed is not None:
        random.Random(spec.random_seed).shuffle(grid)
    return [tuple(sorted(values.items())) for _, values in grid]


def _count_keys(monkeypatch: pytest.MonkeyPatch, limit: int) -> list[int]:
    """Count the searcher's combination keys; fail at once past ``limit`` (a scan of the
    whole grid per suggestion computes ~n^2/2 of them: 50 million for 10,000)."""
    calls = [0]
    real: Callable[..., str] = _search._key

    def counted(definition: str | None, values: Any) -> str:
        calls[0] += 1
        if calls[0] > limit:
            raise AssertionError(f"more than {limit} combination keys computed")
        return real(definition, values)

    monkeypatch.setattr(_search, "_key", counted)
    return calls


@pytest.mark.parametrize("seed", [7, None])
def test_a_10000_combination_grid_yields_every_combination_once(
    monkeypatch: pytest.MonkeyPatch, seed: int | None
) -> None:
    spec = _spec(seed)
    total = spec.grid_size()
    assert total == 10_000
    calls = _count_keys(monkeypatch, limit=3 * total)  # O(1) keys per suggestion
    searcher = Searcher(spec)
    seen = []
    while (suggestion := searcher.ask()) is not None:
        seen.append(tuple(sorted(suggestion.values.items())))
        searcher.tell(suggestion, 1.0)
    assert len(seen) == total and len(set(seen)) == total
    assert seen == _order(spec)  # the order is unchanged: spec order, or shuffled by the seed
    assert searcher.exhausted() and searcher.ask() is None
    assert calls[0] <= 3 * total


def test_a_resumed_grid_skips_what_ran_and_keeps_the_order() -> None:
    """Jobs replayed out of order (finished, and still running) are skipped; the rest come in
    the grid's order, as before the cursor."""
    spec = _spec(seed=3, side=3)  # 81 combinations
    order = _order(spec)
    searcher = Searcher(spec)
    finished = [order[i] for i in (5, 0, 40, 2, 80)]
    for values in finished:
        assert searcher.add_finished(None, dict(values), 1.0)
    running = searcher.ask_fixed(None, dict(order[1]))
    assert searcher.asked == 6 and not searcher.exhausted()
    rest = []
    while (suggestion := searcher.ask()) is not None:
        rest.append(tuple(sorted(suggestion.values.items())))
        searcher.tell(suggestion, 1.0)
    searcher.tell(running, 1.0)
    skipped = {*finished, order[1]}
    assert rest == [values for values in order if values not in skipped]
    assert searcher.exhausted() and searcher.asked == 81
