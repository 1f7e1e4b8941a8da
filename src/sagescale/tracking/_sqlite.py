"""The embedded default store: tables of the ``tracking`` namespace in the workspace DB."""

from __future__ import annotations

import logging
import math
import shutil
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sagescale._workspace import Workspace, register_migrations
from sagescale.errors import NotFoundError, TrackingError
from sagescale.tracking._jobfiles import artifact_file_name
from sagescale.tracking._model import (
    Artifact,
    ExperimentRecord,
    MetricPoint,
    MetricSummary,
    ParameterValue,
    TrialComponentRecord,
    TrialRecord,
    summary_from_parts,
)
from sagescale.tracking._store import ExperimentStore

__all__ = ["JobBatch", "SQLiteStore"]

_LOG = logging.getLogger("sagescale.tracking")

#: a finite value: NULL (NaN) and the infinities are not
_FINITE = "abs(value) <= 1.7976931348623157e308"

_SCHEMA_1 = """
CREATE TABLE tracking_experiments (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
    description TEXT, created REAL NOT NULL);
CREATE TABLE tracking_trials (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
    experiment_id INTEGER NOT NULL REFERENCES tracking_experiments(id), created REAL NOT NULL);
CREATE INDEX tracking_trials_experiment ON tracking_trials(experiment_id);
CREATE TABLE tracking_components (
    id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL,
    status TEXT, status_message TEXT, start_time REAL, end_time REAL,
    source_arn TEXT, source_type TEXT, created REAL NOT NULL, modified REAL NOT NULL);
CREATE INDEX tracking_components_source ON tracking_components(source_arn);
CREATE TABLE tracking_trial_components (
    trial_id INTEGER NOT NULL REFERENCES tracking_trials(id),
    component_id INTEGER NOT NULL REFERENCES tracking_components(id),
    PRIMARY KEY (trial_id, component_id)) WITHOUT ROWID;
CREATE INDEX tracking_trial_components_component ON tracking_trial_components(component_id);
CREATE TABLE tracking_tags (
    kind TEXT NOT NULL, owner_id INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (kind, owner_id, key)) WITHOUT ROWID;
CREATE INDEX tracking_tags_key ON tracking_tags(kind, key, value);
CREATE TABLE tracking_parameters (
    component_id INTEGER NOT NULL REFERENCES tracking_components(id), name TEXT NOT NULL,
    text_value TEXT, number_value REAL, PRIMARY KEY (component_id, name)) WITHOUT ROWID;
CREATE INDEX tracking_parameters_name ON tracking_parameters(name, number_value);
CREATE TABLE tracking_artifacts (
    component_id INTEGER NOT NULL REFERENCES tracking_components(id),
    direction TEXT NOT NULL CHECK (direction IN ('input', 'output')), name TEXT NOT NULL,
    value TEXT NOT NULL, media_type TEXT,
    PRIMARY KEY (component_id, direction, name)) WITHOUT ROWID;
CREATE INDEX tracking_artifacts_value ON tracking_artifacts(value, direction);
CREATE TABLE tracking_metrics (
    component_id INTEGER NOT NULL, name TEXT NOT NULL, step INTEGER,
    value REAL CHECK (value IS NULL OR typeof(value) IN ('real', 'integer')),
    timestamp REAL NOT NULL CHECK (typeof(timestamp) IN ('real', 'integer')));
CREATE TABLE tracking_metric_batches (
    component_id INTEGER NOT NULL REFERENCES tracking_components(id),
    first_rowid INTEGER NOT NULL, last_rowid INTEGER NOT NULL,
    PRIMARY KEY (component_id, first_rowid)) WITHOUT ROWID;
CREATE TABLE tracking_metric_summaries (
    component_id INTEGER NOT NULL REFERENCES tracking_components(id), name TEXT NOT NULL,
    count INTEGER NOT NULL, mean REAL NOT NULL, m2 REAL NOT NULL, min REAL NOT NULL,
    max REAL NOT NULL, last REAL, PRIMARY KEY (component_id, name)) WITHOUT ROWID;
CREATE INDEX tracking_metric_summaries_name ON tracking_metric_summaries(name);
CREATE TABLE tracking_ingest_offsets (
    component_id INTEGER NOT NULL REFERENCES tracking_components(id), file TEXT NOT NULL,
    offset INTEGER NOT NULL, PRIMARY KEY (component_id, file)) WITHOUT ROWID
"""

