"""Faults: each ends in the right status with its logs, metrics and checkpoints kept."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest

from sagescale.backends import JobStatus
from sagescale.backends.local import LocalBackend
from sagescale.specs import TrainingJob

LOSS = [{"name": "loss", "regex": r"loss=([0-9.]+)"}]

RAISES = """\
print("loss=0.75", flush=True)
raise ValueError("boom in training")
"""

SIGKILL = """\
import os, signal
ckpt = os.environ["SAGESCALE_CHECKPOINT_DIR"]
open(os.path.join(ckpt, "epoch-0.pt"), "w").write("state")
print("loss=0.5", flush=True)
os.kill(os.getpid(), signal.SIGKILL)
"""

SLOW = """\
import time
print("loss=0.25", flush=True)
time.sleep(120)
"""

# Handles SIGTERM like a well-behaved script: saves a checkpoint and exits. Its child
# process (same process group) must be terminated too.
GRACEFUL = """\
import os, signal, subprocess, sys, time
ckpt = os.environ["SAGESCALE_CHECKPOINT_DIR"]
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open(os.path.join(ckpt, "child.pid"), "w").write(str(child.pid))

def on_term(signum, frame):
    open(os.path.join(ckpt, "last.pt"), "w").write("saved on SIGTERM")
    sys.exit(0)

signal.signal(signal.SIGTERM, on_term)
print("loss=0.5", flush=True)
time.sleep(120)
"""

STUBBORN = """\
import signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
print("ignoring SIGTERM", flush=True)
time.sleep(120)
"""

# Resumes from the checkpoint directory, one short epoch at a time. The first attempt waits
# after epoch 2 until it is interrupted (a loaded machine could otherwise let it finish all
# epochs before the test's interrupt arrives).
RESUMABLE = """\
import os, sys, time
ckpt = os.path.join(os.environ["SAGESCALE_CHECKPOINT_DIR"], "epoch.txt")
start = int(open(ckpt).read()) + 1 if os.path.exists(ckpt) else 0
print(f"starting at epoch {start}", flush=True)
for epoch in range(start, 6):
    print(f"epoch={epoch} loss={1.0 / (epoch + 1)}", flush=True)
    open(ckpt + ".tmp", "w").write(str(epoch))
    os.replace(ckpt + ".tmp", ckpt)
    time.sleep(300 if start == 0 and epoch == 2 else 0.4)
"""

FLAKY = """\
import os, sys
marker = os.path.join(os.environ["SAGESCALE_CHECKPOINT_DIR"], "tried")
if not os.path.exists(marker):
    open(marker, "w").write("1")
    sys.exit("first attempt fails")
