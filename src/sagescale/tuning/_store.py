"""The persistent record of local tuning jobs in the workspace database (namespace
``tuning``). Only the orchestrating process writes it."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from sagescale._workspace import Workspace, register_migrations
from sagescale.errors import NotFoundError, TuningError
from sagescale.specs import TuningJob
from sagescale.tuning._service import TrainingJobSummary, TuningJobDescription

__all__ = ["TuningStore"]

_V1 = """
CREATE TABLE tuning_jobs (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,
    backend TEXT NOT NULL,
    status TEXT NOT NULL,
    created REAL NOT NULL,
    ended REAL,
    completion_reason TEXT,
    failure_reason TEXT,
    best_training_job TEXT,
    inputs TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE tuning_training_jobs (
    tuning_job TEXT NOT NULL REFERENCES tuning_jobs(name),
    position INTEGER NOT NULL,
    job_name TEXT NOT NULL UNIQUE,
    definition TEXT,
    hyperparameters TEXT NOT NULL,
    status TEXT NOT NULL,
    final_objective REAL,
    objective_status TEXT NOT NULL,
    start_time REAL,
    end_time REAL,
    failure_reason TEXT,
    early_stopped INTEGER NOT NULL DEFAULT 0,
    curve TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (tuning_job, position)
);
"""

register_migrations("tuning", [_V1])


def _ts(value: datetime | None) -> float | None:
    return None if value is None else value.timestamp()


def _dt(value: float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value, tz=timezone.utc)


def _row_to_job(row: Any) -> TrainingJobSummary:
    return TrainingJobSummary(
        job_name=row["job_name"],
        status=row["status"],
        hyperparameters=json.loads(row["hyperparameters"]),
        definition_name=row["definition"],
        final_objective=row["final_objective"],
        objective_status=row["objective_status"],
        start_time=_dt(row["start_time"]),
        end_time=_dt(row["end_time"]),
        failure_reason=row["failure_reason"],
        early_stopped=bool(row["early_stopped"]),
        curve={int(k): float(v) for k, v in json.loads(row["curve"]).items()},
        position=row["position"],
    )


def _row_to_tuning(row: Any) -> TuningJobDescription:
    created = _dt(row["created"])
    assert created is not None
    return TuningJobDescription(
        name=row["name"],
        spec=TuningJob.model_validate_json(row["spec"]),
        backend=row["backend"],
        status=row["status"],
        creation_time=created,
        end_time=_dt(row["ended"]),
        completion_reason=row["completion_reason"],
        failure_reason=row["failure_reason"],
        best_training_job=row["best_training_job"],
        inputs=json.loads(row["inputs"]),
    )


class TuningStore:
    """Tuning jobs and their training jobs, in the workspace's SQLite database."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace

    def create(self, desc: TuningJobDescription) -> None:
        with self.workspace.transaction() as conn:
            if conn.execute("SELECT 1 FROM tuning_jobs WHERE name = ?", (desc.name,)).fetchone():
                raise TuningError(f"tuning job {desc.name!r} already exists in the workspace")
            conn.execute(
                "INSERT INTO tuning_jobs (name, spec, backend, status, created, inputs) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (
                    desc.name,
                    desc.spec.model_dump_json(exclude_none=True),
                    desc.backend,
                    desc.status,
                    _ts(desc.creation_time),
                    json.dumps(desc.inputs),
                ),
            )

    def get(self, name: str) -> TuningJobDescription:
        rows = self.workspace.query("SELECT * FROM tuning_jobs WHERE name = ?", (name,))
        if not rows:
            raise NotFoundError(f"no tuning job named {name!r} in {self.workspace.root}")
        return _row_to_tuning(rows[0])

    def all(self) -> list[TuningJobDescription]:
        rows = self.workspace.query("SELECT * FROM tuning_jobs ORDER BY created DESC")
        return [_row_to_tuning(r) for r in rows]

    def update(self, desc: TuningJobDescription) -> None:
        with self.workspace.transaction() as conn:
            conn.execute(
                "UPDATE tuning_jobs SET status = ?, ended = ?, completion_reason = ?, "
                "failure_reason = ?, best_training_job = ? WHERE name = ?",
                (
                    desc.status,
                    _ts(desc.end_time),
                    desc.completion_reason,
                    desc.failure_reason,
                    desc.best_training_job,
                    desc.name,
                ),
            )

    def request_stop(self, name: str) -> bool:
        """Mark a running tuning job ``Stopping`` (atomically); False if it is not running."""
        self.get(name)
        with self.workspace.transaction() as conn:
            cursor = conn.execute(
                "UPDATE tuning_jobs SET status = 'Stopping' "
                "WHERE name = ? AND status = 'InProgress'",
                (name,),
            )
            return cursor.rowcount > 0

    def save_job(self, tuning_job: str, job: TrainingJobSummary) -> None:
        """Insert or update one training job of ``tuning_job``."""
        with self.workspace.transaction() as conn:
            conn.execute(
                "INSERT INTO tuning_training_jobs (tuning_job, position, job_name, definition, "
                "hyperparameters, status, final_objective, objective_status, start_time, "
                "end_time, failure_reason, early_stopped, curve) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT(tuning_job, position) DO UPDATE SET status = excluded.status, "
                "final_objective = excluded.final_objective, "
                "objective_status = excluded.objective_status, "
                "start_time = excluded.start_time, end_time = excluded.end_time, "
                "failure_reason = excluded.failure_reason, "
                "early_stopped = excluded.early_stopped, curve = excluded.curve",
                (
                    tuning_job,
                    job.position,
                    job.job_name,
                    job.definition_name,
                    json.dumps(job.hyperparameters),
                    job.status,
                    job.final_objective,
                    job.objective_status,
                    _ts(job.start_time),
                    _ts(job.end_time),
                    job.failure_reason,
                    int(job.early_stopped),
                    json.dumps({str(k): v for k, v in job.curve.items()}),
                ),
            )

    def jobs(self, tuning_job: str) -> list[TrainingJobSummary]:
        rows = self.workspace.query(
            "SELECT * FROM tuning_training_jobs WHERE tuning_job = ? ORDER BY position",
            (tuning_job,),
        )
        return [_row_to_job(r) for r in rows]
