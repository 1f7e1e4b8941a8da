"""The local workspace: one folder holding the SQLite database, job directories and artifacts.

Resolution order for the folder: the ``workspace`` argument, then the ``SAGESCALE_WORKSPACE``
environment variable, then ``./.sagescale``.

Schema changes are migrations. Each subsystem (``jobs``, ``tuning``, ``tracking``) owns a
*namespace* of numbered migrations, registered with :func:`register_migrations`; the version
reached by each namespace is stored in the ``schema_versions`` table. Opening a database
applies the migrations it has not seen yet, each inside its own transaction.

Only the orchestrating process writes the database; training processes write files.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from sagescale.errors import WorkspaceError

__all__ = ["Workspace", "register_migrations", "resolve_workspace"]

ENV_VAR = "SAGESCALE_WORKSPACE"
DEFAULT_DIR = ".sagescale"
DB_NAME = "sagescale.db"

Migration = Callable[[sqlite3.Connection], None] | str
_MIGRATIONS: dict[str, list[Migration]] = {}


def register_migrations(namespace: str, migrations: Sequence[Migration]) -> None:
    """Register the ordered migrations of ``namespace`` (SQL scripts or callables).

    Migrations are append-only: a released migration is never edited, only followed by a
    new one. Registering the same namespace again replaces the list (module reloads).
    """
    _MIGRATIONS[namespace] = list(migrations)


def resolve_workspace(workspace: str | os.PathLike[str] | None = None) -> Path:
    """Argument → ``SAGESCALE_WORKSPACE`` → ``./.sagescale``."""
    if workspace is not None:
        return Path(workspace).expanduser().resolve()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser().resolve()
    return (Path.cwd() / DEFAULT_DIR).resolve()


@dataclass
class Workspace:
    """A workspace folder and its database connection (one per process, thread-safe)."""

    root: Path
    _lock: threading.RLock = field(default_factory=threading.RLock, repr=False)
    _conn: sqlite3.Connection | None = field(default=None, repr=False)

    @classmethod
    def open(cls, workspace: str | os.PathLike[str] | None = None) -> Workspace:
        root = resolve_workspace(workspace)
        try:
            for sub in ("jobs", "artifacts", "tuning"):
                (root / sub).mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot create workspace {root}: {exc}") from exc
        return cls(root=root)

    @property
    def db_path(self) -> Path:
        return self.root / DB_NAME

    @property
    def jobs_dir(self) -> Path:
        return self.root / "jobs"

    @property
    def artifacts_dir(self) -> Path:
        return self.root / "artifacts"

    def connection(self) -> sqlite3.Connection:
        """The shared connection, migrated to the latest schema of every namespace."""
        with self._lock:
            if self._conn is None:
                self._conn = _connect(self.db_path)
            _migrate(self._conn)
            return self._conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction (``BEGIN IMMEDIATE``), committed on success."""
        with self._lock:
            conn = self.connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._lock:
            return list(self.connection().execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None


def _connect(path: Path) -> sqlite3.Connection:
    try:
        conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    except sqlite3.Error as exc:
        raise WorkspaceError(f"cannot open workspace database {path}: {exc}") from exc
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_versions "
        "(namespace TEXT PRIMARY KEY, version INTEGER NOT NULL)"
    )
    return conn


def _migrate(conn: sqlite3.Connection) -> None:
    seen = {r[0]: r[1] for r in conn.execute("SELECT namespace, version FROM schema_versions")}
    for namespace, migrations in _MIGRATIONS.items():
        current = seen.get(namespace, 0)
        for number, migration in enumerate(migrations[current:], start=current + 1):
            _apply(conn, namespace, number, migration)


def _apply(conn: sqlite3.Connection, namespace: str, number: int, migration: Migration) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        row = conn.execute(
            "SELECT version FROM schema_versions WHERE namespace = ?", (namespace,)
        ).fetchone()
        if row is not None and row[0] >= number:  # another process got there first
            conn.execute("COMMIT")
            return
        if isinstance(migration, str):
            for statement in _split_sql(migration):
                conn.execute(statement)
        else:
            migration(conn)
        conn.execute(
            "INSERT INTO schema_versions (namespace, version) VALUES (?, ?) "
            "ON CONFLICT(namespace) DO UPDATE SET version = excluded.version",
            (namespace, number),
        )
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _split_sql(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
