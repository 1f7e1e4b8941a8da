"""Tracking records written by training jobs as JSON lines, and their exactly-once ingestion.

Training processes never write the workspace database. Inside a job, ``Tracker.load()`` and
``load_run()`` append JSON lines to ``$SAGESCALE_TRACKING_DIR/<pid>-<random>.jsonl`` (one file
per process, so ranks never interleave). The orchestrator calls :func:`ingest_job_files`
periodically and once at job end. Only complete lines (ending in a newline) are read; the
byte offset reached in each file is stored in the same SQLite transaction as the records it
covers, so killing and restarting the orchestrator neither loses nor duplicates a record.

This module imports only the standard library: it runs inside training jobs.
"""

from __future__ import annotations

import atexit
import json
import logging
import os
import secrets
import shutil
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sagescale.tracking._sqlite import JobBatch
    from sagescale.tracking._store import ExperimentStore

__all__ = [
    "TRACKING_DIR_ENV",
    "JobFileWriter",
    "ingest_job_files",
]

TRACKING_DIR_ENV = "SAGESCALE_TRACKING_DIR"
_LOG = logging.getLogger("sagescale.tracking")
_FLUSH_RECORDS = 2048
_FLUSH_SECONDS = 1.0
_CHUNK_BYTES = 4 << 20


_monotonic = time.monotonic


def artifact_file_name(name: str) -> str:
    """The file name an artifact named ``name`` is stored under: one path component (an
    artifact name may hold ``/`` or ``..``; as a path it failed, or escaped the folder)."""
    safe = name.replace("/", "_").replace("\\", "_")
    return f"_{safe}" if safe in ("", ".", "..") else safe


class JobFileWriter:
    """Buffers records in memory and appends them to this process's JSON-lines file.

    A flush happens every ``flush_records`` records, when ``flush_seconds`` have passed since
    the last flush (checked on each record), on :meth:`flush`/:meth:`close`, and at interpreter
    exit (so a job that raises keeps what it logged). Each flush is one ``write`` call of
    whole lines. A process killed with SIGKILL loses at most its unflushed tail.
    """

    def __init__(
        self,
        directory: str | os.PathLike[str],
        *,
        flush_records: int = _FLUSH_RECORDS,
        flush_seconds: float = _FLUSH_SECONDS,
    ) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.path = self.directory / f"{os.getpid()}-{secrets.token_hex(4)}.jsonl"
        self._buffer: list[str] = []
        self._names: dict[str, str] = {}
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._flush_records = flush_records
        self._flush_seconds = flush_seconds
        self._deadline = time.monotonic() + flush_seconds
        atexit.register(self.close)

    def metric(self, name: str, value: float, step: int | None, timestamp: float) -> None:
        enc = self._names.get(name)
        if enc is None:
            enc = self._names[name] = json.dumps(name)
        # x - x == 0 only for finite floats: repr() is valid JSON exactly then
        v = repr(value) if value - value == 0 else json.dumps(value)
        t = repr(timestamp) if timestamp - timestamp == 0 else json.dumps(timestamp)
        buffer = self._buffer
        buffer.append(f'{{"m":{enc},"v":{v},"s":{"null" if step is None else step},"t":{t}}}\n')
        if len(buffer) >= self._flush_records or _monotonic() >= self._deadline:
            self.flush()

    def record(self, kind: str, name: str, **fields: Any) -> None:
        """A non-metric record: ``p`` parameter, ``i``/``o`` artifact, ``f`` file."""
        self._buffer.append(json.dumps({kind: name, **fields}) + "\n")
        self.flush()

    def add_file(
        self, name: str, source: str | os.PathLike[str], *, direction: str = "output"
    ) -> None:
        """Copy a file next to the records now (the job may delete it) and record it."""
        target_dir = self.directory / "artifacts"
        target_dir.mkdir(exist_ok=True)
        target = target_dir / f"{secrets.token_hex(4)}-{artifact_file_name(name)}"
        shutil.copyfile(source, target)
        self.record("f", name, path=str(target.relative_to(self.directory)), d=direction)

    def flush(self) -> None:
        with self._lock:
            self._deadline = time.monotonic() + self._flush_seconds
            if not self._buffer:
                return
            data = "".join(self._buffer).encode()
            self._buffer.clear()
            if self._fd is None:
                flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
                self._fd = os.open(self.path, flags, 0o644)
            view = memoryview(data)
            while view:
                written = os.write(self._fd, view)
                view = view[written:]

    def close(self) -> None:
        self.flush()
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
        atexit.unregister(self.close)


