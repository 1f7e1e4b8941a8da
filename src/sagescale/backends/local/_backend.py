"""``LocalBackend``: training jobs as processes on this machine, under SageMaker's contract."""

from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, ClassVar, TextIO

from sagescale._workspace import Workspace
from sagescale.backends._base import (
    TERMINAL_STATUSES,
    Backend,
    JobDescription,
    JobStatus,
    MetricPoint,
    StatusTransition,
    check_destination,
    check_list_arguments,
    check_submit_arguments,
    check_timeout,
)
from sagescale.backends.local import _plan, _store
from sagescale.backends.local._supervisor import (
    CONTROL_DIR,
    INTERRUPT_FILE,
    LOG_DIR,
    META_DIR,
    STATE_FILE,
    STOP_FILE,
    SUPERVISOR_LOG,
    log_records,
    parse_log_line,
    read_json,
)
from sagescale.backends.local._tracking import DEFAULT_BASE_JOB_NAME, JobTracking, tracking_names
from sagescale.errors import BackendError, JobFailedError, NotFoundError, SpecError
from sagescale.specs import ExperimentConfig, TrainingJob, unique_name

__all__ = ["LocalBackend"]

SUPERVISOR_SCRIPT = Path(__file__).with_name("_supervisor.py")
#: Loads the supervisor module by path, so its compiled ``.pyc`` is reused (a script run as
#: ``python file.py`` is compiled on every start, as is any module under
#: ``PYTHONDONTWRITEBYTECODE``) and nothing else of sagescale is imported.
SUPERVISOR_BOOT = (
    "import importlib.util, sys\n"
    "sys.dont_write_bytecode = False\n"
    "spec = importlib.util.spec_from_file_location('sagescale_local_supervisor', sys.argv[1])\n"
    "module = importlib.util.module_from_spec(spec)\n"
    "sys.modules[spec.name] = module\n"
    "spec.loader.exec_module(module)\n"
    "sys.exit(module.main(sys.argv[2:]))\n"
)
#: A job whose supervisor never got a pid this long after submit is failed.
UNSTARTED_GRACE_SECONDS = 120.0
#: A live process's claim to record a job's end in tracking is taken over after this long
#: (a dead process's claim at once).
TRACKING_CLAIM_SECONDS = 600.0
_TERMINAL = {s.value for s in TERMINAL_STATUSES}


def _dt(epoch: float | None) -> datetime | None:
    return None if epoch is None else datetime.fromtimestamp(epoch, tz=timezone.utc)


def _epoch(value: datetime | None) -> float | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.timestamp()