#: ``finite``: how many of the ``count`` non-NaN points are finite; ``mean`` and ``m2`` cover
#: those only, so that an infinite point (a diverged loss) never makes them NaN (which SQLite
#: stores as NULL: the NOT NULL columns made every later batch of the metric fail). Summaries
#: that already hold an infinity are recomputed from their points.
_SCHEMA_2 = f"""
ALTER TABLE tracking_metric_summaries ADD COLUMN finite INTEGER NOT NULL DEFAULT 0;
UPDATE tracking_metric_summaries SET finite = count WHERE min > -9e999 AND max < 9e999;
UPDATE tracking_metric_summaries AS s SET (finite, mean, m2) = (
    SELECT COUNT(f.value), coalesce(AVG(f.value), 0.0),
           coalesce(TOTAL(f.value * f.value) - COUNT(f.value) * AVG(f.value) * AVG(f.value), 0.0)
    FROM (SELECT value FROM tracking_metrics m
          WHERE m.component_id = s.component_id AND m.name = s.name AND {_FINITE}) f)
WHERE min = -9e999 OR max = 9e999
"""

#: names are not case-sensitive (as in SageMaker): lookups compare with NOCASE (names are
#: ASCII letters, digits and hyphens), creation refuses a name that differs only in case
_SCHEMA_3 = """
CREATE INDEX IF NOT EXISTS tracking_experiments_name_nocase
    ON tracking_experiments(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS tracking_trials_name_nocase
    ON tracking_trials(name COLLATE NOCASE);
CREATE INDEX IF NOT EXISTS tracking_components_name_nocase
    ON tracking_components(name COLLATE NOCASE)
"""

register_migrations("tracking", [_SCHEMA_1, _SCHEMA_2, _SCHEMA_3])


@dataclass
class JobBatch:
    """Records parsed from a job's tracking files, applied in one transaction."""

    points: list[MetricPoint] = field(default_factory=list)
    #: raw metric records ``{"m": name, "v": value, "s": step, "t": timestamp}`` from job files
    records: list[dict[str, Any]] = field(default_factory=list)
    parameters: dict[str, ParameterValue] = field(default_factory=dict)
    input_artifacts: dict[str, Artifact] = field(default_factory=dict)
    output_artifacts: dict[str, Artifact] = field(default_factory=dict)
    files: dict[str, Path] = field(default_factory=dict)
    input_files: dict[str, Path] = field(default_factory=dict)

    def valid_records(self) -> list[MetricPoint]:
        """The raw records that are well-formed metric points (others are logged, dropped)."""
        points = []
        for r in self.records:
            try:
                points.append(checked_point(r["m"], r["v"], r["s"], r["t"]))
            except (KeyError, TypeError, ValueError):
                _LOG.warning("skipping a malformed tracking record %r", r)
        return points

    def artifacts_with_files(
        self, store: ExperimentStore, component: str
    ) -> tuple[dict[str, Artifact], dict[str, Artifact]]:
        """Store the recorded files; return input and output artifacts including them."""
        inputs, outputs = dict(self.input_artifacts), dict(self.output_artifacts)
        for files, side in ((self.input_files, inputs), (self.files, outputs)):
            for name, path in files.items():
                side[name] = Artifact(store.store_artifact_file(component, path, name), None)
        return inputs, outputs

    def __bool__(self) -> bool:
        return bool(
            self.points
            or self.records
            or self.parameters
            or self.input_artifacts
            or self.output_artifacts
            or self.files
            or self.input_files
        )


_STEP_LIMIT = 2**63  # SQLite's INTEGER is 64-bit signed


def checked_point(name: object, value: object, step: object, timestamp: object) -> MetricPoint:
    """A metric point from a job file's fields; ValueError/TypeError if it cannot be stored
    (a step beyond 64 bits, a timestamp that is not a finite number)."""
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int | float | str):
            raise TypeError(f"step {step!r} is not an integer")
        step = int(step)
        if not -_STEP_LIMIT <= step < _STEP_LIMIT:
            raise ValueError(f"step {step} does not fit 64 bits")
    seconds = float(timestamp)  # type: ignore[arg-type]
    if not math.isfinite(seconds):
        raise ValueError(f"timestamp {timestamp!r} is not finite")
    return MetricPoint(str(name), float(value), step, seconds)  # type: ignore[arg-type]


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


class _FileWorkspace(Workspace):
    """A workspace whose database file has another name (``sqlite:///any/file.db``)."""

    db_file: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.db_file if self.db_file is not None else self.root / "sagescale.db"