print("second attempt works", flush=True)
"""


def _job(tmp_path: Path, code: str, **options: Any) -> TrainingJob:
    src = tmp_path / "fault-src"
    src.mkdir(exist_ok=True)
    (src / "train.py").write_text(code)
    return TrainingJob(
        entry_point="train.py", source_dir=str(src), metric_definitions=LOSS, **options
    )


def _wait_for(predicate: Any, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition never became true"
        time.sleep(0.05)


def _statuses(desc: Any) -> list[str]:
    return [t.status for t in desc.transitions]


def test_a_script_that_raises_fails_with_its_error(backend: LocalBackend, tmp_path: Path) -> None:
    name = backend.submit(_job(tmp_path, RAISES))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED and desc.secondary_status == "Failed"
    assert desc.exit_code == 1
    assert desc.failure_reason is not None
    assert desc.failure_reason.startswith("AlgorithmError: algo-1: ExitCode 1")
    assert "ValueError: boom in training" in desc.failure_reason
    assert "Traceback" in backend.logs(name)
    assert [p.value for p in backend.metrics(name)] == [0.75]
    assert desc.model_artifacts is None
    assert _statuses(desc)[-1] == "Failed"


def test_the_failure_file_is_the_reason(backend: LocalBackend, tmp_path: Path) -> None:
    code = (
        "import os, sys\n"
        "open(os.path.join(os.environ['SM_OUTPUT_DIR'], 'failure'), 'w').write('bad data')\n"
        "sys.exit(2)\n"
    )
    desc = backend.wait(backend.submit(_job(tmp_path, code)), timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason == "bad data"
    assert desc.exit_code == 2


def test_a_killed_script_fails_with_exit_code_137(backend: LocalBackend, tmp_path: Path) -> None:
    name = backend.submit(_job(tmp_path, SIGKILL))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.exit_code == 137
    assert desc.extra["exit_codes"] == {"algo-1": 137}
    assert desc.failure_reason is not None and "SIGKILL" in desc.failure_reason
    assert (backend.job_dir(name) / "checkpoints" / "epoch-0.pt").read_text() == "state"
    assert backend.describe(name).final_metrics == {"loss": 0.5}


def test_max_run_seconds_stops_the_job(backend: LocalBackend, tmp_path: Path) -> None:
    name = backend.submit(_job(tmp_path, SLOW, max_run_seconds=1))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.STOPPED
    assert desc.secondary_status == "MaxRuntimeExceeded"
    assert desc.failure_reason is not None
    assert desc.failure_reason.startswith("MaxRuntimeExceeded")
    assert "loss=0.25" in backend.logs(name)
    assert desc.final_metrics == {"loss": 0.25}
    assert desc.model_artifacts is not None and Path(desc.model_artifacts).is_file()


def test_stop_terminates_the_process_group_gracefully(
    backend: LocalBackend, tmp_path: Path
) -> None:
    name = backend.submit(_job(tmp_path, GRACEFUL))
    ckpt = backend.job_dir(name) / "checkpoints"
    _wait_for(lambda: "loss=0.5" in backend.logs(name))
    child = int((ckpt / "child.pid").read_text())
    backend.stop(name)
    assert backend.describe(name).status in (JobStatus.STOPPING, JobStatus.STOPPED)
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.STOPPED and desc.secondary_status == "Stopped"
    assert "Stopping" in _statuses(desc)
    assert (ckpt / "last.pt").read_text() == "saved on SIGTERM"
    # signalled by the supervisor; a killed process may take a moment to be gone on a loaded
    # machine (it sleeps 120 s: one the job left running fails this)
    _wait_for(lambda: not _alive(child))
    assert backend.describe(name).final_metrics == {"loss": 0.5}


def test_stop_kills_a_script_that_ignores_sigterm(tmp_path: Path, workspace: Path) -> None:
    backend = LocalBackend(workspace, stop_grace_seconds=0.5)
    name = backend.submit(_job(tmp_path, STUBBORN))
    _wait_for(lambda: "ignoring SIGTERM" in backend.logs(name))
    backend.stop(name)
    assert backend.wait(name, timeout=60).status is JobStatus.STOPPED


def test_spot_interruption_restarts_from_the_checkpoint(
    backend: LocalBackend, tmp_path: Path
) -> None:
    job = _job(
        tmp_path,
        RESUMABLE,
        spot={"max_wait_seconds": 3600},
        max_run_seconds=600,
        checkpoint={"s3_uri": str(tmp_path / "ckpt-sync")},
    )
    name = backend.submit(job)
    # metrics are readable while the job runs
    _wait_for(lambda: len(backend.metrics(name, ["loss"])) >= 2)
    backend.interrupt(name)
    desc = backend.wait(name, timeout=120)
    assert desc.status is JobStatus.COMPLETED, desc.failure_reason
    assert desc.extra["interruptions"] == 1
    statuses = _statuses(desc)
    assert statuses.index("Interrupted") < statuses.index("Restarting") < len(statuses) - 1
    logs = backend.logs(name)
    assert "starting at epoch 0" in logs
    resumed = [line for line in logs.splitlines() if "starting at epoch" in line][-1]
    assert not resumed.endswith("epoch 0")
    epochs = [p.value for p in backend.metrics(name, ["loss"])]
    assert epochs[-1] == pytest.approx(1 / 6)
    assert (tmp_path / "ckpt-sync" / "epoch.txt").read_text() == "5"


def test_interrupt_needs_a_spot_job(backend: LocalBackend, tmp_path: Path) -> None:
    name = backend.submit(_job(tmp_path, "print('hi')\n"))
    with pytest.raises(ValueError, match="spot"):
        backend.interrupt(name)
    backend.wait(name, timeout=60)


def test_max_retry_attempts_restarts_a_failed_job(backend: LocalBackend, tmp_path: Path) -> None:
    name = backend.submit(_job(tmp_path, FLAKY, max_retry_attempts=1))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.COMPLETED, desc.failure_reason
    assert desc.attempts == 2
    assert "Restarting" in _statuses(desc)
    assert "second attempt works" in backend.logs(name)


STALE_FAILURE = """\
import os, sys
marker = os.path.join(os.environ["SAGESCALE_CHECKPOINT_DIR"], "tried")
if not os.path.exists(marker):
    open(marker, "w").write("1")
    open(os.path.join(os.environ["SM_OUTPUT_DIR"], "failure"), "w").write("first attempt")
    sys.exit(1)