class LocalBackend(Backend):
    """Runs training jobs as local processes that see SageMaker's training-container contract.

    Each job gets a directory ``<workspace>/jobs/<job-name>/`` in place of ``/opt/ml`` and a
    detached supervisor process, so jobs outlive the process that submitted them and any
    process with the same workspace can ``attach`` to them. The workspace database is
    updated from the supervisor's state file whenever a job is described, listed or waited
    on.

    Args:
        workspace: the workspace folder (default: ``SAGESCALE_WORKSPACE`` or ``./.sagescale``)
            or an open :class:`~sagescale._workspace.Workspace`.
        processes_per_host: processes per simulated host for distributed jobs whose spec
            does not set ``distribution.processes_per_host`` (default 2).
        stream_logs: print every job's log lines live, prefixed with the host name.
        region: the region written into ``sagemaker_region`` (default ``AWS_DEFAULT_REGION``,
            else ``us-east-1``).
        stop_grace_seconds: time between SIGTERM and SIGKILL when a job is stopped.
        master_port: a fixed rendezvous port for torchrun (default: a free port per attempt).
        poll_interval: longest sleep between status checks in :meth:`wait`.
        tracking: record every job in an experiment (``sagescale.tracking.autotrack``).
        tracking_store: the experiment store (default: ``SAGESCALE_TRACKING_URI``, else the
            workspace's SQLite store).
    """

    name: ClassVar[str] = "local"

    def __init__(
        self,
        workspace: str | os.PathLike[str] | Workspace | None = None,
        *,
        processes_per_host: int | None = None,
        stream_logs: bool = False,
        region: str | None = None,
        stop_grace_seconds: float = 10.0,
        master_port: int | None = None,
        poll_interval: float = 0.5,
        tracking: bool = True,
        tracking_store: Any = None,
    ) -> None:
        _check_settings(
            processes_per_host=processes_per_host,
            stop_grace_seconds=stop_grace_seconds,
            master_port=master_port,
            poll_interval=poll_interval,
            region=region,
            stream_logs=stream_logs,
            tracking=tracking,
        )
        self.workspace = (
            workspace if isinstance(workspace, Workspace) else Workspace.open(workspace)
        )
        self.processes_per_host = processes_per_host
        self.stream_logs = stream_logs
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        self.stop_grace_seconds = stop_grace_seconds
        self.master_port = master_port
        self.poll_interval = poll_interval
        self._lock = threading.RLock()
        #: set when the supervisor this process started has exited (a daemon thread reaps it)
        self._supervisors: dict[str, threading.Event] = {}
        self._extractors: dict[str, _store.MetricExtractor] = {}
        self.workspace.connection()  # apply migrations now
        self._tracking = JobTracking(self.workspace, tracking_store, enabled=tracking)

    def __repr__(self) -> str:
        return f"LocalBackend(workspace={str(self.workspace.root)!r})"

    @property
    def tracking_store(self) -> Any:
        """The experiment store its jobs are recorded in (``None`` with ``tracking=False``);
        the tuner records its tuning jobs there too."""
        return self._tracking.store() if self._tracking.enabled else None

    # -- submit ------------------------------------------------------------------------------------
    def submit(
        self,
        job: TrainingJob,
        *,
        job_name: str | None = None,
        hyperparameters: Mapping[str, str | int | float | bool] | None = None,
        experiment_config: ExperimentConfig | None = None,
        tuning_job_name: str | None = None,
    ) -> str:
        """Validate ``job``, lay out its directory, start its supervisor; return its name."""
        args = check_submit_arguments(
            job,
            job_name=job_name,
            hyperparameters=hyperparameters,
            experiment_config=experiment_config,
            tuning_job_name=tuning_job_name,
        )
        _plan.check_inputs(job)
        job_name, hyperparameters = args.job_name, args.hyperparameters
        config = args.experiment_config or job.experiment_config
        name, job_dir = self._reserve(job, job_name)
        created = time.time()
        try:
            planned = self._build(job, name, job_dir, hyperparameters, config)
            _plan.write_initial_state(job_dir, name, created)
            self._insert(job, name, job_dir, planned, created, config, tuning_job_name)
        except BaseException as exc:
            shutil.rmtree(job_dir, ignore_errors=True)
            if isinstance(exc, OSError | sqlite3.Error):
                raise BackendError(str(exc), call="submit", job_name=name) from exc
            raise
        self._tracking.start(job, name, planned.hyperparameters, config, list(job.environment))
        self._launch(name, job_dir)
        if self.stream_logs:
            self._start_streaming(name)
        return name

    def _reserve(self, job: TrainingJob, job_name: str | None) -> tuple[str, Path]:
        """Claim a job directory (``mkdir`` is atomic across threads and processes)."""
        jobs = self.workspace.jobs_dir
        if job_name is not None:
            if self._exists(job_name) or not _try_mkdir(jobs / job_name):
                raise SpecError(
                    f"job_name = {job_name!r}: a job of that name already exists in "
                    f"{self.workspace.root} (job names are used once)",
                    field="job_name",
                    value=job_name,
                )
            return job_name, jobs / job_name
        base = job.base_job_name or DEFAULT_BASE_JOB_NAME
        for _ in range(1000):
            name = unique_name(base)
            if not self._exists(name) and _try_mkdir(jobs / name):
                return name, jobs / name
            time.sleep(0.001)
        raise BackendError("no free job name", call="submit", job_name=base)

    def _exists(self, job_name: str) -> bool:
        rows = self.workspace.query("SELECT 1 FROM jobs_training WHERE name = ?", (job_name,))
        return bool(rows)

    def _build(
        self,
        job: TrainingJob,
        name: str,
        job_dir: Path,
        overrides: Mapping[str, str | int | float | bool] | None,
        config: ExperimentConfig | None,
    ) -> _plan.JobPlan:
        settings = _plan.PlanSettings(
            region=self.region,
            processes_per_host=self.processes_per_host,
            stop_grace_seconds=self.stop_grace_seconds,
            master_port=self.master_port,
            workspace_root=self.workspace.root,
            tracking_names=tracking_names(job, name, config),
        )
        return _plan.build_plan(
            job, job_name=name, job_dir=job_dir, settings=settings, overrides=overrides
        )

    def _insert(
        self,
        job: TrainingJob,
        name: str,
        job_dir: Path,
        planned: _plan.JobPlan,
        created: float,
        config: ExperimentConfig | None,
        tuning_job_name: str | None,
    ) -> None:
        extra = {
            "job_dir": str(job_dir),
            "hosts": [h["name"] for h in planned.plan["hosts"]],
            "processes_per_host": _plan.local_processes_per_host(job, self.processes_per_host),
            "tracking": planned.plan["hosts"][0]["env"].get("SAGESCALE_TRIAL_COMPONENT_NAME"),
        }
        with self.workspace.transaction() as conn:
            conn.execute(
                "INSERT INTO jobs_training (name, status, secondary_status, creation_time, "
                "start_time, output_path, tuning_job_name, experiment_config, spec, "
                "hyperparameters, job_dir, extra, transitions, tracking_pending) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    JobStatus.IN_PROGRESS.value,
                    "Starting",
                    created,
                    created,
                    job.output_path,
                    tuning_job_name,
                    None if config is None else config.model_dump_json(),
                    job.model_dump_json(),
                    json.dumps(planned.hyperparameters),
                    str(job_dir),
                    json.dumps(extra),
                    json.dumps([{"status": "Starting", "start": created, "end": None}]),
                    int(self._tracking.enabled),
                ),
            )

    def _launch(self, name: str, job_dir: Path) -> None:
        log = (job_dir / META_DIR / SUPERVISOR_LOG).open("ab")
        try:
            proc = subprocess.Popen(
                [sys.executable, "-c", SUPERVISOR_BOOT, str(SUPERVISOR_SCRIPT), str(job_dir)],
                cwd=job_dir,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                close_fds=True,
            )
        except OSError as exc:
            self._fail_unstarted(name, job_dir, f"InternalServerError: cannot start: {exc}")
            return
        finally:
            log.close()
        exited = threading.Event()

        def reap() -> None:
            proc.wait()
            exited.set()

        threading.Thread(target=reap, name=f"reap-{name}", daemon=True).start()
        with self._lock:
            self._supervisors[name] = exited
        with self.workspace.transaction() as conn:
            conn.execute(
                "UPDATE jobs_training SET supervisor_pid = ? WHERE name = ?", (proc.pid, name)
            )

    def _fail_unstarted(self, name: str, job_dir: Path, reason: str) -> None:
        state = _plan.initial_state(name, time.time())
        state.update(status="Failed", secondary_status="Failed", failure_reason=reason)
        state["end_time"] = time.time()
        from sagescale.backends.local._supervisor import write_json_atomic

        write_json_atomic(job_dir / META_DIR / STATE_FILE, state)

    # -- state sync --------------------------------------------------------------------------------
    def _row(self, job_name: str) -> Any:
        rows = self.workspace.query("SELECT * FROM jobs_training WHERE name = ?", (job_name,))
        if not rows:
            raise NotFoundError(f"no training job named {job_name!r} in {self.workspace.root}")
        return rows[0]

    def _extractor(self, row: Any) -> _store.MetricExtractor:
        name = row["name"]
        with self._lock:
            extractor = self._extractors.get(name)
            if extractor is None:
                spec = json.loads(row["spec"])
                defs = [(d["name"], d["regex"]) for d in spec.get("metric_definitions", [])]
                extractor = _store.MetricExtractor.from_definitions(defs)
                self._extractors[name] = extractor
            return extractor

    def _sync(self, job_name: str) -> Any:
        """Bring the database row of ``job_name`` up to date with its job directory."""
        row = self._row(job_name)
        if row["finalized"]:
            if row["tracking_pending"] and self._tracking.enabled:
                self._reconcile_tracking(row)
            return row
        job_dir = Path(row["job_dir"])
        state = self._read_state(job_dir)
        if state is None:
            return row
        if state.get("status") not in _TERMINAL and not self._alive(row, state):
            state = self._read_state(job_dir) or state  # it may have just finished
            if state.get("status") not in _TERMINAL:
                state = _dead_supervisor_state(state, job_dir)
        _store.ingest_metrics(self.workspace, job_name, job_dir, self._extractor(row))
        terminal = state.get("status") in _TERMINAL
        if not terminal:
            self._tracking.ingest(job_name, job_dir)
        changed = int(state.get("seq", 0)) != row["state_seq"] or terminal
        if changed and self._apply_state(row, state, job_dir, terminal) and terminal:
            self._on_terminal(job_name, job_dir)
        return self._row(job_name)

    def _read_state(self, job_dir: Path) -> dict[str, Any] | None:
        try:
            data = read_json(job_dir / META_DIR / STATE_FILE)
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def _alive(self, row: Any, state: Mapping[str, Any]) -> bool:
        with self._lock:
            exited = self._supervisors.get(row["name"])
        if exited is not None:
            return not exited.is_set()
        pid = state.get("supervisor_pid") or row["supervisor_pid"]
        if pid is None:  # not started yet, unless its submitter died long ago
            return time.time() - float(row["creation_time"]) < UNSTARTED_GRACE_SECONDS
        return _pid_alive(int(pid))

    def _apply_state(
        self, row: Any, state: Mapping[str, Any], job_dir: Path, terminal: bool
    ) -> bool:
        """Copy ``state`` into the row; False when another caller finalized it first."""
        status = str(state.get("status", row["status"]))
        if (
            status == JobStatus.IN_PROGRESS.value
            and (job_dir / META_DIR / CONTROL_DIR / STOP_FILE).exists()
        ):
            status = JobStatus.STOPPING.value
        extra = json.loads(row["extra"])
        for key in (
            "interruptions",
            "training_seconds",
            "output_artifacts",
            "supervisor_pid",
            "exit_codes",
        ):
            if key in state:
                extra[key] = state[key]
        values: dict[str, Any] = {
            "status": status,
            "secondary_status": state.get("secondary_status", row["secondary_status"]),
            "start_time": state.get("start_time", row["start_time"]),
            "end_time": state.get("end_time"),
            "failure_reason": state.get("failure_reason"),
            "exit_code": state.get("exit_code"),
            "model_artifacts": state.get("model_artifacts"),
            "attempts": int(state.get("attempts", 1)),
            "transitions": json.dumps(state.get("transitions", [])),
            "extra": json.dumps(extra),
            "state_seq": int(state.get("seq", 0)),
        }
        if terminal:
            values["final_metrics"] = json.dumps(_store.final_metrics(self.workspace, row["name"]))
            values["finalized"] = 1
            if self._tracking.enabled:  # claimed with the finalisation: _on_terminal records
                values["tracking_owner"] = os.getpid()
                values["tracking_claimed"] = time.time()
        assignments = ", ".join(f"{key} = ?" for key in values)
        with self.workspace.transaction() as conn:
            cursor = conn.execute(
                f"UPDATE jobs_training SET {assignments} WHERE name = ? AND finalized = 0",
                (*values.values(), row["name"]),
            )
            return cursor.rowcount > 0

    def _on_terminal(self, job_name: str, job_dir: Path) -> None:
        with self._lock:
            exited = self._supervisors.pop(job_name, None)
            self._extractors.pop(job_name, None)
        if exited is not None:
            exited.wait(timeout=5)
        if self._tracking.enabled:
            self._record_end(job_name, job_dir, reconcile=False)

    def _record_end(self, job_name: str, job_dir: Path, *, reconcile: bool) -> None:
        """Record the end of a job this process has claimed, then clear the claim: the job
        is done when recorded, and left for the next describe/list/wait when not."""
        recorded = False
        try:
            desc = self._describe_row(self._row(job_name))
            points = _store.read_points(self.workspace, job_name)
            recorded = self._tracking.end(desc, points, job_dir, reconcile=reconcile)
        finally:
            pending = 0 if recorded else 1
            with self.workspace.transaction() as conn:
                conn.execute(
                    "UPDATE jobs_training SET tracking_pending = ?, tracking_owner = NULL, "
                    "tracking_claimed = NULL WHERE name = ? AND tracking_owner = ?",
                    (pending, job_name, os.getpid()),
                )

    def _reconcile_tracking(self, row: Any) -> None:
        """Record the end of a finished job whose end is not recorded in tracking yet (the
        process that finalised it died first, or its attempt failed). Whoever claims the
        row records it; a claim held by a live process is left alone."""
        owner, claimed = row["tracking_owner"], row["tracking_claimed"]
        now = time.time()
        if (
            owner is not None
            and (owner == os.getpid() or _pid_alive(int(owner)))
            and now - float(claimed or 0.0) < TRACKING_CLAIM_SECONDS
        ):
            return  # being recorded
        with self.workspace.transaction() as conn:
            cursor = conn.execute(
                "UPDATE jobs_training SET tracking_owner = ?, tracking_claimed = ? "
                "WHERE name = ? AND tracking_pending = 1 AND tracking_owner IS ? "
                "AND tracking_claimed IS ?",
                (os.getpid(), now, row["name"], owner, claimed),
            )
            if cursor.rowcount == 0:
                return  # another process claimed it first
        self._record_end(row["name"], Path(row["job_dir"]), reconcile=True)

    # -- describe / list ---------------------------------------------------------------------------
    def describe(self, job_name: str) -> JobDescription:
        return self._describe_row(self._sync(job_name))

    def attach(self, job_name: str) -> JobDescription:
        """Take over a job started by another process (same workspace); returns its state."""
        return self.describe(job_name)

    def _describe_row(self, row: Any) -> JobDescription:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            spec = TrainingJob.model_validate_json(row["spec"])
            config = (
                ExperimentConfig.model_validate_json(row["experiment_config"])
                if row["experiment_config"]
                else None
            )
        return JobDescription(
            job_name=row["name"],
            backend=self.name,
            status=JobStatus(row["status"]),
            secondary_status=row["secondary_status"],
            creation_time=_dt(row["creation_time"]) or datetime.now(tz=timezone.utc),
            spec=spec,
            hyperparameters=json.loads(row["hyperparameters"]),
            start_time=_dt(row["start_time"]),
            end_time=_dt(row["end_time"]),
            failure_reason=row["failure_reason"],
            exit_code=row["exit_code"],
            model_artifacts=row["model_artifacts"],
            output_path=row["output_path"],
            final_metrics=json.loads(row["final_metrics"]),
            transitions=_transitions(json.loads(row["transitions"])),
            tuning_job_name=row["tuning_job_name"],
            experiment_config=config,
            attempts=int(row["attempts"]),
            extra=json.loads(row["extra"]),
        )

    def list_jobs(
        self,
        *,
        status: JobStatus | str | None = None,
        name_contains: str | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        max_results: int = 100,
    ) -> list[JobDescription]:
        check_list_arguments(
            name_contains=name_contains,
            created_after=created_after,
            created_before=created_before,
            max_results=max_results,
        )
        pending = "finalized = 0"
        if self._tracking.enabled:
            pending += " OR tracking_pending = 1"
        for row in self.workspace.query(f"SELECT name FROM jobs_training WHERE {pending}"):
            with contextlib.suppress(NotFoundError):
                self._sync(row["name"])
        sql, params = _list_query(status, name_contains, created_after, created_before, max_results)
        return [self._describe_row(row) for row in self.workspace.query(sql, params)]

    # -- wait / stop -------------------------------------------------------------------------------
    def wait(
        self,
        job_name: str,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        logs: bool = False,
    ) -> JobDescription:
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        tail = _LogTail(self.job_dir(job_name)) if logs else None
        delay = 0.01
        while True:
            desc = self.describe(job_name)
            if tail is not None:
                tail.emit(sys.stdout)
            if desc.done:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise BackendError(
                    f"still {desc.status} after {timeout} s", call="wait", job_name=job_name
                )
            self._sleep(job_name, min(delay, _remaining(deadline)))
            delay = min(delay * 1.5, self.poll_interval)
        if raise_on_failure and desc.status in (JobStatus.FAILED, JobStatus.STOPPED):
            raise JobFailedError(job_name, desc.status.value, desc.failure_reason)
        return desc

    def _sleep(self, job_name: str, seconds: float) -> None:
        with self._lock:
            exited = self._supervisors.get(job_name)
        if exited is None:
            time.sleep(seconds)
            return
        exited.wait(timeout=seconds)

    def stop(self, job_name: str) -> None:
        """Ask the job to stop: SIGTERM to its processes, SIGKILL after the grace period."""
        row = self._row(job_name)
        if row["finalized"] or row["status"] in _TERMINAL:
            return
        control = Path(row["job_dir"]) / META_DIR / CONTROL_DIR
        control.mkdir(parents=True, exist_ok=True)
        (control / STOP_FILE).touch()
        with self.workspace.transaction() as conn:
            conn.execute(
                "UPDATE jobs_training SET status = ? WHERE name = ? AND status = ?",
                (JobStatus.STOPPING.value, job_name, JobStatus.IN_PROGRESS.value),
            )

    def interrupt(self, job_name: str) -> None:
        """Inject a spot interruption: the job's processes are stopped as in a spot reclaim
        and the job restarts (resuming from ``checkpoints/``). Only for ``spot`` jobs."""
        row = self._row(job_name)
        spec = json.loads(row["spec"])
        if not spec.get("spot"):
            raise SpecError(
                f"interrupt({job_name!r}): the job does not use managed spot training "
                "(set spot: {max_wait_seconds: ...})",
                field="spot",
                value=None,
            )
        if row["status"] in _TERMINAL:
            return
        control = Path(row["job_dir"]) / META_DIR / CONTROL_DIR
        control.mkdir(parents=True, exist_ok=True)
        (control / INTERRUPT_FILE).touch()

    # -- logs / metrics / artifacts ----------------------------------------------------------------
    def job_dir(self, job_name: str) -> Path:
        """The job's directory (the ``/opt/ml`` stand-in)."""
        return Path(self._row(job_name)["job_dir"])

    def logs(self, job_name: str) -> str:
        lines = list(_merged_log_lines(self.job_dir(job_name)))
        return "".join(f"[{host}] {text}\n" for _, host, text in lines)

    def metrics(self, job_name: str, names: Sequence[str] | None = None) -> list[MetricPoint]:
        if names is not None and (
            isinstance(names, str)
            or not isinstance(names, Sequence | set | frozenset)
            or not all(isinstance(n, str) for n in names)
        ):
            raise SpecError(
                f"names = {names!r}: must be a list of metric names (or None for all)",
                field="names",
                value=names,
            )
        self._sync(job_name)
        return _store.read_points(self.workspace, job_name, names)

    def download_model(self, job_name: str, destination: str | Path) -> Path:
        target_dir = check_destination(destination)
        desc = self.describe(job_name)
        if desc.model_artifacts is None:
            raise BackendError(
                f"no model artifact (status {desc.status})",
                call="download_model",
                job_name=job_name,
            )
        target = target_dir / "model.tar.gz"
        source = desc.model_artifacts
        try:
            target_dir.mkdir(parents=True, exist_ok=True)
            if source.startswith("s3://"):
                import boto3

                bucket, _, key = source.removeprefix("s3://").partition("/")
                boto3.client("s3").download_file(bucket, key, str(target))
            else:
                shutil.copyfile(source, target)
        except Exception as exc:
            raise BackendError(str(exc), call="download_model", job_name=job_name) from exc
        return target

    def _start_streaming(self, job_name: str) -> None:
        def stream() -> None:
            tail = _LogTail(self.job_dir(job_name))
            while True:
                done = self._read_state(tail.job_dir) or {}
                tail.emit(sys.stdout)
                if done.get("status") in _TERMINAL:
                    tail.emit(sys.stdout)
                    return
                time.sleep(0.2)

        threading.Thread(target=stream, name=f"logs-{job_name}", daemon=True).start()


