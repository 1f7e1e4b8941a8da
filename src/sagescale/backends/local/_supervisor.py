"""The per-job supervisor: a detached process that runs one local training job.

``LocalBackend.submit`` lays out the job directory, writes a fully resolved *plan*
(``<job dir>/.sagescale/plan.json``: commands, environment per host, channels, limits) and
starts ``python <this file> <job dir>`` in its own session. From then on the job does not
depend on the process that submitted it: the supervisor downloads the channels, launches
the training process(es) (one per host group; ``torchrun`` for distributed jobs), enforces
``max_run_seconds``, handles stop requests, spot interruptions and retries, packs
``model.tar.gz`` / ``output.tar.gz``, copies them to ``output_path`` and records everything
in ``<job dir>/.sagescale/state.json`` (written atomically). The orchestrating process
reads that file and is the only writer of the workspace database.

Control is by files in ``<job dir>/.sagescale/control/``: ``stop`` (user stop) and
``interrupt`` (an injected spot reclaim). SIGTERM to the supervisor is a stop request.

This module imports only the standard library (boto3 lazily for ``s3://`` URIs) so it starts
fast and never imports the rest of sagescale.
"""

from __future__ import annotations

import collections
import contextlib
import json
import os
import posixpath
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

TYPE_CHECKING = False  # not imported from typing: the supervisor's start-up time counts
if TYPE_CHECKING:
    import tarfile
    from collections.abc import Callable, Iterator, Sequence
    from typing import IO, Any

# shutil, socket, tarfile and boto3 are imported where they are needed: the supervisor's
# start-up time is part of every job's fixed overhead.

__all__ = [
    "CONTROL_DIR",
    "INTERRUPT_FILE",
    "LOG_DIR",
    "META_DIR",
    "PLAN_FILE",
    "STATE_FILE",
    "STOP_FILE",
    "SUPERVISOR_LOG",
    "log_records",
    "main",
    "parse_log_line",
    "read_json",
    "write_json_atomic",
]

META_DIR = ".sagescale"
PLAN_FILE = "plan.json"
STATE_FILE = "state.json"
CONTROL_DIR = "control"
STOP_FILE = "stop"
INTERRUPT_FILE = "interrupt"
LOG_DIR = "logs"
SUPERVISOR_LOG = "supervisor.log"
POLL_SECONDS = 0.02
STDERR_TAIL_LINES = 20
FAILURE_REASON_MAX = 1024


# -- files shared with the orchestrator -------------------------------------------------------
def write_json_atomic(path: Path, data: Any) -> None:
    """Write ``data`` as JSON to ``path`` so readers never see a torn file."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(data, sort_keys=True), encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def format_log_line(timestamp: float, stream: str, text: str) -> str:
    """One line of a host log file: ``<epoch seconds> <o|e> <text>``."""
    return f"{timestamp:.6f} {stream} {text}\n"


def log_records(text: str) -> list[str]:
    """The records of a host log file's text: split on ``\\n`` only, because a record's
    text may hold ``\\r`` (progress bars), form feeds or Unicode line separators, which
    ``str.splitlines`` would wrongly treat as the start of a new record."""
    records = text.split("\n")
    if records and records[-1] == "":
        records.pop()
    return records


def parse_log_line(line: str) -> tuple[float, str, str]:
    """``(timestamp, stream, text)`` of a host log line (``stream`` is ``o`` or ``e``)."""
    stamp, _, rest = line.partition(" ")
    stream, _, text = rest.partition(" ")
    try:
        return float(stamp), stream, text.rstrip("\n")
    except ValueError:
        return 0.0, "o", line.rstrip("\n")


# -- state -------------------------------------------------------------------------------------
class JobState:
    """The job's status as the supervisor sees it; every change is written at once."""

    def __init__(self, meta: Path, initial: dict[str, Any]) -> None:
        self.path = meta / STATE_FILE
        self.data = initial
        self._lock = threading.Lock()

    def update(self, **fields: Any) -> None:
        with self._lock:
            self.data.update(fields)
            self.data["seq"] = int(self.data.get("seq", 0)) + 1
            write_json_atomic(self.path, self.data)

    def secondary(self, status: str, message: str = "") -> None:
        now = time.time()
        transitions: list[dict[str, Any]] = list(self.data.get("transitions", []))
        if transitions and transitions[-1].get("end") is None:
            transitions[-1]["end"] = now
        transitions.append({"status": status, "start": now, "end": None, "message": message})
        self.update(secondary_status=status, transitions=transitions)

    def finish(self, status: str, secondary: str, **fields: Any) -> None:
        self.secondary(secondary, fields.pop("message", ""))
        transitions = list(self.data["transitions"])
        now = time.time()
        transitions[-1]["end"] = now
        self.update(status=status, end_time=now, transitions=transitions, **fields)