sys.exit("second attempt fails differently")
"""


def test_a_retry_does_not_report_the_earlier_attempts_failure_file(
    backend: LocalBackend, tmp_path: Path
) -> None:
    name = backend.submit(_job(tmp_path, STALE_FAILURE, max_retry_attempts=1))
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED and desc.attempts == 2
    assert desc.failure_reason is not None
    assert "second attempt fails differently" in desc.failure_reason
    assert "first attempt" not in desc.failure_reason.replace("second attempt", "")
    restarts = [t.message for t in desc.transitions if t.status == "Restarting"]
    assert restarts == ["Retrying after: first attempt"]


LEFTOVERS = """\
import os, sys
marker = os.path.join(os.environ["SAGESCALE_CHECKPOINT_DIR"], "tried")
first = not os.path.exists(marker)
name = "partial.pt" if first else "final.pt"
open(os.path.join(os.environ["SM_MODEL_DIR"], name), "w").write(name)
os.makedirs(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "plots"), exist_ok=True)
open(os.path.join(os.environ["SM_OUTPUT_DATA_DIR"], "plots", name), "w").write(name)
if first:
    open(marker, "w").write("1")
    sys.exit("first attempt fails")
"""


def test_a_retry_starts_with_empty_model_and_output_dirs(
    backend: LocalBackend, tmp_path: Path
) -> None:
    """As on a fresh SageMaker instance, only checkpoints/ carry over to the next attempt;
    model/ and output/data/ of the failed attempt were packed into the job's artifacts."""
    import tarfile

    name = backend.submit(_job(tmp_path, LEFTOVERS, max_retry_attempts=1))
    desc = backend.wait(name, timeout=60, raise_on_failure=True)
    assert desc.attempts == 2 and desc.model_artifacts is not None
    with tarfile.open(desc.model_artifacts) as tar:
        assert tar.getnames() == ["final.pt"]
    with tarfile.open(backend.job_dir(name) / "output" / "output.tar.gz") as tar:
        assert sorted(tar.getnames()) == ["plots", "plots/final.pt"]
    assert (backend.job_dir(name) / "checkpoints" / "tried").is_file()


def test_without_retries_a_failure_is_final(backend: LocalBackend, tmp_path: Path) -> None:
    desc = backend.wait(backend.submit(_job(tmp_path, FLAKY)), timeout=60)
    assert desc.status is JobStatus.FAILED and desc.attempts == 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not stat.exists() or stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


def test_spot_max_wait_stops_the_job(backend: LocalBackend, tmp_path: Path) -> None:
    job = _job(
        tmp_path,
        SLOW,
        spot={"max_wait_seconds": 2},
        max_run_seconds=2,
        checkpoint={"s3_uri": str(tmp_path / "ckpt")},
    )
    desc = backend.wait(backend.submit(job), timeout=60)
    assert desc.status is JobStatus.STOPPED
    assert desc.secondary_status == "MaxWaitTimeExceeded"
    assert desc.failure_reason == MAX_WAIT_REASON.format(seconds=2)


MAX_WAIT_REASON = "MaxWaitTimeExceeded: Training job exceeded spot.max_wait_seconds={seconds}"

# Asks for a spot interruption of itself at once, then ignores the SIGTERM that follows, so
# the interruption takes the whole stop grace period: longer than spot.max_wait_seconds.
INTERRUPTS_ITSELF = """\
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
job_dir = os.path.dirname(os.environ["SM_INPUT_DIR"])
open(os.path.join(job_dir, ".sagescale", "control", "interrupt"), "w").close()
print("interrupt requested", flush=True)
time.sleep(120)
"""


