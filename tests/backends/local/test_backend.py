"""Local backend behaviour beyond the conformance suite: jobs outlive their orchestrator,
attach, runtime metric records, live logs, supervisor death, tracking, the plan."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from sagescale._workspace import Workspace
from sagescale.backends import JobStatus, get_backend
from sagescale.backends.local import LocalBackend
from sagescale.backends.local._plan import PlanSettings, build_plan
from sagescale.errors import NotFoundError, SpecError
from sagescale.specs import TrainingJob

RUNTIME_METRICS = """\
from sagescale.runtime._metrics import log_metric
for epoch in range(3):
    log_metric("val_acc", 0.5 + epoch / 10, step=epoch)
    print(f"custom loss={epoch}", flush=True)
"""

SUBMIT_AND_EXIT = """\
import os, sys
from sagescale.backends.local import LocalBackend
from sagescale.specs import TrainingJob
backend = LocalBackend(sys.argv[1])
job = TrainingJob(entry_point="slow.py", source_dir=sys.argv[2])
print(backend.submit(job, job_name="orphan-job"), flush=True)
os._exit(0)
"""


def _src(tmp_path: Path, **scripts: str) -> Path:
    src = tmp_path / "src"
    src.mkdir(exist_ok=True)
    for name, code in scripts.items():
        (src / f"{name}.py").write_text(code)
    return src


def test_get_backend_builds_a_local_backend(workspace: Path) -> None:
    backend = get_backend("local", workspace=workspace, processes_per_host=1)
    assert isinstance(backend, LocalBackend)
    assert backend.workspace.root == workspace.resolve()


def test_runtime_records_and_metric_definitions(workspace: Path, tmp_path: Path) -> None:
    from sagescale.runtime._metrics import metric_definition

    backend = LocalBackend(workspace)
    definition = metric_definition("val_acc")
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(_src(tmp_path, train=RUNTIME_METRICS)),
        metric_definitions=[
            {"name": "val_acc", "regex": definition["Regex"]},
            {"name": "loss", "regex": r"custom loss=(\d+)"},
        ],
    )
    name = backend.submit(job)
    desc = backend.wait(name, timeout=60, raise_on_failure=True)
    acc = backend.metrics(name, ["val_acc"])
    assert [(p.step, p.value) for p in acc] == [(0, 0.5), (1, 0.6), (2, 0.7)]  # no duplicates
    assert [p.value for p in backend.metrics(name, ["loss"])] == [0.0, 1.0, 2.0]
    assert desc.final_metrics == {"val_acc": 0.7, "loss": 2.0}
    records = list((backend.job_dir(name) / "output" / "metrics").glob("metrics-*.jsonl"))
    assert len(records) == 1
    # a bare string was read as its characters ("loss" -> l, o, s: no points, no error)
    for names in ("loss", 5, [1]):
        with pytest.raises(SpecError, match="list of metric names") as info:
            backend.metrics(name, names)  # type: ignore[arg-type]
        assert info.value.field == "names"
    assert len(backend.metrics(name, {"loss"})) == 3


def test_wait_with_logs_prints_host_prefixed_lines(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = LocalBackend(workspace)
    job = TrainingJob(
        entry_point="train.py", source_dir=str(_src(tmp_path, train="print('hello')\n"))
    )
    backend.wait(backend.submit(job), timeout=60, logs=True)
    assert "[algo-1] hello" in capsys.readouterr().out


def test_stream_logs_prints_live(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    backend = LocalBackend(workspace, stream_logs=True)
    job = TrainingJob(
        entry_point="train.py", source_dir=str(_src(tmp_path, train="print('streamed')\n"))
    )
    backend.wait(backend.submit(job), timeout=60)
    deadline = time.monotonic() + 60
    out = ""
    while "[algo-1] streamed" not in out and time.monotonic() < deadline:
        time.sleep(0.1)
        out += capsys.readouterr().out
    assert "[algo-1] streamed" in out


def test_a_job_outlives_its_orchestrator_and_can_be_attached(
    workspace: Path, tmp_path: Path
) -> None:
    src = _src(tmp_path, slow="import time\ntime.sleep(1)\nprint('done', flush=True)\n")
    result = subprocess.run(
        [sys.executable, "-c", SUBMIT_AND_EXIT, str(workspace), str(src)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert result.stdout.strip() == "orphan-job"
    other = LocalBackend(workspace)
    assert other.attach("orphan-job").job_name == "orphan-job"
    desc = other.wait("orphan-job", timeout=60)
    assert desc.status is JobStatus.COMPLETED, desc.failure_reason
    assert "[algo-1] done" in other.logs("orphan-job")
    with pytest.raises(NotFoundError):
        other.attach("no-such-job")


def test_a_dead_supervisor_fails_the_job_and_kills_its_processes(
    backend: LocalBackend, tmp_path: Path
) -> None:
    src = _src(tmp_path, slow="import time\nprint('up', flush=True)\ntime.sleep(120)\n")
    name = backend.submit(TrainingJob(entry_point="slow.py", source_dir=str(src)))
    state_file = backend.job_dir(name) / ".sagescale" / "state.json"
    deadline = time.monotonic() + 60
    while not json.loads(state_file.read_text()).get("process_groups"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    state = json.loads(state_file.read_text())
    os.kill(state["supervisor_pid"], signal.SIGKILL)
    desc = backend.wait(name, timeout=60)
    assert desc.status is JobStatus.FAILED
    assert desc.failure_reason is not None and "supervisor" in desc.failure_reason
    group = state["process_groups"][0]
    deadline = time.monotonic() + 60
    while _group_alive(group):
        assert time.monotonic() < deadline, "the training process survived its supervisor"
        time.sleep(0.05)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pgid}/stat")
    return stat.exists() and stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"


def test_every_job_is_tracked_in_an_experiment(workspace: Path, tmp_path: Path) -> None:
    from sagescale.tracking._sqlite import SQLiteStore

    backend = LocalBackend(workspace)
    src = _src(tmp_path, train="print('loss=0.5', flush=True)\n")
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(src),
        base_job_name="tracked",
        hyperparameters={"lr": 0.1},
        metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
    )
    name = backend.submit(job)
    backend.wait(name, timeout=60, raise_on_failure=True)
    store = SQLiteStore(backend.workspace)
    component = store.describe_trial_component(f"{name}-aws-training-job")
    assert component.status == "Completed"
    assert "loss" in component.metrics
    assert store.describe_trial(name).experiment_name == "tracked"
    env = json.loads((backend.job_dir(name) / ".sagescale" / "plan.json").read_text())
    host_env = env["hosts"][0]["env"]
    assert host_env["SAGESCALE_EXPERIMENT_NAME"] == "tracked"
    assert host_env["SAGESCALE_TRIAL_COMPONENT_NAME"] == f"{name}-aws-training-job"


def test_tracking_failures_never_fail_a_job(workspace: Path, tmp_path: Path) -> None:
    class BrokenStore:
        def __getattr__(self, name: str) -> Any:
            raise RuntimeError("tracking is down")

    backend = LocalBackend(workspace, tracking_store=BrokenStore())
    src = _src(tmp_path, train="print('fine')\n")
    desc = backend.wait(
        backend.submit(TrainingJob(entry_point="train.py", source_dir=str(src))), timeout=60
    )
    assert desc.status is JobStatus.COMPLETED


# -- the plan (no process runs) ------------------------------------------------------------------
def _plan(tmp_path: Path, job: TrainingJob, **settings: Any) -> dict[str, Any]:
    built = build_plan(
        job,
        job_name="plan-job",
        job_dir=tmp_path / "jobs" / "plan-job",
        settings=PlanSettings(**settings),
    )
    return built.plan


@pytest.fixture
def plan_src(tmp_path: Path) -> Path:
    src = tmp_path / "plan-src"
    src.mkdir()
    (src / "train.py").write_text("")
    return src


def test_model_parallel_settings_reach_the_script_as_hyperparameters(
    tmp_path: Path, plan_src: Path
) -> None:
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(plan_src),
        instance_type="ml.p3.16xlarge",
        distribution={"type": "model_parallel", "partitions": 2, "microbatches": 4},
        mixed_precision="bf16",
    )
    plan = _plan(tmp_path, job)
    env = plan["hosts"][0]["env"]
    assert json.loads(env["SM_HP_MP_PARAMETERS"])["partitions"] == 2
    assert json.loads(env["SM_HP_MP_PARAMETERS"])["microbatches"] == 4
    framework = json.loads(env["SM_FRAMEWORK_PARAMS"])
    assert framework["sagemaker_mpi_enabled"] is True
    assert framework["sagemaker_mpi_num_of_processes_per_host"] == 2  # local, not 8 GPUs
    assert env["SAGESCALE_MIXED_PRECISION"] == "bf16"
    assert env["SM_HP_SAGESCALE_MIXED_PRECISION"] == "bf16"
    argv = plan["hosts"][0]["argv"]
    assert argv[1:4] == ["-m", "torch.distributed.run", "--nnodes=1"]
    assert "--nproc-per-node=2" in argv


def test_processes_per_host_order(tmp_path: Path, plan_src: Path) -> None:
    base = {"entry_point": "train.py", "source_dir": str(plan_src)}
    ddp = TrainingJob(**base, distribution={"type": "data_parallel", "engine": "ddp"})
    assert "--nproc-per-node=2" in _plan(tmp_path / "a", ddp)["hosts"][0]["argv"]
    assert (
        "--nproc-per-node=3" in _plan(tmp_path / "b", ddp, processes_per_host=3)["hosts"][0]["argv"]
    )
    pinned = TrainingJob(
        **base, distribution={"type": "torch_distributed", "processes_per_host": 1}
    )
    assert (
        "--nproc-per-node=1"
        in _plan(tmp_path / "c", pinned, processes_per_host=3)["hosts"][0]["argv"]
    )


def test_workspace_inside_source_dir_is_not_copied(tmp_path: Path) -> None:
    workspace = Workspace.open(tmp_path / ".sagescale")
    (tmp_path / "train.py").write_text("print('x')\n")
    backend = LocalBackend(workspace)
    name = backend.submit(TrainingJob(entry_point="train.py", source_dir=str(tmp_path)))
    backend.wait(name, timeout=60, raise_on_failure=True)
    assert not (backend.job_dir(name) / "code" / ".sagescale").exists()


def test_dropping_a_backend_leaves_its_jobs_running(workspace: Path, tmp_path: Path) -> None:
    import gc

    src = _src(tmp_path, slow="import time\nprint('up', flush=True)\ntime.sleep(120)\n")
    first = LocalBackend(workspace, stop_grace_seconds=1)
    name = first.submit(TrainingJob(entry_point="slow.py", source_dir=str(src)))
    del first
    gc.collect()  # no ResourceWarning about a running subprocess
    other = LocalBackend(workspace, stop_grace_seconds=1)
    assert other.describe(name).status is JobStatus.IN_PROGRESS
    other.stop(name)
    assert other.wait(name, timeout=60).status is JobStatus.STOPPED


def test_metrics_polled_from_threads_are_counted_once(workspace: Path, tmp_path: Path) -> None:
    import threading

    code = (
        "import time\n"
        "for i in range(20):\n"
        "    print(f'loss={i}', flush=True)\n"
        "    time.sleep(0.02)\n"
    )
    backend = LocalBackend(workspace, poll_interval=0.05)
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(_src(tmp_path, train=code)),
        metric_definitions=[{"name": "loss", "regex": r"loss=(\d+)"}],
    )
    name = backend.submit(job)
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            while not backend.describe(name).done:
                backend.metrics(name, ["loss"])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=poll) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert [p.value for p in backend.metrics(name, ["loss"])] == [float(i) for i in range(20)]


def test_a_completed_job_goes_through_every_secondary_status(
    backend: LocalBackend, tmp_path: Path
) -> None:
    job = TrainingJob(entry_point="train.py", source_dir=str(_src(tmp_path, train="print(1)\n")))
    desc = backend.wait(backend.submit(job), timeout=60)
    assert desc.status is JobStatus.COMPLETED and desc.secondary_status == "Completed"
    statuses = [t.status for t in desc.transitions]
    assert statuses == ["Starting", "Downloading", "Training", "Uploading", "Completed"]
    assert all(t.end_time is not None and t.end_time >= t.start_time for t in desc.transitions)
    assert desc.exit_code == 0 and desc.extra["exit_codes"] == {"algo-1": 0}
    assert desc.start_time is not None and desc.end_time is not None
    assert desc.start_time <= desc.transitions[0].start_time <= desc.end_time


RENDEZVOUS = """\
import os, pathlib, sys, time
here, other = sys.argv[sys.argv.index("--me") + 1], sys.argv[sys.argv.index("--other") + 1]
folder = pathlib.Path(os.environ["MEETING_POINT"])
(folder / here).write_text("started")
deadline = time.monotonic() + 60
while not (folder / other).exists():
    if time.monotonic() > deadline:
        sys.exit(f"{other} never ran at the same time as {here}")
    time.sleep(0.05)