# -- helpers -----------------------------------------------------------------------------------
def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_settings(**settings: object) -> None:
    """The constructor's settings, each checked against its rule (``SpecError`` names it)."""
    rules: dict[str, tuple[Callable[[object], bool], str]] = {
        "processes_per_host": (
            lambda v: v is None or (_is_int(v) and 1 <= v <= 64),  # type: ignore[operator]
            "must be an integer between 1 and 64 (or None)",
        ),
        "stop_grace_seconds": (
            lambda v: _is_number(v) and v >= 0,  # type: ignore[operator]
            "must be a finite number of seconds >= 0",
        ),
        "master_port": (
            lambda v: v is None or (_is_int(v) and 1 <= v <= 65535),  # type: ignore[operator]
            "must be a TCP port between 1 and 65535 (or None: a free port per attempt)",
        ),
        "poll_interval": (
            lambda v: _is_number(v) and v > 0,  # type: ignore[operator]
            "must be a finite number of seconds > 0",
        ),
        "region": (
            lambda v: v is None or (isinstance(v, str) and v != ""),
            "must be a region name such as 'us-east-1' (or None)",
        ),
        "stream_logs": (lambda v: isinstance(v, bool), "must be True or False"),
        "tracking": (lambda v: isinstance(v, bool), "must be True or False"),
    }
    for name, value in settings.items():
        accept, rule = rules[name]
        if not accept(value):
            raise SpecError(f"{name} = {value!r}: {rule}", field=name, value=value)


