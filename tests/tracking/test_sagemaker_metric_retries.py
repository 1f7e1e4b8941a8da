"""BatchPutMetrics failures against moto's server: a retry never resends an accepted point.

The failures are injected on the wire with botocore event hooks on the store's own client
(no mock of boto3): every request still goes to moto, and an ``after-call`` hook reports the
points chosen to fail in the response's ``Errors``, as SageMaker does on a partial failure.
"""

from __future__ import annotations

import json
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from sagescale.errors import TrackingError
from sagescale.testing.stores import StoreCase
from sagescale.tracking import MetricPoint
from sagescale.tracking._sagemaker import PARTIAL_RETRIES, SageMakerStore

Key = tuple[str, int]


@pytest.fixture
def wire(
    sagemaker_case: StoreCase,
) -> Iterator[tuple[SageMakerStore, Counter[Key], Callable[[Callable[[Key], bool]], None]]]:
    """The store, a count of each (metric, step) sent in a BatchPutMetrics request, and a
    setter for the rule saying which sent points the response reports as INTERNAL_ERROR."""
    store = sagemaker_case.store
    assert isinstance(store, SageMakerStore)
    events = store.metrics_client.meta.events
    sent: Counter[Key] = Counter()
    last: list[list[Key]] = []
    rule: list[Callable[[Key], bool]] = [lambda key: False]

    def before_send(request: Any, **_: Any) -> None:
        body = json.loads(request.body)
        keys = [(m["MetricName"], m["Step"]) for m in body["MetricData"]]
        sent.update(keys)
        last[:] = [keys]

    def after_call(parsed: dict[str, Any], **_: Any) -> None:
        failed = [i for i, key in enumerate(last[0]) if rule[0](key)]
        if failed:
            parsed["Errors"] = [{"Code": "INTERNAL_ERROR", "MetricIndex": i} for i in failed]

    def fail_when(predicate: Callable[[Key], bool]) -> None:
        rule[0] = predicate

    events.register("before-send.sagemaker-metrics.BatchPutMetrics", before_send)
    events.register("after-call.sagemaker-metrics.BatchPutMetrics", after_call)
    try:
        yield store, sent, fail_when
    finally:
        events.unregister("before-send.sagemaker-metrics.BatchPutMetrics", before_send)
        events.unregister("after-call.sagemaker-metrics.BatchPutMetrics", after_call)


def _component(store: SageMakerStore) -> str:
    name = f"tc-{secrets.token_hex(4)}"
    store.create_trial_component(name)
    return name


def _points(n: int) -> list[MetricPoint]:
    now = time.time()
    return [MetricPoint("loss", float(i), i, now + i) for i in range(n)]


def test_a_partial_failure_resends_only_the_failed_points(wire: Any) -> None:
    store, sent, fail_when = wire
    tc = _component(store)
    first_time: set[Key] = set()

    def once(key: Key) -> bool:  # steps 3 and 14 fail the first time they are sent
        if key[1] in (3, 14) and key not in first_time:
            first_time.add(key)
            return True
        return False

    fail_when(once)
    store.log_metrics(tc, _points(25))
    assert sent == Counter({("loss", i): 2 if i in (3, 14) else 1 for i in range(25)})
    metrics = store.describe_trial_component(tc).metrics
    assert metrics["loss"].count == 25 and metrics["loss"].last == 24.0


def test_a_retried_call_sends_only_what_was_not_accepted(wire: Any) -> None:
    """Step 12 keeps failing: log_metrics raises after the points before it (and the rest of
    its batch) were accepted; the caller's retry (ingest, a flush) sends only steps 12-24."""
    store, sent, fail_when = wire
    tc = _component(store)
    points = _points(25)
    fail_when(lambda key: key[1] == 12)
    with pytest.raises(TrackingError, match="INTERNAL_ERROR"):
        store.log_metrics(tc, points)
    assert sent[("loss", 12)] == 1 + PARTIAL_RETRIES
    assert all(sent[("loss", i)] == 1 for i in range(20) if i != 12)
    assert not any(sent[("loss", i)] for i in range(20, 25))
    sent.clear()
    fail_when(lambda key: False)
    store.log_metrics(tc, points)
    assert sent == Counter({("loss", i): 1 for i in [12, *range(20, 25)]})
    sent.clear()
    store.log_metrics(tc, points[:2])  # after a call that succeeded, points are sent as given
    assert sent == Counter({("loss", 0): 1, ("loss", 1): 1})
