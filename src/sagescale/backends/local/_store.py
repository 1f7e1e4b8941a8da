"""The ``jobs`` namespace of the workspace database and incremental metric ingestion.

Only the orchestrating process calls these functions; training processes write files.
Metric points come from two kinds of files in the job directory, each read from the byte
offset reached last time (stored in the same transaction as the points, so nothing is
counted twice):

- ``logs/<host>.log``: every complete line is matched against the job's
  ``metric_definitions`` regexes, as SageMaker matches CloudWatch log lines;
- ``output/metrics/metrics-*.jsonl``: the structured records of ``sagescale.runtime``
  (exact name, value, step and timestamp). A log line printed by the runtime for the same
  metric name is not counted again.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sagescale._workspace import Workspace, register_migrations
from sagescale.backends._base import MetricPoint
from sagescale.backends.local._supervisor import LOG_DIR, log_records, parse_log_line

__all__ = ["MetricExtractor", "ingest_metrics", "read_points"]

_MIGRATION_1 = """
CREATE TABLE jobs_training (
    name TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    secondary_status TEXT NOT NULL,
    creation_time REAL NOT NULL,
    start_time REAL,
    end_time REAL,
    failure_reason TEXT,
    exit_code INTEGER,
    model_artifacts TEXT,
    output_path TEXT,
    tuning_job_name TEXT,
    experiment_config TEXT,
    spec TEXT NOT NULL,
    hyperparameters TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 1,
    transitions TEXT NOT NULL DEFAULT '[]',
    job_dir TEXT NOT NULL,
    final_metrics TEXT NOT NULL DEFAULT '{}',
    extra TEXT NOT NULL DEFAULT '{}',
    supervisor_pid INTEGER,
    state_seq INTEGER NOT NULL DEFAULT -1,
    finalized INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX jobs_training_created ON jobs_training (creation_time);
CREATE INDEX jobs_training_status ON jobs_training (status);
CREATE INDEX jobs_training_tuning ON jobs_training (tuning_job_name);
CREATE TABLE jobs_metric_points (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_name TEXT NOT NULL REFERENCES jobs_training (name) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    timestamp REAL NOT NULL,
    step INTEGER
);
CREATE INDEX jobs_metric_points_job ON jobs_metric_points (job_name, name, timestamp);
CREATE TABLE jobs_ingest_offsets (
    job_name TEXT NOT NULL REFERENCES jobs_training (name) ON DELETE CASCADE,
    source TEXT NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (job_name, source)
);
"""

#: ``tracking_pending``: the job's end still has to be recorded in its experiment (set at
#: submit when tracking is on, cleared once recorded); ``tracking_owner``: the pid of the
#: process recording it (a dead owner's claim is taken over, so an orchestrator killed
#: between finalising a job and recording its end loses nothing).
_MIGRATION_2 = """
ALTER TABLE jobs_training ADD COLUMN tracking_pending INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs_training ADD COLUMN tracking_owner INTEGER;
ALTER TABLE jobs_training ADD COLUMN tracking_claimed REAL;
CREATE INDEX jobs_training_tracking_pending ON jobs_training (tracking_pending)
"""

register_migrations("jobs", [_MIGRATION_1, _MIGRATION_2])

_METRICS_SUBDIR = Path("output") / "metrics"
_FALLBACK_LINE = re.compile(
    r"sagescale-metric: name=(?P<name>[A-Za-z0-9_.:/-]{1,255}) "
    r"value=(?P<value>[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?|[-+]?inf|nan) "
    r"step=(?P<step>\d+)"
)


def _runtime_line_regex() -> re.Pattern[str]:
    try:
        from sagescale.runtime._metrics import METRIC_LINE_REGEX
    except ImportError:  # pragma: no cover - the runtime ships with sagescale
        return _FALLBACK_LINE
    return METRIC_LINE_REGEX


def _records_glob() -> str:
    try:
        from sagescale.runtime._metrics import METRICS_FILE_GLOB
    except ImportError:  # pragma: no cover
        return "metrics-*.jsonl"
    return METRICS_FILE_GLOB


@dataclass(frozen=True)
class MetricExtractor:
    """Applies ``metric_definitions`` to log lines (the first group is the value)."""

    definitions: tuple[tuple[str, re.Pattern[str]], ...]
    runtime_line: re.Pattern[str]

    @classmethod
    def from_definitions(cls, definitions: Iterable[tuple[str, str]]) -> MetricExtractor:
        compiled = tuple((name, re.compile(regex)) for name, regex in definitions)
        return cls(compiled, _runtime_line_regex())

    def points(self, text: str, timestamp: float) -> list[MetricPoint]:
        if not self.definitions:
            return []
        runtime = self.runtime_line.search(text)
        out: list[MetricPoint] = []
        for name, regex in self.definitions:
            match = regex.search(text)
            if match is None:
                continue
            if runtime is not None and runtime["name"] == name:
                continue  # the structured record of this line is ingested instead
            value = _float(match.group(1))
            if value is None:
                continue
            step = int(runtime["step"]) if runtime is not None else None
            out.append(MetricPoint(name, value, timestamp, step))
        return out


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None


def _complete(data: bytes) -> bytes:
    cut = data.rfind(b"\n")
    return data[: cut + 1] if cut >= 0 else b""


def _read_from(path: Path, offset: int) -> bytes:
    try:
        with path.open("rb") as fh:
            fh.seek(offset)
            return _complete(fh.read())
    except OSError:
        return b""


def _log_points(data: bytes, extractor: MetricExtractor) -> list[MetricPoint]:
    points: list[MetricPoint] = []
    for raw in log_records(data.decode("utf-8", errors="replace")):
        timestamp, _, text = parse_log_line(raw)
        for segment in text.split("\r"):  # a progress bar redraws its line with \r
            points.extend(extractor.points(segment, timestamp))
    return points


def _record_points(data: bytes) -> list[MetricPoint]:
    points: list[MetricPoint] = []
    for raw in data.splitlines():
        try:
            rec: dict[str, Any] = json.loads(raw)
            step = rec.get("step")
            points.append(
                MetricPoint(
                    str(rec["name"]),
                    float(rec["value"]),
                    float(rec["timestamp"]),
                    None if step is None else int(step),
                )
            )
        except (ValueError, KeyError, TypeError):
            continue
    return points


def _sources(job_dir: Path) -> list[tuple[str, Path, bool]]:
    logs = sorted((job_dir / LOG_DIR).glob("*.log"))
    records = sorted((job_dir / _METRICS_SUBDIR).glob(_records_glob()))
    return [(f"log:{p.name}", p, True) for p in logs] + [
        (f"rec:{p.name}", p, False) for p in records
    ]


def ingest_metrics(
    workspace: Workspace, job_name: str, job_dir: Path, extractor: MetricExtractor
) -> int:
    """Add the metric points written since the last call; return how many were added."""
    sources = _sources(job_dir)
    if not _grown(workspace, job_name, sources):
        return 0  # no write transaction when nothing is new (the tuner polls often)
    added = 0
    with workspace.transaction() as conn:
        offsets = _offsets(conn, job_name)
        for source, path, is_log in sources:
            start = offsets.get(source, 0)
            data = _read_from(path, start)
            if not data:
                continue
            points = _log_points(data, extractor) if is_log else _record_points(data)
            _insert_points(conn, job_name, points)
            conn.execute(
                "INSERT INTO jobs_ingest_offsets (job_name, source, offset) VALUES (?, ?, ?) "
                "ON CONFLICT(job_name, source) DO UPDATE SET offset = excluded.offset",
                (job_name, source, start + len(data)),
            )
            added += len(points)
    return added


def _offsets(conn: sqlite3.Connection, job_name: str) -> dict[str, int]:
    rows = conn.execute(
        "SELECT source, offset FROM jobs_ingest_offsets WHERE job_name = ?", (job_name,)
    )
    return {row["source"]: int(row["offset"]) for row in rows}


def _grown(workspace: Workspace, job_name: str, sources: list[tuple[str, Path, bool]]) -> bool:
    if not sources:
        return False
    rows = workspace.query(
        "SELECT source, offset FROM jobs_ingest_offsets WHERE job_name = ?", (job_name,)
    )
    offsets = {row["source"]: int(row["offset"]) for row in rows}
    for source, path, _ in sources:
        try:
            if path.stat().st_size > offsets.get(source, 0):
                return True
        except OSError:
            continue
    return False


def _insert_points(conn: sqlite3.Connection, job_name: str, points: list[MetricPoint]) -> None:
    conn.executemany(
        "INSERT INTO jobs_metric_points (job_name, name, value, timestamp, step) "
        "VALUES (?, ?, ?, ?, ?)",
        [(job_name, p.name, p.value, p.timestamp, p.step) for p in points],
    )


def read_points(
    workspace: Workspace, job_name: str, names: Sequence[str] | None = None
) -> list[MetricPoint]:
    sql = "SELECT name, value, timestamp, step FROM jobs_metric_points WHERE job_name = ?"
    params: list[object] = [job_name]
    if names is not None:
        sql += f" AND name IN ({', '.join('?' for _ in names)})"
        params.extend(names)
    sql += " ORDER BY timestamp, id"
    return [
        MetricPoint(r["name"], float(r["value"]), float(r["timestamp"]), r["step"])
        for r in workspace.query(sql, params)
    ]


def final_metrics(workspace: Workspace, job_name: str) -> dict[str, float]:
    """The last value of every metric (SageMaker's ``FinalMetricDataList``)."""
    return {p.name: p.value for p in read_points(workspace, job_name)}