def _try_mkdir(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=False)
    except FileExistsError:
        return False
    return True


def _remaining(deadline: float | None) -> float:
    return 1e9 if deadline is None else max(0.0, deadline - time.monotonic())


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def _dead_supervisor_state(state: Mapping[str, Any], job_dir: Path) -> dict[str, Any]:
    """The job failed with its supervisor; its orphaned process groups are killed."""
    for pgid in state.get("process_groups") or []:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(int(pgid), signal.SIGKILL)
    out = dict(state)
    out["process_groups"] = []
    now = time.time()
    reason = "InternalServerError: the job's supervisor process ended unexpectedly"
    log = job_dir / META_DIR / SUPERVISOR_LOG
    with contextlib.suppress(OSError):
        tail = log.read_text(errors="replace").strip().splitlines()[-5:]
        if tail:
            reason += ":\n" + "\n".join(tail)
    transitions = list(out.get("transitions", []))
    if transitions and transitions[-1].get("end") is None:
        transitions[-1]["end"] = now
    transitions.append({"status": "Failed", "start": now, "end": now, "message": reason})
    out.update(
        status="Failed",
        secondary_status="Failed",
        failure_reason=reason[:1024],
        end_time=now,
        transitions=transitions,
        seq=int(out.get("seq", 0)) + 1,
    )
    return out