def test_max_wait_passed_during_an_interruption_gives_the_same_reason(
    tmp_path: Path, workspace: Path
) -> None:
    """The other way a spot job ends past its max wait: the limit passes while an
    interruption is handled. Its reason reads as when the limit passes while it trains."""
    backend = LocalBackend(workspace, stop_grace_seconds=6)
    job = _job(
        tmp_path,
        INTERRUPTS_ITSELF,
        spot={"max_wait_seconds": 4},
        max_run_seconds=4,
        checkpoint={"s3_uri": str(tmp_path / "ckpt")},
    )
    name = backend.submit(job)
    desc = backend.wait(name, timeout=60)
    assert "interrupt requested" in backend.logs(name)
    # the supervisor took the interruption (it removes the file when it does)
    assert not (backend.job_dir(name) / ".sagescale" / "control" / "interrupt").exists()
    assert desc.status is JobStatus.STOPPED
    assert desc.secondary_status == "MaxWaitTimeExceeded"
    assert desc.failure_reason == MAX_WAIT_REASON.format(seconds=4)
    assert desc.attempts == 1 and "Restarting" not in _statuses(desc)


def test_a_shell_entry_point(backend: LocalBackend, tmp_path: Path) -> None:
    src = tmp_path / "sh-src"
    src.mkdir()
    (src / "train.sh").write_text('echo "args: $@"\necho "loss=0.125"\nexit 0\n')
    job = TrainingJob(
        entry_point="train.sh",
        source_dir=str(src),
        hyperparameters={"epochs": 4},
        metric_definitions=LOSS,
    )
    name = backend.submit(job)
    desc = backend.wait(name, timeout=60, raise_on_failure=True)
    assert "[algo-1] args: --epochs 4" in backend.logs(name)
    assert desc.final_metrics == {"loss": 0.125}


# A torchrun worker (torchrun starts each worker in a session of its own) that ignores
# SIGTERM: stopping the job must not leave it running after torchrun is killed.
STUBBORN_WORKER = """\
import os, signal, time
signal.signal(signal.SIGTERM, signal.SIG_IGN)
ckpt = os.environ["SAGESCALE_CHECKPOINT_DIR"]
open(os.path.join(ckpt, f"worker-{os.environ['RANK']}.pid"), "w").write(str(os.getpid()))
print("worker ignoring SIGTERM", flush=True)
time.sleep(300)
"""


@pytest.mark.slow
def test_stop_kills_torchrun_workers_in_their_own_sessions(tmp_path: Path, workspace: Path) -> None:
    backend = LocalBackend(workspace, stop_grace_seconds=1.0)
    job = _job(
        tmp_path,
        STUBBORN_WORKER,
        distribution={"type": "torch_distributed", "processes_per_host": 1},
    )
    name = backend.submit(job)
    pid_file = backend.job_dir(name) / "checkpoints" / "worker-0.pid"
    _wait_for(lambda: pid_file.is_file() and pid_file.read_text() != "", timeout=120)
    worker = int(pid_file.read_text())
    assert os.getsid(worker) == worker  # torchrun's own session, not the launcher's group
    backend.stop(name)
    desc = backend.wait(name, timeout=120)
    assert desc.status is JobStatus.STOPPED
    _wait_for(lambda: not _alive(worker))


@pytest.mark.slow
def test_a_dead_supervisor_takes_torchrun_workers_with_it(
    backend: LocalBackend, tmp_path: Path
) -> None:
    job = _job(
        tmp_path,
        STUBBORN_WORKER,
        distribution={"type": "torch_distributed", "processes_per_host": 1},
    )
    name = backend.submit(job)
    meta = backend.job_dir(name) / ".sagescale" / "state.json"
    pid_file = backend.job_dir(name) / "checkpoints" / "worker-0.pid"
    _wait_for(lambda: pid_file.is_file() and pid_file.read_text() != "", timeout=120)
    worker = int(pid_file.read_text())
    _wait_for(lambda: worker in json.loads(meta.read_text()).get("process_groups", []))
    os.kill(json.loads(meta.read_text())["supervisor_pid"], signal.SIGKILL)
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason is not None and "supervisor" in desc.failure_reason
    _wait_for(lambda: not _alive(worker))
