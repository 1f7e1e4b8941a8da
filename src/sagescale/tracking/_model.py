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
    "ParameterValue",
    "Status",
    "TrialComponentRecord",
    "TrialRecord",
    "summarize",
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
    """The summary of a series of values, in logging order (last = last logged)."""
    data = list(values)
    count = len(data)
    if count == 0:
        nan = math.nan
        return MetricSummary(name, 0, nan, nan, nan, nan, nan)
    avg = math.fsum(data) / count
    var = math.fsum((v - avg) ** 2 for v in data) / count
    return MetricSummary(name, count, min(data), max(data), avg, math.sqrt(var), data[-1])