# ingestion (orchestrator side) --------------------------------------------------------------
def ingest_job_files(
    store: ExperimentStore,
    tracking_dir: str | os.PathLike[str],
    trial_component_name: str,
    *,
    chunk_bytes: int = _CHUNK_BYTES,
) -> int:
    """Ingest what the job's processes appended since the last call; return records ingested.

    Call it periodically while a job runs and once after it ends. With the SQLite store each
    chunk and the new file offset commit in one transaction (exactly once). Other stores keep
    offsets in ``<tracking_dir>/.ingested-<component>.json``, written after each chunk is
    applied: a crash between the two re-sends that chunk (at least once).
    """
    directory = Path(tracking_dir)
    if not directory.is_dir():
        return 0
    offsets = _load_offsets(store, directory, trial_component_name)
    transactional = offsets is not None
    offsets = offsets if offsets is not None else _read_sidecar(directory, trial_component_name)
    total = 0
    for path in sorted(directory.glob("*.jsonl")):
        total += _ingest_file(
            store, path, trial_component_name, offsets, transactional, chunk_bytes
        )
    return total


def _load_offsets(
    store: ExperimentStore, directory: Path, trial_component_name: str
) -> dict[str, int] | None:
    loader = getattr(store, "load_ingest_offsets", None)
    return None if loader is None else dict(loader(trial_component_name))


def _sidecar(directory: Path, name: str) -> Path:
    return directory / f".ingested-{name}.json"


def _read_sidecar(directory: Path, name: str) -> dict[str, int]:
    try:
        data = json.loads(_sidecar(directory, name).read_text())
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()}


def _write_sidecar(directory: Path, name: str, offsets: Mapping[str, int]) -> None:
    tmp = _sidecar(directory, name).with_suffix(".tmp")
    tmp.write_text(json.dumps(dict(offsets)))
    os.replace(tmp, _sidecar(directory, name))


def _ingest_file(
    store: ExperimentStore,
    path: Path,
    component: str,
    offsets: dict[str, int],
    transactional: bool,
    chunk_bytes: int,
) -> int:
    total = 0
    with path.open("rb") as fh:
        while True:
            start = offsets.get(path.name, 0)
            fh.seek(start)
            data = fh.read(chunk_bytes)
            cut = data.rfind(b"\n")
            if cut < 0:
                if len(data) >= chunk_bytes:  # one line longer than a chunk: grow the chunk
                    chunk_bytes *= 2
                    continue
                return total
            batch, count = _parse(data[: cut + 1], path.parent)
            end = start + cut + 1
            _apply(store, component, path.name, start, end, batch, transactional)
            offsets[path.name] = end
            if not transactional:
                _write_sidecar(path.parent, component, offsets)
            total += count


def _apply(
    store: ExperimentStore,
    component: str,
    key: str,
    start: int,
    end: int,
    batch: JobBatch,
    transactional: bool,
) -> None:
    if transactional:
        store.apply_ingest(component, key, start, end, batch)  # type: ignore[attr-defined]
        return
    inputs, outputs = batch.artifacts_with_files(store, component)
    if batch.parameters or inputs or outputs:
        store.update_trial_component(
            component, parameters=batch.parameters, input_artifacts=inputs, output_artifacts=outputs
        )
    points = batch.points + batch.valid_records()
    if points:
        store.log_metrics(component, points)


def _parse(data: bytes, directory: Path) -> tuple[JobBatch, int]:
    """Parse complete lines. Fast path: a chunk of metric lines only (what a training loop
    writes) is parsed as one JSON array in one C call and handed to SQLite as it is."""
    from sagescale.tracking._sqlite import JobBatch

    batch = JobBatch()
    lines = data.count(b"\n")
    if data.count(b'{"m":') == lines and data.startswith(b'{"m":'):
        try:
            records = json.loads(b"[" + data[:-1].replace(b"\n", b",") + b"]")
        except ValueError:
            records = None
        if isinstance(records, list) and len(records) == lines:
            batch.records = records
            return batch, lines
    count = 0
    for rec in _parse_lines(data):
        count += _add_record(batch, rec, directory)
    return batch, count


def _parse_lines(data: bytes) -> Iterator[dict[str, Any]]:
    for line in data.splitlines():
        try:
            rec = json.loads(line)
        except ValueError as exc:
            _LOG.warning("skipping a malformed tracking record %r: %s", line[:200], exc)
            continue
        if isinstance(rec, dict):
            yield rec


def _add_record(batch: JobBatch, rec: dict[str, Any], directory: Path) -> int:
    from sagescale.tracking._model import Artifact
    from sagescale.tracking._sqlite import checked_point

    try:
        if "m" in rec:
            batch.points.append(checked_point(rec["m"], rec["v"], rec["s"], rec["t"]))
        elif "p" in rec:
            batch.parameters[rec["p"]] = rec["v"]
        elif "i" in rec or "o" in rec:
            side = batch.input_artifacts if "i" in rec else batch.output_artifacts
            side[rec.get("i") or rec["o"]] = Artifact(str(rec["v"]), rec.get("mt"))
        elif "f" in rec:
            files = batch.input_files if rec.get("d") == "input" else batch.files
            files[rec["f"]] = directory / rec["path"]
        else:
            raise KeyError("no record kind")
    except (ValueError, KeyError, TypeError) as exc:
        _LOG.warning("skipping a malformed tracking record %r: %s", rec, exc)
        return 0
    return 1