"""


def test_several_jobs_run_at_once(backend: LocalBackend, tmp_path: Path) -> None:
    """Each job waits for the other to start: both complete only if they overlap."""
    meeting = tmp_path / "meeting"
    meeting.mkdir()
    src = _src(tmp_path, meet=RENDEZVOUS)
    names = [
        backend.submit(
            TrainingJob(
                entry_point="meet.py",
                source_dir=str(src),
                hyperparameters={"me": me, "other": other},
                environment={"MEETING_POINT": str(meeting)},
            )
        )
        for me, other in (("a", "b"), ("b", "a"))
    ]
    for name in names:
        desc = backend.wait(name, timeout=90)
        assert desc.status is JobStatus.COMPLETED, desc.failure_reason
    assert sorted(p.name for p in meeting.iterdir()) == ["a", "b"]


def test_session_setting_for_local_processes_per_host(workspace: Path) -> None:
    from sagescale import Session
    from sagescale.errors import SpecError

    session = Session("local", workspace=workspace, processes_per_host=3)
    assert isinstance(session.backend, LocalBackend)
    assert session.backend.processes_per_host == 3
    with pytest.raises(SpecError) as info:
        Session("local", workspace=workspace, processes_per_host=0)
    assert info.value.field == "processes_per_host"


PROGRESS_BAR = """\
import sys
for i in range(3):
    sys.stderr.write(f"\\rprogress {i} loss={1 / (i + 1):.3f}")
    sys.stderr.flush()
