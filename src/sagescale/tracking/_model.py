"""Plain records exchanged with experiment stores (stdlib dataclasses, immutable)."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Literal, NamedTuple

__all__ = [
    "STATUSES",
    "Artifact",
    "ExperimentRecord",
    "MetricPoint",
    "MetricSummary",
    "MetricValueWarning",
    "ParameterValue",
    "Status",
    "TrialComponentRecord",
    "TrialRecord",
    "summarize",
    "summary_from_parts",
]

Status = Literal["InProgress", "Completed", "Failed", "Stopping", "Stopped"]
STATUSES: tuple[str, ...] = ("InProgress", "Completed", "Failed", "Stopping", "Stopped")
ParameterValue = str | float

_EMPTY: Mapping[str, str] = MappingProxyType({})


@dataclass(frozen=True)
class Artifact:
    """An input or output of a trial component: a value (usually a URI) and a media type."""

    value: str
    media_type: str | None = None


class MetricPoint(NamedTuple):
    """One logged value of a metric. ``timestamp`` is seconds since the epoch (UTC).

    A named tuple rather than a dataclass: millions are created during ingestion."""

    name: str
    value: float
    step: int | None
    timestamp: float


class MetricValueWarning(UserWarning):
    """A store skipped metric points it cannot keep (SageMaker: NaN or infinite values)."""


@dataclass(frozen=True)
class MetricSummary:
    """SageMaker's per-metric summary. ``std_dev`` is the population standard deviation;
    ``last`` is the value of the most recently logged point."""

    name: str
    count: int
    min: float
    max: float
    avg: float
    std_dev: float
    last: float


@dataclass(frozen=True)
class ExperimentRecord:
    name: str
    display_name: str
    description: str | None = None
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    creation_time: datetime | None = None


@dataclass(frozen=True)
class TrialRecord:
    name: str
    experiment_name: str
    display_name: str
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    creation_time: datetime | None = None


@dataclass(frozen=True)
class TrialComponentRecord:
    """Everything a store knows about one trial component."""

    name: str
    display_name: str
    status: str | None = None
    status_message: str | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    creation_time: datetime | None = None
    source_arn: str | None = None
    source_type: str | None = None
    parameters: Mapping[str, ParameterValue] = field(default_factory=dict)
    input_artifacts: Mapping[str, Artifact] = field(default_factory=dict)
    output_artifacts: Mapping[str, Artifact] = field(default_factory=dict)
    metrics: Mapping[str, MetricSummary] = field(default_factory=dict)
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    trial_names: tuple[str, ...] = ()
    experiment_names: tuple[str, ...] = ()


def summarize(name: str, values: Iterable[float]) -> MetricSummary:
    """The summary of a series of values, in logging order (last = last logged).

    NaN points are left out of every statistic but ``last``; ``avg`` and ``std_dev`` are
    those of the finite points unless an infinite point was logged (see
    :func:`summary_from_parts`)."""
    data = list(values)
    last = data[-1] if data else math.nan
    numbers = [v for v in data if not math.isnan(v)]
    finite = [v for v in numbers if not math.isinf(v)]
    if not numbers:
        nan = math.nan
        return MetricSummary(name, 0, nan, nan, nan, nan, last)
    mean = _sum(finite) / len(finite) if finite else 0.0
    m2 = _sum((v - mean) * (v - mean) for v in finite)
    return summary_from_parts(
        name, len(numbers), len(finite), mean, m2, min(numbers), max(numbers), last
    )


def summary_from_parts(
    name: str,
    count: int,
    finite: int,
    mean: float,
    m2: float,
    lo: float,
    hi: float,
    last: float | None,
) -> MetricSummary:
    """A summary from running statistics: ``count`` non-NaN points, ``finite`` of them
    finite with ``mean`` and sum of squared deviations ``m2``, ``lo``/``hi`` over all of
    them. With an infinite point ``avg`` is that infinity (NaN when both signs were logged)
    and ``std_dev`` is NaN, as numpy computes them."""
    std = math.sqrt(max(m2, 0.0) / finite) if finite else math.nan
    avg = mean
    if count > finite:
        avg = math.nan if lo == -math.inf and hi == math.inf else (hi if hi == math.inf else lo)
        std = math.nan
    return MetricSummary(name, count, lo, hi, avg, std, math.nan if last is None else last)


def _sum(values: Iterable[float]) -> float:
    """``math.fsum``, or a plain sum when the exact one overflows (huge finite values)."""
    data = list(values)
    try:
        return math.fsum(data)
    except OverflowError:
        return sum(data)