# -- the outcome of one attempt ----------------------------------------------------------------
class Outcome:
    """How one attempt (or the job) ended."""

    def __init__(
        self,
        kind: str,  # completed | failed | stopped | max_runtime | max_wait | interrupted
        exit_code: int | None = None,
        reason: str | None = None,
        port_conflict: bool = False,
    ) -> None:
        self.kind = kind
        self.exit_code = exit_code
        self.reason = reason
        self.port_conflict = port_conflict


class HostProcess:
    """The launcher process of one host group and the threads reading its output."""

    def __init__(
        self,
        host: str,
        proc: subprocess.Popen[bytes],
        tail: collections.deque[str],
        readers: list[threading.Thread],
    ) -> None:
        self.host = host
        self.proc = proc
        self.tail = tail
        self.readers = readers


class _Flags:
    def __init__(self) -> None:
        self.sigterm = False


# -- the supervisor ------------------------------------------------------------------------------
class Supervisor:
    def __init__(self, job_dir: Path) -> None:
        self.job_dir = job_dir
        self.meta = job_dir / META_DIR
        self.plan: dict[str, Any] = read_json(self.meta / PLAN_FILE)
        self.control = self.meta / CONTROL_DIR
        self.log_dir = job_dir / LOG_DIR
        self.log_dir.mkdir(parents=True, exist_ok=True)
        self.state = JobState(self.meta, read_json(self.meta / STATE_FILE))
        self.flags = _Flags()
        self.training_seconds = 0.0
        self.first_start = time.monotonic()
        self.port = 0
        self.port_retries = 3
        self.distributed = any("{master_port}" in a for h in self.plan["hosts"] for a in h["argv"])
        self.next_scan = 0.0
        self.launched = False  # an earlier attempt (retry, spot restart) has run

    # -- control --
    def stop_requested(self) -> bool:
        return self.flags.sigterm or (self.control / STOP_FILE).exists()

    def take_interrupt(self) -> bool:
        """A pending spot interruption (only managed spot jobs can be interrupted)."""
        path = self.control / INTERRUPT_FILE
        if not self.plan.get("spot") or not path.exists():
            return False
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        return True

    # -- the job --
    def run(self) -> None:
        self.state.update(supervisor_pid=os.getpid())
        try:
            self.state.secondary("Downloading", "Downloading input data")
            prepare_inputs(self.plan, self.stop_requested)
            outcome = self.run_attempts()
        except StopRequested:  # stopped while the input data was downloading
            outcome = Outcome("stopped", None, None)
        except Exception as exc:  # the job fails, the supervisor reports why
            outcome = Outcome("failed", None, f"ClientError: {exc}")
        self.finish(outcome)

    def run_attempts(self) -> Outcome:
        """Run until the job ends; spot interruptions, port clashes of an automatically
        chosen rendezvous port and (up to ``max_retry_attempts``) failures restart it."""
        while True:
            if self.stop_requested():
                return Outcome("stopped", None, None)
            self.state.secondary("Training", f"Training (attempt {self.state.data['attempts']})")
            outcome = self.run_once()
            if outcome.kind == "interrupted":
                if self.spot_wait_exceeded():
                    return self.max_wait_outcome()
                self.on_interrupted()
                continue
            if outcome.kind != "failed" or self.stop_requested() or not self.may_retry(outcome):
                return outcome

    def may_retry(self, outcome: Outcome) -> bool:
        if outcome.port_conflict and self.plan.get("master_port") is None and self.port_retries:
            self.port_retries -= 1
            self.state.secondary("Restarting", "The rendezvous port was taken; trying another")
            return True
        attempts = int(self.state.data.get("attempts", 1))
        if attempts < int(self.plan["max_attempts"]):
            self.state.update(attempts=attempts + 1)
            self.state.secondary("Restarting", f"Retrying after: {outcome.reason}"[:1024])
            return True
        return False

    def on_interrupted(self) -> None:
        interruptions = int(self.state.data.get("interruptions", 0)) + 1
        self.state.update(interruptions=interruptions)
        self.state.secondary("Interrupted", "Training job interrupted (spot capacity reclaimed)")
        sync_checkpoints_up(self.plan)
        self.state.secondary("Restarting", "Restarting from the last checkpoint")
        self.state.secondary("Starting", "Preparing the instances for training")

    def spot_wait_exceeded(self) -> bool:
        limit = self.plan.get("max_wait_seconds")
        return limit is not None and time.monotonic() - self.first_start > float(limit)

    def max_wait_outcome(self) -> Outcome:
        """The end of a spot job past ``spot.max_wait_seconds``: one reason, whether the
        limit passed while it trained or while an interruption was being handled."""
        limit = int(float(self.plan["max_wait_seconds"]))
        return Outcome(
            "max_wait",
            None,
            f"MaxWaitTimeExceeded: Training job exceeded spot.max_wait_seconds={limit}",
        )

    def run_once(self) -> Outcome:
        free = free_port() if self.distributed else 0
        self.port = port = int(self.plan.get("master_port") or free)
        started = time.monotonic()
        procs: list[HostProcess] = []
        # a fresh container per attempt: an earlier attempt's failure file is not this one's,
        # nor are the model and output files it left (only checkpoints/ carry over)
        Path(self.plan["failure_file"]).unlink(missing_ok=True)
        if self.launched:
            out = self.plan["output"]
            _empty_dir(Path(out["model_dir"]))
            _empty_dir(Path(out["output_data_dir"]))
        self.launched = True
        try:
            for host in self.plan["hosts"]:
                procs.append(self.launch(host, port))
            self.state.update(process_groups=[hp.proc.pid for hp in procs])
            outcome = self.watch(procs, started)
        except OSError as exc:  # the entry point cannot be executed
            code = 127 if isinstance(exc, FileNotFoundError) else 126
            outcome = Outcome("failed", code, f"AlgorithmError: cannot start the job: {exc}")
        finally:
            terminate(procs, float(self.plan["stop_grace_seconds"]))
            for hp in procs:
                for reader in hp.readers:
                    reader.join(timeout=5)
            self.training_seconds += time.monotonic() - started
            self.state.update(
                training_seconds=round(self.training_seconds, 3),
                process_groups=[],
                exit_codes={hp.host: _exit_code(hp.proc.returncode) for hp in procs},
            )
        return outcome

    def launch(self, host: dict[str, Any], port: int) -> HostProcess:
        argv = [str(a).replace("{master_port}", str(port)) for a in host["argv"]]
        env = dict(os.environ)
        env.update(host["env"])
        log = (self.log_dir / f"{host['name']}.log").open("a", encoding="utf-8", buffering=1)
        proc = subprocess.Popen(
            argv,
            cwd=self.plan["cwd"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        tail: collections.deque[str] = collections.deque(maxlen=STDERR_TAIL_LINES)
        lock = threading.Lock()
        readers = [
            _reader(proc.stdout, log, "o", lock, None),
            _reader(proc.stderr, log, "e", lock, tail),
        ]
        return HostProcess(host["name"], proc, tail, readers)

    def watch(self, procs: list[HostProcess], started: float) -> Outcome:
        max_run = float(self.plan["max_run_seconds"])
        while True:
            codes = [hp.proc.poll() for hp in procs]
            failed = next((i for i, c in enumerate(codes) if c not in (None, 0)), None)
            if failed is not None:
                return self.failure(procs[failed])
            if all(c == 0 for c in codes):
                return Outcome("completed", 0, None)
            if self.stop_requested():
                return Outcome("stopped", None, None)
            if self.take_interrupt():
                return Outcome("interrupted", None, None)
            if self.spot_wait_exceeded():
                return self.max_wait_outcome()
            if self.training_seconds + time.monotonic() - started > max_run:
                return Outcome(
                    "max_runtime",
                    None,
                    f"MaxRuntimeExceeded: Training job exceeded max_run_seconds={int(max_run)}",
                )
            self.record_process_groups(procs)
            time.sleep(POLL_SECONDS)

    def record_process_groups(self, procs: list[HostProcess]) -> None:
        """Keep ``process_groups`` in the state file up to date with torchrun's workers (each
        in a session of its own), about once a second, so that the orchestrator can kill
        them all if this supervisor dies."""
        now = time.monotonic()
        if not self.distributed or now < self.next_scan:
            return
        self.next_scan = now + 1.0
        launchers = [hp.proc.pid for hp in procs]
        workers = [pid for pid in descendants(launchers) if _is_group_leader(pid)]
        groups = launchers + sorted(workers)
        if groups != self.state.data.get("process_groups"):
            self.state.update(process_groups=groups)

    def failure(self, hp: HostProcess) -> Outcome:
        code = hp.proc.returncode
        for reader in hp.readers:
            reader.join(timeout=2)
        exit_code = _exit_code(code)
        how = f"ExitCode {exit_code}"
        if code < 0:
            with contextlib.suppress(ValueError):
                how += f" (killed by signal {signal.Signals(-code).name})"
        tail = "\n".join(hp.tail).strip()
        conflict = any(marker in tail for marker in _PORT_MARKERS)
        if conflict or any(marker in tail for marker in _RENDEZVOUS_MARKERS):
            how = f"torchrun rendezvous on 127.0.0.1:{self.port} failed, {how}"
        reason = read_failure_file(Path(self.plan["failure_file"]))
        if reason is None:
            header = f"AlgorithmError: {hp.host}: {how}"
            room = FAILURE_REASON_MAX - len(header) - 1
            reason = header + (f"\n{tail[-room:]}" if tail and room > 0 else "")
        return Outcome("failed", exit_code, reason[:FAILURE_REASON_MAX], conflict)

    # -- the end --
    def finish(self, outcome: Outcome) -> None:
        status, secondary = _FINAL[outcome.kind]
        if outcome.kind == "stopped":
            self.state.update(status="Stopping")
            self.state.secondary("Stopping", "Stopping the training job")
        fields: dict[str, Any] = {"exit_code": outcome.exit_code}
        try:
            self.state.secondary("Uploading", "Uploading generated training model")
            fields.update(pack_and_upload(self.plan, model=status != "Failed"))
        except Exception as exc:
            if status == "Completed":
                status, secondary = "Failed", "Failed"
                outcome.reason = f"ClientError: uploading the job's output failed: {exc}"
        if status != "Completed":  # SageMaker's FailureReason holds at most 1024 characters
            fields["failure_reason"] = (outcome.reason or "")[:FAILURE_REASON_MAX] or None
        self.state.finish(status, secondary, **fields)


_PORT_MARKERS = ("EADDRINUSE", "address already in use")
_RENDEZVOUS_MARKERS = ("DistNetworkError", "RendezvousError", "RendezvousTimeoutError")
_FINAL = {
    "completed": ("Completed", "Completed"),
    "failed": ("Failed", "Failed"),
    "stopped": ("Stopped", "Stopped"),
    "max_runtime": ("Stopped", "MaxRuntimeExceeded"),
    "max_wait": ("Stopped", "MaxWaitTimeExceeded"),
}


def _exit_code(returncode: int | None) -> int | None:
    """A container's exit code: ``128 + n`` for a process killed by signal ``n``."""
    if returncode is None:
        return None
    return 128 - returncode if returncode < 0 else returncode


def _reader(
    stream: IO[bytes] | None,
    log: IO[str],
    kind: str,
    lock: threading.Lock,
    tail: collections.deque[str] | None,
) -> threading.Thread:
    def pump() -> None:
        assert stream is not None
        for raw in iter(stream.readline, b""):
            text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            if tail is not None:
                tail.append(text)
            with lock:
                log.write(format_log_line(time.time(), kind, text))
        stream.close()

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def terminate(procs: Sequence[HostProcess], grace: float) -> None:
    """SIGTERM every process group, SIGKILL what is left after ``grace`` seconds.

    torchrun starts each worker in a session of its own and forwards SIGTERM to it; a
    worker still running when the grace ends is killed too (found among the launchers'
    descendants before they are killed), so no training process outlives its job.
    """
    running = [hp.proc.pid for hp in procs if hp.proc.poll() is None]
    tree = descendants(running) if running else {}
    for pid in running:
        _killpg(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace
    for hp in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            hp.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
    running = [hp.proc.pid for hp in procs if hp.proc.poll() is None]
    if running:
        tree.update(descendants(running))
    for hp in procs:  # leftovers in the group (shells' children)
        _killpg(hp.proc.pid, signal.SIGKILL)
        hp.proc.wait()
    for pid, started in tree.items():  # workers in sessions of their own
        if _start_time(pid) == started:
            _killpg(pid, signal.SIGKILL)
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signal.SIGKILL)


def _stat_fields(pid: int | str) -> list[str] | None:
    """``/proc/<pid>/stat`` after the command name (field 3, the state, is index 0)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[-1].split()


def _is_group_leader(pid: int) -> bool:
    fields = _stat_fields(pid)
    return fields is not None and len(fields) > 2 and fields[2] == str(pid)


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22): a pid reused by another process differs."""
    fields = _stat_fields(pid)
    return fields[19] if fields is not None and len(fields) > 19 else None


def descendants(pids: Sequence[int]) -> dict[int, str]:
    """Every live descendant of ``pids`` with its start time (Linux ``/proc``; else none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e.name for e in os.scandir("/proc") if e.name.isdigit()]
    except OSError:
        return {}
    for name in entries:
        fields = _stat_fields(name)
        if fields is not None and len(fields) > 19:
            children.setdefault(int(fields[1]), []).append(int(name))
    found: dict[int, str] = {}
    stack = list(pids)
    while stack:
        for child in children.get(stack.pop(), []):
            started = _start_time(child)
            if child not in found and started is not None:
                found[child] = started
                stack.append(child)
    return found


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, sig)


def free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _empty_dir(directory: Path) -> None:
    """Remove what ``directory`` holds (links are removed, not followed)."""
    import shutil

    if not directory.is_dir():
        return
    for child in directory.iterdir():
        if child.is_dir() and not child.is_symlink():
            shutil.rmtree(child, ignore_errors=True)
        else:
            child.unlink(missing_ok=True)


def read_failure_file(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    return text[:FAILURE_REASON_MAX] or None


# -- inputs --------------------------------------------------------------------------------------
class StopRequested(Exception):
    """The job was asked to stop while its input data was being downloaded."""


def prepare_inputs(plan: dict[str, Any], should_stop: Callable[[], bool] | None = None) -> None:
    for channel in plan["channels"]:
        fetch(channel["source"], Path(channel["target"]), should_stop)
    model = plan.get("model_uri")
    if model is not None:
        fetch_model(model["source"], Path(model["target"]))
    sync_checkpoints_down(plan)


def fetch(source: str, target: Path, should_stop: Callable[[], bool] | None = None) -> None:
    """Materialise a channel: ``s3://`` is downloaded, a local path is linked (mounted)."""
    if source.startswith("s3://"):
        target.mkdir(parents=True, exist_ok=True)
        s3_download(source, target, should_stop=should_stop)
        return
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"channel data {source} does not exist")
    if target.is_symlink() or target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if path.is_dir():
        target.symlink_to(path, target_is_directory=True)
    else:
        target.mkdir()
        (target / path.name).symlink_to(path)


def fetch_model(source: str, target: Path) -> None:
    """Unpack ``model_uri`` (a ``.tar.gz``) into the model channel, refusing path escapes.

    An ``s3://`` archive is downloaded to a staging folder next to the channel, which is
    removed once the archive is unpacked (or the unpacking failed), so the model takes its
    disk space once, not twice."""
    import shutil

    target.mkdir(parents=True, exist_ok=True)
    if not source.startswith("s3://"):
        local = Path(source)
        if local.is_dir():
            shutil.copytree(local, target, dirs_exist_ok=True)
        else:
            safe_extract(local, target)
        return
    staging = target.parent / f".{target.name}.download"
    shutil.rmtree(staging, ignore_errors=True)  # a download an earlier supervisor left
    staging.mkdir(parents=True)
    try:
        s3_download(source, staging)
        files = [p for p in staging.rglob("*") if p.is_file()]
        if len(files) != 1:
            raise ValueError(f"model_uri {source} must name one object, found {len(files)}")
        safe_extract(files[0], target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a tar archive; members that escape ``target`` or link outside it are errors."""
    import tarfile

    root = target.resolve()
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            _check_member(member, root)
        for member in members:
            if member.isdir():
                (root / member.name).mkdir(parents=True, exist_ok=True)
            elif member.isfile() or member.islnk() or member.issym():
                tar.extract(member, root, set_attrs=False, **_DATA_FILTER)


#: tarfile's "data" filter where this Python has it (3.10.12+, 3.11.4+); the checks above
#: already refuse what it refuses.
_DATA_FILTER: dict[str, Any] = {"filter": "data"} if sys.version_info >= (3, 11, 4) else {}


def _check_member(member: tarfile.TarInfo, root: Path) -> None:
    dest = (root / member.name).resolve()
    if not dest.is_relative_to(root):
        raise ValueError(f"unsafe path in model archive: {member.name!r} escapes the model dir")
    if member.issym() or member.islnk():
        base = dest.parent if member.issym() else root
        link = (base / member.linkname).resolve()
        if os.path.isabs(member.linkname) or not link.is_relative_to(root):
            raise ValueError(
                f"unsafe link in model archive: {member.name!r} -> {member.linkname!r}"
            )
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise ValueError(f"unsupported member in model archive: {member.name!r} (device/fifo)")


# -- checkpoints ---------------------------------------------------------------------------------
def sync_checkpoints_down(plan: dict[str, Any]) -> None:
    ckpt = plan.get("checkpoint") or {}
    uri, local = ckpt.get("sync_uri"), Path(ckpt.get("local", plan["job_dir"]))
    local.mkdir(parents=True, exist_ok=True)
    if not uri:
        return
    if uri.startswith("s3://"):
        s3_download(uri, local, missing_ok=True)
    elif Path(uri).is_dir():
        import shutil

        shutil.copytree(uri, local, dirs_exist_ok=True)


def sync_checkpoints_up(plan: dict[str, Any]) -> None:
    ckpt = plan.get("checkpoint") or {}
    uri, local = ckpt.get("sync_uri"), Path(ckpt.get("local", plan["job_dir"]))
    if not uri or not local.is_dir():
        return
    if uri.startswith("s3://"):
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            s3_upload(path, posixpath.join(uri, path.relative_to(local).as_posix()))
    else:
        import shutil

        shutil.copytree(local, uri, dirs_exist_ok=True)


# -- outputs -------------------------------------------------------------------------------------
def pack_and_upload(plan: dict[str, Any], *, model: bool) -> dict[str, Any]:
    out = plan["output"]
    fields: dict[str, Any] = {}
    output_tar = Path(out["output_tar"])
    make_tar(Path(out["output_data_dir"]), output_tar)
    model_tar = Path(out["model_tar"])
    if model:
        make_tar(Path(out["model_dir"]), model_tar)
    sync_checkpoints_up(plan)
    dest = out.get("output_path")
    if dest is None:
        if model:
            fields["model_artifacts"] = str(model_tar)
        fields["output_artifacts"] = str(output_tar)
        return fields
    prefix = posixpath.join(dest, plan["job_name"], "output")
    if model:
        fields["model_artifacts"] = copy_out(model_tar, prefix)
    fields["output_artifacts"] = copy_out(output_tar, prefix)
    return fields


def make_tar(directory: Path, archive: Path) -> None:
    import tarfile

    tmp = archive.with_name(f".{archive.name}.tmp")
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:
        if directory.is_dir():
            for path in sorted(directory.iterdir()):
                tar.add(path, arcname=path.name)
    os.replace(tmp, archive)


def copy_out(path: Path, prefix: str) -> str:
    if prefix.startswith("s3://"):
        uri = posixpath.join(prefix, path.name)
        s3_upload(path, uri)
        return uri
    import shutil

    dest = Path(prefix.removeprefix("file://"))
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, dest / path.name)
    return str(dest / path.name)


# -- S3 (boto3 is imported only when a job uses s3:// URIs) ------------------------------------
def split_s3(uri: str) -> tuple[str, str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key


def _s3_client() -> Any:
    import boto3

    return boto3.client("s3")


def s3_download(
    uri: str,
    target: Path,
    *,
    missing_ok: bool = False,
    should_stop: Callable[[], bool] | None = None,
) -> None:
    """Every object under the prefix of ``uri``, laid out relative to the prefix."""
    bucket, prefix = split_s3(uri)
    client = _s3_client()
    keys = list(_s3_keys(client, bucket, prefix))
    if not keys and not missing_ok:
        raise FileNotFoundError(f"No S3 objects found under S3 URL {uri!r}")
    for key in keys:
        if should_stop is not None and should_stop():
            raise StopRequested
        relative = _relative_key(key, prefix)
        dest = (target / relative).resolve()
        if not dest.is_relative_to(target.resolve()):
            raise ValueError(f"S3 key {key!r} escapes the channel directory")
        dest.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket, key, str(dest))


def _s3_keys(client: Any, bucket: str, prefix: str) -> Iterator[str]:
    paginator = client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            if not obj["Key"].endswith("/"):
                yield str(obj["Key"])


def _relative_key(key: str, prefix: str) -> str:
    if key == prefix:
        return posixpath.basename(key)
    if prefix == "" or prefix.endswith("/"):
        return key[len(prefix) :]
    rest = key[len(prefix) :]
    if rest.startswith("/"):
        return rest.lstrip("/")
    parent = posixpath.dirname(prefix)
    return key[len(parent) :].lstrip("/")


def s3_upload(path: Path, uri: str) -> None:
    bucket, key = split_s3(uri)
    _s3_client().upload_file(str(path), bucket, key)


# -- entry point -----------------------------------------------------------------------------------
def _install_signal_handlers(flags: _Flags) -> None:
    def on_term(signum: int, frame: object) -> None:
        flags.sigterm = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)


def main(
    argv: Sequence[str] | None = None, *, on_error: Callable[[str], None] | None = None
) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        print("usage: _supervisor.py <job dir>", file=sys.stderr)
        return 2
    supervisor = Supervisor(Path(args[0]))
    _install_signal_handlers(supervisor.flags)
    try:
        supervisor.run()
    except BaseException as exc:  # last resort: never leave the job InProgress
        reason = f"InternalServerError: the local supervisor failed: {exc!r}"
        if on_error is not None:
            on_error(reason)
        with contextlib.suppress(Exception):
            supervisor.state.finish("Failed", "Failed", failure_reason=reason)
        raise
    return 0


if __name__ == "__main__":
    sys.exit(main())