sys.stderr.write("\\n")
# all on stderr, as tqdm writes: stdout and stderr are read by two threads, so the order
# of lines across the two streams is not defined (nor is it in CloudWatch)
print("page\\x0cbreak and\\u2028separator loss=0.125", file=sys.stderr, flush=True)
print("done loss=0.0625", file=sys.stderr, flush=True)
"""


def test_progress_bars_and_odd_separators_keep_their_log_record(
    workspace: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A record holds \\r (tqdm), form feeds or U+2028: it stays one record, in order, with
    its time (was: split into pieces dated 1970, sorted first, final metric wrong)."""
    backend = LocalBackend(workspace, tracking=False)
    job = TrainingJob(
        entry_point="train.py",
        source_dir=str(_src(tmp_path, train=PROGRESS_BAR)),
        metric_definitions=[{"name": "loss", "regex": r"loss=([0-9.]+)"}],
    )
    submitted = time.time()
    name = backend.submit(job)
    desc = backend.wait(name, timeout=60, raise_on_failure=True, logs=True)
    points = backend.metrics(name, ["loss"])
    assert [p.value for p in points] == [1.0, 0.5, 0.333, 0.125, 0.0625]
    assert all(p.timestamp >= submitted - 1 for p in points)
    assert desc.final_metrics == {"loss": 0.0625}
    lines = backend.logs(name).split("\n")
    assert lines[:3] == [
        "[algo-1] \rprogress 0 loss=1.000\rprogress 1 loss=0.500\rprogress 2 loss=0.333",
        "[algo-1] page\x0cbreak and\u2028separator loss=0.125",
        "[algo-1] done loss=0.0625",
    ]
    printed = capsys.readouterr().out.split("\n")
    assert printed[:3] == lines[:3]
