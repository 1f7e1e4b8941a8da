"""Metric lines and structured metric records (stdlib only; importable without torch).

A call to :func:`log_metric` on the leader prints one line to stdout::

    sagescale-metric: name=<name> value=<value> step=<step>

and appends one JSON record to ``<metrics dir>/metrics-<host>-rank<rank>.jsonl``::

    {"name": ..., "value": ..., "step": ..., "timestamp": ..., "rank": ..., "host": ...}

The metrics directory is ``SAGESCALE_METRICS_DIR`` when set, else
``<SAGEMAKER_BASE_DIR>/output/metrics`` when ``SAGEMAKER_BASE_DIR`` is set; otherwise no file
is written (on SageMaker the log line is what the service's metric definitions match).
Backends build their default ``metric_definitions`` with :func:`metric_definition` and read
the files with :func:`read_metric_records`.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TextIO

from sagescale.errors import SpecError
from sagescale.runtime._env import global_rank

__all__ = [
    "METRICS_DIR_ENV",
    "METRICS_FILE_GLOB",
    "METRIC_LINE_PREFIX",
    "METRIC_LINE_REGEX",
    "METRIC_NAME_REGEX",
    "MetricRecord",
    "format_metric_line",
    "log_metric",
    "metric_definition",
    "metrics_dir",
    "metrics_file_name",
    "parse_metric_line",
    "read_metric_records",
]

METRIC_LINE_PREFIX = "sagescale-metric:"
METRICS_DIR_ENV = "SAGESCALE_METRICS_DIR"
ALL_RANKS_ENV = "SAGESCALE_METRICS_ALL_RANKS"
#: Files the runtime writes in the metrics directory, one per process.
METRICS_FILE_GLOB = "metrics-*.jsonl"
#: Allowed metric names (SageMaker allows more; these stay regex- and file-safe).
METRIC_NAME_REGEX = r"[A-Za-z0-9_.:/-]{1,255}"
_VALUE_REGEX = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan"
#: Matches a whole metric line anywhere in a log line (torchrun may prefix ``[rank0]:``).
METRIC_LINE_REGEX = re.compile(
    METRIC_LINE_PREFIX  # no regex metacharacters in it
    + rf" name=(?P<name>{METRIC_NAME_REGEX}) value=(?P<value>{_VALUE_REGEX}) step=(?P<step>\d+)"
)
_NAME_RE = re.compile(METRIC_NAME_REGEX)


@dataclasses.dataclass(frozen=True)
class MetricRecord:
    """One structured metric record (one JSON line)."""

    name: str
    value: float
    step: int
    timestamp: float
    rank: int
    host: str

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), sort_keys=True)


def metrics_file_name(host: str, rank: int) -> str:
    """File name the process of global ``rank`` on ``host`` writes its records to."""
    return f"metrics-{host}-rank{rank}.jsonl"


def metric_definition(name: str) -> dict[str, str]:
    """A SageMaker ``MetricDefinitions`` entry (one capture group) for metric ``name``."""
    _check_name(name)
    regex = f"{METRIC_LINE_PREFIX} name={re.escape(name)} value=({_VALUE_REGEX})"
    return {"Name": name, "Regex": regex}


def format_metric_line(name: str, value: float, step: int) -> str:
    """The log line for one metric value."""
    return f"{METRIC_LINE_PREFIX} name={name} value={_format_value(value)} step={step}"


def parse_metric_line(line: str) -> tuple[str, float, int] | None:
    """``(name, value, step)`` from a log line, or ``None`` when it holds no metric."""
    match = METRIC_LINE_REGEX.search(line)
    if match is None:
        return None
    return match["name"], float(match["value"]), int(match["step"])


def metrics_dir(environ: Mapping[str, str] | None = None) -> Path | None:
    """Where this process writes metric records (``None``: write none)."""
    env = os.environ if environ is None else environ
    if env.get(METRICS_DIR_ENV):
        return Path(env[METRICS_DIR_ENV])
    if env.get("SAGEMAKER_BASE_DIR"):
        return Path(env["SAGEMAKER_BASE_DIR"]) / "output" / "metrics"
    return None


_lock = threading.Lock()
_steps: dict[str, int] = {}


def log_metric(
    name: str,
    value: float,
    *,
    step: int | None = None,
    all_ranks: bool | None = None,
    stream: TextIO | None = None,
) -> MetricRecord | None:
    """Print the metric line and write the structured record; returns the record.

    Only the process of global rank 0 logs unless ``all_ranks`` is true (default: the
    ``SAGESCALE_METRICS_ALL_RANKS`` variable). ``step`` defaults to one more than the last
    step logged for ``name`` by this process (0 for the first). Call it once per epoch with
    the tuning objective so the median early-stopping rule can compare jobs.
    """
    _check_name(name)
    number = _check_value(name, value)
    rank = global_rank()
    if all_ranks is None:
        all_ranks = os.environ.get(ALL_RANKS_ENV, "").lower() in ("1", "true", "yes")
    with _lock:
        current = _next_step(name, step)
    if rank != 0 and not all_ranks:
        return None
    host = os.environ.get("SM_CURRENT_HOST", "algo-1")
    record = MetricRecord(name, number, current, time.time(), rank, host)
    print(format_metric_line(name, number, current), file=stream or sys.stdout, flush=True)
    directory = metrics_dir()
    if directory is not None:
        directory.mkdir(parents=True, exist_ok=True)
        with _lock, open(directory / metrics_file_name(host, rank), "a", encoding="utf-8") as f:
            f.write(record.to_json() + "\n")
    return record


def read_metric_records(directory: str | os.PathLike[str]) -> list[MetricRecord]:
    """All records under ``directory`` ordered by (timestamp, rank); a torn last line of a
    file that is still being written is skipped."""
    records: list[MetricRecord] = []
    for path in sorted(Path(directory).glob(METRICS_FILE_GLOB)):
        for line in path.read_text(encoding="utf-8").splitlines():
            record = _parse_record(line)
            if record is not None:
                records.append(record)
    records.sort(key=lambda r: (r.timestamp, r.rank))
    return records


def _parse_record(line: str) -> MetricRecord | None:
    try:
        data: dict[str, Any] = json.loads(line)
        return MetricRecord(
            name=str(data["name"]),
            value=float(data["value"]),
            step=int(data["step"]),
            timestamp=float(data["timestamp"]),
            rank=int(data["rank"]),
            host=str(data["host"]),
        )
    except (ValueError, KeyError, TypeError):
        return None


def _next_step(name: str, step: int | None) -> int:
    if step is None:
        step = _steps.get(name, -1) + 1
    elif isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise SpecError(
            f"log_metric step={step!r}: must be a non-negative integer", field="step", value=step
        )
    _steps[name] = step
    return step


def _check_name(name: str) -> None:
    if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
        raise SpecError(
            f"metric name {name!r}: must match {METRIC_NAME_REGEX}", field="name", value=name
        )


def _check_value(name: str, value: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        raise SpecError(
            f"metric {name!r} value={value!r}: must be a number", field="value", value=value
        ) from None


def _format_value(value: float) -> str:
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return repr(float(value))