def _transitions(items: list[dict[str, Any]]) -> list[StatusTransition]:
    out = []
    for item in items:
        start = _dt(item.get("start"))
        if start is None:
            continue
        out.append(
            StatusTransition(
                status=str(item.get("status")),
                start_time=start,
                end_time=_dt(item.get("end")),
                message=str(item.get("message") or ""),
            )
        )
    return out


def _list_query(
    status: JobStatus | str | None,
    name_contains: str | None,
    created_after: datetime | None,
    created_before: datetime | None,
    max_results: int,
) -> tuple[str, list[object]]:
    clauses: list[str] = []
    params: list[object] = []
    if status is not None:
        try:
            value = JobStatus(status).value
        except ValueError:
            raise SpecError(
                f"status = {status!r}: must be one of {[s.value for s in JobStatus]}",
                field="status",
                value=status,
            ) from None
        clauses.append("status = ?")
        params.append(value)
    if name_contains:
        clauses.append("instr(name, ?) > 0")
        params.append(name_contains)
    if created_after is not None:
        clauses.append("creation_time > ?")
        params.append(_epoch(created_after))
    if created_before is not None:
        clauses.append("creation_time < ?")
        params.append(_epoch(created_before))
    where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
    params.append(max(0, int(max_results)))
    return f"SELECT * FROM jobs_training{where} ORDER BY creation_time DESC LIMIT ?", params