class SQLiteStore(ExperimentStore):
    """Experiments in the workspace database (WAL, versioned migrations, indexed)."""

    kind = "sqlite"

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        workspace.connection()  # migrate now, fail early

    @classmethod
    def from_path(cls, path: Path) -> SQLiteStore:
        path = path.expanduser().resolve()
        if path.name == "sagescale.db":
            return cls(Workspace.open(path.parent))
        path.parent.mkdir(parents=True, exist_ok=True)
        ws = _FileWorkspace(root=path.parent / f"{path.stem}-files")
        ws.db_file = path
        return cls(ws)

    def __repr__(self) -> str:
        return f"SQLiteStore({str(self.workspace.db_path)!r})"

    # helpers ------------------------------------------------------------------------------
    def _id(self, conn: sqlite3.Connection, table: str, name: str, what: str) -> int:
        row = conn.execute(
            f"SELECT id FROM {table} WHERE name = ? COLLATE NOCASE ORDER BY name = ? DESC, id",
            (name, name),
        ).fetchone()
        if row is None:
            raise NotFoundError(f"{what} {name!r} does not exist")
        return int(row[0])

    @staticmethod
    def _check_new(conn: sqlite3.Connection, table: str, name: str, what: str) -> None:
        """Refuse ``name`` when it, or a name differing only in case, exists already."""
        row = conn.execute(f"SELECT name FROM {table} WHERE name = ? COLLATE NOCASE", (name,))
        existing = row.fetchone()
        if existing is not None:
            same = (
                "" if existing[0] == name else f" as {existing[0]!r} (names are not case-sensitive)"
            )
            raise TrackingError(f"{what} {name!r} already exists{same}")

    def _tags(self, kind: str, owner_id: int) -> dict[str, str]:
        rows = self.workspace.query(
            "SELECT key, value FROM tracking_tags WHERE kind = ? AND owner_id = ? ORDER BY key",
            (kind, owner_id),
        )
        return {r[0]: r[1] for r in rows}

    @staticmethod
    def _put_tags(
        conn: sqlite3.Connection, kind: str, owner_id: int, tags: Mapping[str, str] | None
    ) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO tracking_tags (kind, owner_id, key, value) VALUES (?,?,?,?)",
            [(kind, owner_id, str(k), str(v)) for k, v in (tags or {}).items()],
        )

    def _insert(self, sql: str, params: Sequence[object], what: str) -> int:
        try:
            with self.workspace.transaction() as conn:
                cur = conn.execute(sql, params)
                return int(cur.lastrowid or 0)
        except sqlite3.IntegrityError as exc:
            raise TrackingError(f"{what} {params[0]!r} already exists") from exc

    # experiments --------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ExperimentRecord:
        try:
            with self.workspace.transaction() as conn:
                self._check_new(conn, "tracking_experiments", name, "experiment")
                cur = conn.execute(
                    "INSERT INTO tracking_experiments (name, display_name, description, created)"
                    " VALUES (?, ?, ?, ?)",
                    (name, display_name or name, description, time.time()),
                )
                self._put_tags(conn, "experiment", int(cur.lastrowid or 0), tags)
        except sqlite3.IntegrityError as exc:
            raise TrackingError(f"experiment {name!r} already exists") from exc
        return self.describe_experiment(name)

    def _experiment(self, row: sqlite3.Row) -> ExperimentRecord:
        return ExperimentRecord(
            name=row["name"],
            display_name=row["display_name"],
            description=row["description"],
            tags=self._tags("experiment", row["id"]),
            creation_time=_dt(row["created"]),
        )

    def describe_experiment(self, name: str) -> ExperimentRecord:
        rows = self.workspace.query(
            "SELECT * FROM tracking_experiments WHERE name = ? COLLATE NOCASE "
            "ORDER BY name = ? DESC",
            (name, name),
        )
        if not rows:
            raise NotFoundError(f"experiment {name!r} does not exist")
        return self._experiment(rows[0])

    def list_experiments(self) -> list[ExperimentRecord]:
        rows = self.workspace.query("SELECT * FROM tracking_experiments ORDER BY created, id")
        return [self._experiment(r) for r in rows]

    # trials -------------------------------------------------------------------------------
    def create_trial(
        self,
        name: str,
        *,
        experiment_name: str,
        display_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialRecord:
        try:
            with self.workspace.transaction() as conn:
                exp_id = self._id(conn, "tracking_experiments", experiment_name, "experiment")
                self._check_new(conn, "tracking_trials", name, "trial")
                cur = conn.execute(
                    "INSERT INTO tracking_trials (name, display_name, experiment_id, created)"
                    " VALUES (?, ?, ?, ?)",
                    (name, display_name or name, exp_id, time.time()),
                )
                self._put_tags(conn, "trial", int(cur.lastrowid or 0), tags)
        except sqlite3.IntegrityError as exc:
            raise TrackingError(f"trial {name!r} already exists") from exc
        return self.describe_trial(name)

    _TRIAL_SQL = (
        "SELECT t.id, t.name, t.display_name, t.created, e.name AS experiment_name "
        "FROM tracking_trials t JOIN tracking_experiments e ON e.id = t.experiment_id "
    )

    def _trial(self, row: sqlite3.Row) -> TrialRecord:
        return TrialRecord(
            name=row["name"],
            experiment_name=row["experiment_name"],
            display_name=row["display_name"],
            tags=self._tags("trial", row["id"]),
            creation_time=_dt(row["created"]),
        )

    def describe_trial(self, name: str) -> TrialRecord:
        rows = self.workspace.query(
            self._TRIAL_SQL + "WHERE t.name = ? COLLATE NOCASE ORDER BY t.name = ? DESC",
            (name, name),
        )
        if not rows:
            raise NotFoundError(f"trial {name!r} does not exist")
        return self._trial(rows[0])

    def list_trials(
        self, *, experiment_name: str | None = None, trial_component_name: str | None = None
    ) -> list[TrialRecord]:
        sql, params = self._TRIAL_SQL + "WHERE 1=1 ", []
        if experiment_name is not None:
            sql += "AND e.name = ? COLLATE NOCASE "
            params.append(experiment_name)
        if trial_component_name is not None:
            sql += (
                "AND t.id IN (SELECT tc.trial_id FROM tracking_trial_components tc "
                "JOIN tracking_components c ON c.id = tc.component_id "
                "WHERE c.name = ? COLLATE NOCASE) "
            )
            params.append(trial_component_name)
        rows = self.workspace.query(sql + "ORDER BY t.created, t.id", params)
        return [self._trial(r) for r in rows]

    # trial components ---------------------------------------------------------------------
    def create_trial_component(
        self,
        name: str,
        *,
        display_name: str | None = None,
        trial_name: str | None = None,
        status: str | None = None,
        start_time: datetime | None = None,
        source_arn: str | None = None,
        source_type: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialComponentRecord:
        now = time.time()
        try:
            with self.workspace.transaction() as conn:
                trial_id = (
                    None
                    if trial_name is None
                    else self._id(conn, "tracking_trials", trial_name, "trial")
                )
                self._check_new(conn, "tracking_components", name, "trial component")
                cur = conn.execute(
                    "INSERT INTO tracking_components (name, display_name, status, start_time,"
                    " source_arn, source_type, created, modified) VALUES (?,?,?,?,?,?,?,?)",
                    (
                        name,
                        display_name or name,
                        status,
                        _ts(start_time),
                        source_arn,
                        source_type,
                        now,
                        now,
                    ),
                )
                comp_id = int(cur.lastrowid or 0)
                self._put_tags(conn, "component", comp_id, tags)
                if trial_id is not None:
                    conn.execute(
                        "INSERT INTO tracking_trial_components VALUES (?, ?)", (trial_id, comp_id)
                    )
        except sqlite3.IntegrityError as exc:
            raise TrackingError(f"trial component {name!r} already exists") from exc
        return self.describe_trial_component(name)

    def update_trial_component(
        self,
        name: str,
        *,
        status: str | None = None,
        status_message: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        parameters: Mapping[str, ParameterValue] | None = None,
        input_artifacts: Mapping[str, Artifact] | None = None,
        output_artifacts: Mapping[str, Artifact] | None = None,
    ) -> None:
        with self.workspace.transaction() as conn:
            comp_id = self._id(conn, "tracking_components", name, "trial component")
            fields = {
                "status": status,
                "status_message": status_message,
                "start_time": _ts(start_time),
                "end_time": _ts(end_time),
            }
            sets = [(k, v) for k, v in fields.items() if v is not None]
            assignments = "".join(f", {k} = ?" for k, _ in sets)
            conn.execute(
                f"UPDATE tracking_components SET modified = ?{assignments} WHERE id = ?",
                (time.time(), *(v for _, v in sets), comp_id),
            )
            self._write_values(conn, comp_id, parameters, input_artifacts, output_artifacts)

    @staticmethod
    def _write_values(
        conn: sqlite3.Connection,
        comp_id: int,
        parameters: Mapping[str, ParameterValue] | None,
        inputs: Mapping[str, Artifact] | None,
        outputs: Mapping[str, Artifact] | None,
    ) -> None:
        conn.executemany(
            "INSERT OR REPLACE INTO tracking_parameters VALUES (?, ?, ?, ?)",
            [(comp_id, k, *_param_columns(v)) for k, v in (parameters or {}).items()],
        )
        for direction, artifacts in (("input", inputs), ("output", outputs)):
            conn.executemany(
                "INSERT OR REPLACE INTO tracking_artifacts VALUES (?, ?, ?, ?, ?)",
                [
                    (comp_id, direction, k, a.value, a.media_type)
                    for k, a in (artifacts or {}).items()
                ],
            )

    def describe_trial_component(self, name: str) -> TrialComponentRecord:
        records = self._load_components(
            "c.name = ? COLLATE NOCASE", [name], order_by="c.name = ? DESC", order_params=[name]
        )
        if not records:
            raise NotFoundError(f"trial component {name!r} does not exist")
        return records[0]

    def list_trial_components(
        self, *, experiment_name: str | None = None, trial_name: str | None = None
    ) -> list[TrialComponentRecord]:
        where, params = self.component_filter(
            experiment_name=experiment_name, trial_name=trial_name
        )
        return self._load_components(where, params)

    @staticmethod
    def component_filter(
        *, experiment_name: str | None = None, trial_name: str | None = None
    ) -> tuple[str, list[object]]:
        """A WHERE clause over ``tracking_components c`` with bound parameters."""
        where, params = "1=1", list[object]()
        if trial_name is not None:
            where += (
                " AND c.id IN (SELECT tc.component_id FROM tracking_trial_components tc"
                " JOIN tracking_trials t ON t.id = tc.trial_id WHERE t.name = ? COLLATE NOCASE)"
            )
            params.append(trial_name)
        if experiment_name is not None:
            where += (
                " AND c.id IN (SELECT tc.component_id FROM tracking_trial_components tc"
                " JOIN tracking_trials t ON t.id = tc.trial_id"
                " JOIN tracking_experiments e ON e.id = t.experiment_id"
                " WHERE e.name = ? COLLATE NOCASE)"
            )
            params.append(experiment_name)
        return where, params

    def search_trial_components(
        self,
        search_expression: Mapping[str, Any] | None = None,
        *,
        experiment_name: str | None = None,
    ) -> list[TrialComponentRecord]:
        """The expression compiled to SQL; its values are bound parameters, never pasted."""
        from sagescale.tracking._search import compile_sql, parse_expression

        where, params = self.component_filter(experiment_name=experiment_name)
        if search_expression is not None:
            sql, extra = compile_sql(parse_expression(search_expression))
            where, params = f"{where} AND ({sql})", [*params, *extra]
        return self._load_components(where, params)

    def _load_components(
        self,
        where: str,
        params: Sequence[object],
        *,
        order_by: str = "c.created, c.id",
        order_params: Sequence[object] = (),
    ) -> list[TrialComponentRecord]:
        with self.workspace._lock:
            rows = self.workspace.query(
                f"SELECT c.* FROM tracking_components c WHERE {where} ORDER BY {order_by}",
                [*params, *order_params],
            )
            ids = f"SELECT c.id FROM tracking_components c WHERE {where}"
            parts = _ComponentParts.load(self.workspace, ids, params)
        return [parts.record(row) for row in rows]

    def associate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        with self.workspace.transaction() as conn:
            comp_id = self._id(conn, "tracking_components", trial_component_name, "component")
            trial_id = self._id(conn, "tracking_trials", trial_name, "trial")
            conn.execute(
                "INSERT OR IGNORE INTO tracking_trial_components VALUES (?, ?)",
                (trial_id, comp_id),
            )

    # metrics ------------------------------------------------------------------------------
    def log_metrics(self, trial_component_name: str, points: Sequence[MetricPoint]) -> None:
        with self.workspace.transaction() as conn:
            comp_id = self._id(conn, "tracking_components", trial_component_name, "component")
            _insert_points(conn, comp_id, points)

    def log_metric_rows(
        self, trial_component_name: str, rows: Sequence[tuple[str, float, int | None, float]]
    ) -> None:
        """:meth:`log_metrics` for plain ``(name, value, step, timestamp)`` tuples (the
        trackers' buffers), sparing a MetricPoint per point."""
        with self.workspace.transaction() as conn:
            comp_id = self._id(conn, "tracking_components", trial_component_name, "component")
            _insert_points(conn, comp_id, rows)

    def metric_series(self, trial_component_name: str, metric_name: str) -> list[MetricPoint]:
        rows = self.workspace.query(
            f"SELECT m.step, m.value, m.timestamp {_POINTS_OF} AND m.name = ? ORDER BY m.rowid",
            (trial_component_name, trial_component_name, metric_name),
        )
        return [
            MetricPoint(metric_name, math.nan if r[1] is None else r[1], r[0], r[2]) for r in rows
        ]

    # artifacts and lookups ----------------------------------------------------------------
    def store_artifact_file(self, trial_component_name: str, path: Path, name: str) -> str:
        self.describe_trial_component(trial_component_name)
        target_dir = self.workspace.artifacts_dir / trial_component_name
        target_dir.mkdir(parents=True, exist_ok=True)
        target = target_dir / artifact_file_name(name)
        try:
            shutil.copyfile(path, target)
        except OSError as exc:
            raise TrackingError(f"cannot copy artifact {str(path)!r}: {exc}") from exc
        return target.resolve().as_uri()

    def trial_components_with_artifact(
        self, value: str, *, direction: str, prefix: bool = False
    ) -> list[TrialComponentRecord]:
        where = (
            "c.id IN (SELECT component_id FROM tracking_artifacts WHERE direction = ? "
            "AND (value = ? OR (? AND substr(value, 1, length(?)) = ?)))"
        )
        under = value.rstrip("/") + "/"
        return self._load_components(where, [direction, value, int(prefix), under, under])

    # ingestion of job files ---------------------------------------------------------------
    def load_ingest_offsets(self, trial_component_name: str) -> dict[str, int] | None:
        rows = self.workspace.query(
            "SELECT o.file, o.offset FROM tracking_ingest_offsets o "
            "JOIN tracking_components c ON c.id = o.component_id WHERE c.name = ? COLLATE NOCASE",
            (trial_component_name,),
        )
        return {r[0]: int(r[1]) for r in rows}

    def apply_ingest(
        self, trial_component_name: str, file_key: str, start: int, end: int, batch: JobBatch
    ) -> None:
        """Apply ``batch`` and move the file's offset from ``start`` to ``end`` atomically.

        Raises TrackingError if another ingester moved the offset meanwhile (nothing applied).
        """
        inputs, outputs = batch.artifacts_with_files(self, trial_component_name)
        with self.workspace.transaction() as conn:
            comp_id = self._id(conn, "tracking_components", trial_component_name, "component")
            row = conn.execute(
                "SELECT offset FROM tracking_ingest_offsets WHERE component_id = ? AND file = ?",
                (comp_id, file_key),
            ).fetchone()
            if (0 if row is None else int(row[0])) != start:
                raise TrackingError(f"{file_key}: offset moved by another ingester")
            try:
                with _savepoint(conn):
                    _insert_points(conn, comp_id, batch.points, batch.records)
            except (
                sqlite3.ProgrammingError,
                sqlite3.InterfaceError,
                sqlite3.IntegrityError,
                OverflowError,
            ):
                # a malformed record in the fast path: validate one by one instead
                _insert_points(conn, comp_id, batch.points + batch.valid_records())
            self._write_values(conn, comp_id, batch.parameters, inputs, outputs)
            conn.execute(
                "INSERT OR REPLACE INTO tracking_ingest_offsets VALUES (?, ?, ?)",
                (comp_id, file_key, end),
            )

    def count_metric_points(self, trial_component_name: str | None = None) -> int:
        """How many raw points are stored (all components, or one)."""
        if trial_component_name is None:
            return int(self.workspace.query("SELECT COUNT(*) FROM tracking_metrics")[0][0])
        rows = self.workspace.query(
            f"SELECT COUNT(*) {_POINTS_OF}", (trial_component_name, trial_component_name)
        )
        return int(rows[0][0])

    def close(self) -> None:
        self.workspace.close()


_POINTS_OF = (
    "FROM tracking_components c JOIN tracking_metric_batches b ON b.component_id = c.id "
    "JOIN tracking_metrics m ON m.rowid BETWEEN b.first_rowid AND b.last_rowid "
    "WHERE c.id = (SELECT id FROM tracking_components WHERE name = ? COLLATE NOCASE"
    " ORDER BY name = ? DESC, id LIMIT 1)"
)


def _param_columns(value: ParameterValue) -> tuple[str | None, float | None]:
    if isinstance(value, bool):
        return str(value), None
    if isinstance(value, int | float):
        return None, float(value)
    text = str(value)
    try:
        number: float | None = float(text)
    except ValueError:
        number = None
    return text, number if number is not None and math.isfinite(number) else None


@contextmanager
def _savepoint(conn: sqlite3.Connection) -> Iterator[None]:
    conn.execute("SAVEPOINT ingest")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK TO ingest")
        conn.execute("RELEASE ingest")
        raise
    conn.execute("RELEASE ingest")


def _insert_points(
    conn: sqlite3.Connection,
    comp_id: int,
    points: Sequence[tuple[str, float, int | None, float]] = (),
    records: Sequence[Mapping[str, Any]] = (),
) -> None:
    """Insert points (MetricPoint tuples or raw job records ``{"m","v","s","t"}``) and fold
    them into the per-metric summaries, all with SQLite doing the per-point work.

    Points of one call occupy one contiguous rowid range (the write lock is held), recorded
    in ``tracking_metric_batches``: that range index replaces a per-point secondary index,
    which would double the cost of an insert."""
    if not points and not records:
        return
    cid = int(comp_id)  # an id from our own table, formatted as an integer literal
    first = conn.execute("SELECT COALESCE(MAX(rowid), 0) FROM tracking_metrics").fetchone()[0]
    columns = "INSERT INTO tracking_metrics (component_id, name, value, step, timestamp) "
    if points:
        conn.executemany(f"{columns}VALUES ({cid}, ?, ?, ?, ?)", points)
    if records:
        conn.executemany(f"{columns}VALUES ({cid}, :m, :v, :s, :t)", records)
    last = conn.execute("SELECT MAX(rowid) FROM tracking_metrics").fetchone()[0]
    conn.execute("INSERT INTO tracking_metric_batches VALUES (?, ?, ?)", (cid, first + 1, last))
    names = {p[0] for p in points} | {r["m"] for r in records}
    _merge_summaries(conn, cid, first, names)


_BATCH_STATS = """
WITH b AS (
    SELECT name, COUNT(value) AS n, AVG(value) AS mu, MIN(value) AS lo, MAX(value) AS hi,
           MAX(rowid) AS last_id
    FROM tracking_metrics WHERE rowid > ? GROUP BY name)
SELECT b.name, b.n, b.mu,
       (SELECT TOTAL((m.value - b.mu) * (m.value - b.mu)) FROM tracking_metrics m
        WHERE m.rowid > ? AND m.name = b.name),
       b.lo, b.hi, (SELECT value FROM tracking_metrics WHERE rowid = b.last_id)
FROM b WHERE b.n > 0
"""


_NAME_STATS = (
    "SELECT COUNT(value), AVG(value), MIN(value), MAX(value), MAX(rowid) "
    "FROM tracking_metrics WHERE rowid > ? AND name = ?"
)
_NAME_M2 = (
    "SELECT TOTAL((value - ?) * (value - ?)) FROM tracking_metrics WHERE rowid > ? AND name = ?"
)
_LAST = "SELECT value FROM tracking_metrics WHERE rowid = ?"
_FINITE_STATS = (
    f"SELECT COUNT(value), coalesce(AVG(value), 0.0) FROM tracking_metrics "
    f"WHERE rowid > ? AND name = ? AND {_FINITE}"
)
_FINITE_M2 = (
    f"SELECT TOTAL((value - ?) * (value - ?)) FROM tracking_metrics "
    f"WHERE rowid > ? AND name = ? AND {_FINITE}"
)


def _batch_stats(conn: sqlite3.Connection, first_rowid: int, names: set[str]) -> list[Any]:
    """Per metric of the batch: name, count, finite count, mean, m2, min, max, last (mean and
    m2 of the finite points). A batch of few metrics (a training loop's) is scanned per name,
    which avoids GROUP BY's sort."""
    if len(names) > 3:
        rows = conn.execute(_BATCH_STATS, (first_rowid, first_rowid)).fetchall()
    else:
        rows = []
        for name in sorted(names):
            n, mean, lo, hi, last_id = conn.execute(_NAME_STATS, (first_rowid, name)).fetchone()
            if not n:
                continue
            m2 = conn.execute(_NAME_M2, (mean, mean, first_rowid, name)).fetchone()[0]
            last = conn.execute(_LAST, (last_id,)).fetchone()[0]
            rows.append((name, n, mean, m2, lo, hi, last))
    return [_finite_part(conn, first_rowid, row) for row in rows]


def _finite_part(conn: sqlite3.Connection, first_rowid: int, row: Any) -> tuple[Any, ...]:
    """Insert the finite count; with an infinite point, mean and m2 of the finite ones."""
    name, n, mean, m2, lo, hi, last = row
    if math.isfinite(lo) and math.isfinite(hi):
        return (name, n, n, mean, m2, lo, hi, last)
    finite, mean = conn.execute(_FINITE_STATS, (first_rowid, name)).fetchone()
    m2 = conn.execute(_FINITE_M2, (mean, mean, first_rowid, name)).fetchone()[0]
    return (name, n, finite, mean, m2, lo, hi, last)


def _merge_summaries(
    conn: sqlite3.Connection, comp_id: int, first_rowid: int, names: set[str]
) -> None:
    """Merge the statistics of the rows after ``first_rowid`` (Chan et al.'s update of the
    finite points' mean and m2)."""
    batch = _batch_stats(conn, first_rowid, names)
    if not batch:
        return
    found = [r[0] for r in batch]
    marks = ",".join("?" * len(found))
    old = {
        r[0]: r[1:]
        for r in conn.execute(
            "SELECT name, count, finite, mean, m2, min, max FROM tracking_metric_summaries "
            f"WHERE component_id = ? AND name IN ({marks})",
            (comp_id, *found),
        )
    }
    rows = []
    for name, n_b, f_b, mean_b, m2_b, lo, hi, last in batch:
        n, f, mean, m2 = n_b, f_b, mean_b, m2_b
        if name in old:
            n_a, f_a, mean_a, m2_a, lo_a, hi_a = old[name]
            n, f = n_a + n_b, f_a + f_b
            if f_a and f_b:
                delta = mean_b - mean_a
                mean = mean_a + delta * f_b / f
                m2 = m2_a + m2_b + delta * delta * f_a * f_b / f
            elif f_a:
                mean, m2 = mean_a, m2_a
            lo, hi = min(lo, lo_a), max(hi, hi_a)
        last = math.nan if last is None else last
        rows.append((comp_id, name, int(n), mean, m2, lo, hi, last, int(f)))
    conn.executemany(
        "INSERT OR REPLACE INTO tracking_metric_summaries "
        "(component_id, name, count, mean, m2, min, max, last, finite) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )


@dataclass
class _ComponentParts:
    """Parameters, artifacts, summaries, tags and parents of a set of components."""

    params: dict[int, dict[str, ParameterValue]] = field(default_factory=dict)
    inputs: dict[int, dict[str, Artifact]] = field(default_factory=dict)
    outputs: dict[int, dict[str, Artifact]] = field(default_factory=dict)
    metrics: dict[int, dict[str, MetricSummary]] = field(default_factory=dict)
    tags: dict[int, dict[str, str]] = field(default_factory=dict)
    trials: dict[int, list[str]] = field(default_factory=dict)
    experiments: dict[int, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, ws: Workspace, ids: str, params: Sequence[object]) -> _ComponentParts:
        parts = cls()
        q = ws.query
        for r in q(f"SELECT * FROM tracking_parameters WHERE component_id IN ({ids})", params):
            value = r[2] if r[2] is not None else r[3]
            parts.params.setdefault(r[0], {})[r[1]] = value
        for r in q(f"SELECT * FROM tracking_artifacts WHERE component_id IN ({ids})", params):
            side = parts.inputs if r[1] == "input" else parts.outputs
            side.setdefault(r[0], {})[r[2]] = Artifact(r[3], r[4])
        for r in q(
            "SELECT component_id, name, count, finite, mean, m2, min, max, last "
            f"FROM tracking_metric_summaries WHERE component_id IN ({ids})",
            params,
        ):
            parts.metrics.setdefault(r[0], {})[r[1]] = summary_from_parts(*r[1:])
        for r in q(
            "SELECT owner_id, key, value FROM tracking_tags WHERE kind = 'component' "
            f"AND owner_id IN ({ids})",
            params,
        ):
            parts.tags.setdefault(r[0], {})[r[1]] = r[2]
        parts._load_parents(ws, ids, params)
        return parts

    def _load_parents(self, ws: Workspace, ids: str, params: Sequence[object]) -> None:
        rows = ws.query(
            "SELECT tc.component_id, t.name, e.name FROM tracking_trial_components tc "
            "JOIN tracking_trials t ON t.id = tc.trial_id "
            "JOIN tracking_experiments e ON e.id = t.experiment_id "
            f"WHERE tc.component_id IN ({ids}) ORDER BY t.created, t.id",
            params,
        )
        for comp_id, trial, experiment in rows:
            self.trials.setdefault(comp_id, []).append(trial)
            exps = self.experiments.setdefault(comp_id, [])
            if experiment not in exps:
                exps.append(experiment)

    def record(self, row: sqlite3.Row) -> TrialComponentRecord:
        cid: Any = row["id"]
        return TrialComponentRecord(
            name=row["name"],
            display_name=row["display_name"],
            status=row["status"],
            status_message=row["status_message"],
            start_time=_dt(row["start_time"]),
            end_time=_dt(row["end_time"]),
            creation_time=_dt(row["created"]),
            source_arn=row["source_arn"],
            source_type=row["source_type"],
            parameters=self.params.get(cid, {}),
            input_artifacts=self.inputs.get(cid, {}),
            output_artifacts=self.outputs.get(cid, {}),
            metrics=self.metrics.get(cid, {}),
            tags=self.tags.get(cid, {}),
            trial_names=tuple(self.trials.get(cid, ())),
            experiment_names=tuple(self.experiments.get(cid, ())),
        )