def _host_logs(job_dir: Path) -> list[Path]:
    return sorted((job_dir / LOG_DIR).glob("*.log"), key=lambda p: _host_key(p.stem))


def _host_key(host: str) -> tuple[int, str]:
    number = host.rsplit("-", 1)[-1]
    return (int(number), host) if number.isdigit() else (0, host)


def _merged_log_lines(job_dir: Path) -> Iterator[tuple[float, str, str]]:
    lines: list[tuple[float, int, str, str]] = []
    for index, path in enumerate(_host_logs(job_dir)):
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")  # keeps \r as is
        except OSError:
            continue
        for raw in log_records(text):
            stamp, _, line = parse_log_line(raw)
            lines.append((stamp, index, path.stem, line))
    lines.sort(key=lambda item: (item[0], item[1]))
    for stamp, _, host, line in lines:
        yield stamp, host, line


class _LogTail:
    """Prints new complete log lines of every host with a ``[host]`` prefix."""

    def __init__(self, job_dir: Path) -> None:
        self.job_dir = job_dir
        self.offsets: dict[Path, int] = {}

    def emit(self, out: TextIO) -> None:
        for path in _host_logs(self.job_dir):
            start = self.offsets.get(path, 0)
            try:
                with path.open("rb") as fh:
                    fh.seek(start)
                    data = fh.read()
            except OSError:
                continue
            cut = data.rfind(b"\n")
            if cut < 0:
                continue
            self.offsets[path] = start + cut + 1
            for raw in log_records(data[: cut + 1].decode("utf-8", errors="replace")):
                out.write(f"[{path.stem}] {parse_log_line(raw)[2]}\n")
        out.flush()
