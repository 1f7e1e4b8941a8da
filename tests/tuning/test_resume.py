"""Resume after the orchestrating process died; results through a TuningService."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest

from sagescale.backends import JobDescription
from sagescale.errors import NotFoundError, SpecError, TuningError
from sagescale.specs import CategoricalParameter, ContinuousParameter, TrainingJob
from sagescale.tuning import HyperparameterTuner, TrainingJobSummary
from sagescale.tuning._lock import TuningLock

from ._fakes import FakeAmt, JobContext, ThreadBackend
from .conftest import curve_job, quadratic

X = {"x": ContinuousParameter(min_value=0.0, max_value=1.0)}


class OrchestratorDied(BaseException):
    pass


class CrashingBackend(ThreadBackend):
    """Raises out of ``describe`` once ``crash_after`` jobs were submitted (the tuner 'dies');
    with ``submit_dies_at`` = n, the n-th ``submit`` dies before the job exists."""

    crash_after: int | None = None
    submit_dies_at: int | None = None
    interrupt_at: int | None = None  # the n-th submit gets a real Ctrl-C (SIGINT) midway

    def submit(self, job: TrainingJob, **kwargs: Any) -> str:
        number = len(self.submitted) + 1
        if number == self.submit_dies_at:
            raise OrchestratorDied
        if number == self.interrupt_at:
            signal.raise_signal(signal.SIGINT)  # KeyboardInterrupt before the job exists
        return super().submit(job, **kwargs)

    def describe(self, job_name: str) -> JobDescription:
        if self.crash_after is not None and len(self.submitted) >= self.crash_after:
            raise OrchestratorDied
        return super().describe(job_name)


def _tuner(backend: ThreadBackend, entry_point: str, **options: Any) -> HyperparameterTuner:
    """A tuner of ``score`` over X (Random unless ``strategy=``) that polls every 5 ms."""
    options.setdefault("hyperparameter_ranges", X)
    options.setdefault("strategy", "Random")
    tuner = HyperparameterTuner(
        TrainingJob(entry_point=entry_point, framework="pytorch"),
        objective_metric_name="score",
        backend=backend,
        **options,
    )
    tuner.poll_interval = 0.005
    return tuner


def _fit_until_it_dies(tuner: HyperparameterTuner) -> str:
    """fit() until the backend kills the orchestrator; the tuning job's name."""
    with pytest.raises(OrchestratorDied):
        tuner.fit()
    name = tuner.latest_tuning_job
    assert name is not None
    return name


def _attach(name: str, backend: CrashingBackend) -> HyperparameterTuner:
    attached = HyperparameterTuner.attach(name, backend=backend)
    attached.poll_interval = 0.005
    return attached


def crashed_tuner(
    backend: CrashingBackend, entry_point: str, *, crash_after: int, max_jobs: int = 3
) -> HyperparameterTuner:
    """A Random tuning job over X whose orchestrator dies at submit number ``crash_after``."""
    backend.crash_after = crash_after
    tuner = _tuner(backend, entry_point, max_jobs=max_jobs)
    with pytest.raises(OrchestratorDied):
        tuner.fit()
    return tuner


def test_kill_and_resume_never_reruns_finished_jobs(workspace: Path) -> None:
    backend = CrashingBackend({"quad.py": curve_job(quadratic)})
    backend.crash_after = 4
    tuner = _tuner(backend, "quad.py", max_jobs=7, max_parallel_jobs=2, random_seed=4)
    name = _fit_until_it_dies(tuner)
    before = {j.job_name: j for j in tuner.training_jobs()}
    assert tuner.describe().status == "InProgress"
    finished_before = {n for n, j in before.items() if j.end_time is not None}
    assert len(before) == 4

    backend.crash_after = None
    attached = _attach(name, backend)
    desc = attached.resume()
    assert desc.status == "Completed"
    jobs = attached.training_jobs()
    assert len(jobs) == 7 and len(backend.submitted) == 7  # nothing submitted twice
    assert [j.position for j in jobs] == list(range(7))
    assert len({j.job_name for j in jobs}) == 7
    for j in jobs:
        if j.job_name in finished_before:
            assert j.final_objective == before[j.job_name].final_objective
    assert all(j.objective_status == "Succeeded" for j in jobs)
    assert attached.resume().status == "Completed"  # an ended job is returned as it is


@pytest.mark.parametrize("strategy", ["Random", "Bayesian"])
def test_a_seeded_search_does_not_repeat_itself_after_a_resume(
    workspace: Path, strategy: str
) -> None:
    """The seeded sampler started its random stream again on resume: the first job after it
    tried exactly the hyperparameters of the tuning job's first job."""
    backend = CrashingBackend({"quad.py": curve_job(quadratic)})
    backend.crash_after = 2  # Bayesian: still among its 3 random start-up suggestions
    tuner = _tuner(backend, "quad.py", strategy=strategy, max_jobs=6, random_seed=4)
    name = _fit_until_it_dies(tuner)
    backend.crash_after = None
    attached = _attach(name, backend)
    assert attached.resume().status == "Completed"
    values = [j.hyperparameters["x"] for j in attached.training_jobs()]
    assert len(values) == 6
    assert len(set(values)) == 6, values


def test_resume_tracks_jobs_that_ended_just_before_the_crash(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sagescale.tuning import _runner

    tracked: list[str] = []

    def die_while_tracking(root: Path, tuning_job: str, jobs: Sequence[str], **_: object) -> None:
        raise OrchestratorDied  # the job's end is saved, its tracking never happened

    def track(root: Path, tuning_job: str, jobs: Sequence[str], **_: object) -> None:
        tracked.extend(jobs)

    backend = ThreadBackend({"quad.py": curve_job(quadratic)})
    tuner = _tuner(backend, "quad.py", max_jobs=3)
    monkeypatch.setattr(_runner, "track_tuning_job", die_while_tracking)
    name = _fit_until_it_dies(tuner)
    first = tuner.training_jobs()[0]
    assert first.status == "Completed" and first.job_name not in tracked
    monkeypatch.setattr(_runner, "track_tuning_job", track)
    attached = _attach(name, backend)
    assert attached.resume().status == "Completed"
    assert {j.job_name for j in attached.training_jobs()} <= set(tracked)
    assert first.job_name in tracked and len(backend.submitted) == 3


def _gated_tuner(release: threading.Event) -> tuple[HyperparameterTuner, ThreadBackend]:
    def gated(ctx: JobContext) -> None:
        release.wait(120)
        ctx.log("score", 1.0)

    backend = ThreadBackend({"gated.py": gated})
    tuner = _tuner(backend, "gated.py", max_jobs=2)
    return tuner, backend


def _started_gated_tuner(release: threading.Event) -> tuple[HyperparameterTuner, ThreadBackend]:
    """A gated tuning job started without waiting, its first job submitted and held until
    ``release`` is set."""
    tuner, backend = _gated_tuner(release)
    tuner.fit(wait=False)
    deadline = time.monotonic() + 60
    while not backend.submitted and time.monotonic() < deadline:
        time.sleep(0.005)
    return tuner, backend


def test_a_second_orchestrator_cannot_resume_a_driven_tuning_job(workspace: Path) -> None:
    release = threading.Event()
    tuner, backend = _started_gated_tuner(release)
    name = tuner.latest_tuning_job
    assert name is not None and len(backend.submitted) == 1
    second = _attach(name, backend)
    with pytest.raises(
        TuningError, match=rf"already driven by an orchestrator \(pid {os.getpid()}\)"
    ):
        second.resume()
    time.sleep(0.05)
    assert len(backend.submitted) == 1  # the second orchestrator started nothing
    release.set()
    assert tuner.wait(timeout=120).status == "Completed"
    assert len(backend.submitted) == 2
    lock = TuningLock(workspace, name)
    lock.acquire()  # released when the search loop ended
    lock.release()


def test_a_lock_held_by_another_process_blocks_resume_until_it_dies(workspace: Path) -> None:
    backend = CrashingBackend({"quad.py": curve_job(quadratic)})
    tuner = crashed_tuner(backend, "quad.py", crash_after=1)
    name = tuner.latest_tuning_job
    assert name is not None and len(backend.submitted) == 1
    backend.crash_after = None
    holder = (
        "import fcntl, os, sys, time\n"
        "fd = os.open(sys.argv[1], os.O_RDWR | os.O_CREAT)\n"
        "fcntl.flock(fd, fcntl.LOCK_EX)\n"
        "os.write(fd, str(os.getpid()).encode())\n"
        "print('held', flush=True)\n"
        "time.sleep(60)\n"
    )
    lock_file = workspace / "tuning" / f"{name}.lock"
    proc = subprocess.Popen(
        [sys.executable, "-c", holder, str(lock_file)], stdout=subprocess.PIPE, text=True
    )
    attached = _attach(name, backend)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(TuningError, match=rf"\(pid {proc.pid}\)"):
            attached.resume()
        assert len(backend.submitted) == 1 and attached.describe().status == "InProgress"
    finally:
        proc.kill()
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    # the operating system dropped the dead process's lock: resume goes on
    assert attached.resume().status == "Completed"
    assert len(backend.submitted) == 3


def test_a_bad_tuning_job_name_is_rejected_before_anything_runs(workspace: Path) -> None:
    tuner, backend = _gated_tuner(threading.Event())
    with pytest.raises(SpecError, match=r"job_name = 'bad_name/x'.*pattern") as info:
        tuner.fit(job_name="bad_name/x")
    assert info.value.field == "job_name" and backend.submitted == []
    assert tuner.store.all() == []


def test_a_used_tuning_job_name_is_a_spec_error_before_anything_runs(workspace: Path) -> None:
    """It was a TuningError (CLI exit 1) raised after the tuning service had already created
    the remote tuning job under that name."""
    service = FakeAmt(_remote_results())
    first = _remote_tuner(service)
    first.service_poll_interval = 0.0
    first.fit(job_name="taken")
    again = _remote_tuner(service)
    service.created.clear()
    with pytest.raises(SpecError, match=r"job_name = 'taken'.*exists already") as info:
        again.fit(job_name="taken")
    assert (info.value.field, info.value.value) == ("job_name", "taken")
    assert service.created == {}  # nothing was sent to the service
    local, backend = _gated_tuner(threading.Event())
    with pytest.raises(SpecError, match="exists already"):
        local.fit(job_name="taken")
    assert backend.submitted == []


def _remote_results() -> list[TrainingJobSummary]:
    """Three finished training jobs as a tuning service (SageMaker AMT) reports them."""
    now = datetime.now(timezone.utc)
    return [
        TrainingJobSummary(
            job_name=f"remote-{i}",
            status="Completed",
            hyperparameters={"x": 0.1 * i},
            final_objective=0.5 - 0.1 * i,
            objective_status="Succeeded",
            start_time=now,
            end_time=now,
        )
        for i in range(3)
    ]


def _remote_tuner(service: FakeAmt) -> HyperparameterTuner:
    return HyperparameterTuner(
        TrainingJob(entry_point="quad.py", framework="pytorch"),
        objective_metric_name="acc",
        hyperparameter_ranges=X,
        strategy="Random",
        max_jobs=3,
        backend=service,
    )


def test_tuning_service_results_have_the_same_form(
    workspace: Path, make_tuner: Callable[..., HyperparameterTuner]
) -> None:
    service = FakeAmt(_remote_results())
    remote = _remote_tuner(service)
    remote.service_poll_interval = 0.001
    desc = remote.fit()
    assert desc.status == "Completed" and desc.name in service.created
    assert remote.best_training_job() == "remote-0"
    local = make_tuner(strategy="Random", hyperparameter_ranges=X, max_jobs=2)
    local.fit()
    remote_frame = remote.analytics().dataframe()
    local_frame = local.analytics().dataframe()
    assert list(remote_frame.columns) == list(local_frame.columns)
    assert list(remote.analytics().curves()["ObjectiveValue"][:2]) == [0.1, 0.5]
    # the result is also kept in the workspace, and attach finds it
    attached = HyperparameterTuner.attach(desc.name, backend=service)
    assert attached.describe().status == "Completed"
    attached.stop()
    assert service.stopped == [desc.name]


def test_attach_a_tuning_service_job_created_elsewhere(workspace: Path) -> None:
    service = FakeAmt(_remote_results())
    spec = _remote_tuner(service).spec
    service.created["made-elsewhere"] = spec  # e.g. by the SageMaker SDK; not in the workspace
    with pytest.raises(NotFoundError):
        HyperparameterTuner.attach("made-elsewhere")
    with pytest.raises(NotFoundError):
        HyperparameterTuner.attach("made-elsewhere", backend=ThreadBackend({}))
    tuner = HyperparameterTuner.attach("made-elsewhere", backend=service)
    assert tuner.describe().status == "Completed"
    assert tuner.best_training_job() == "remote-0"
    assert len(tuner.analytics().dataframe()) == 3
    # it is recorded now: attaching again reads the workspace
    assert HyperparameterTuner.attach("made-elsewhere", backend=service).spec == spec
    with pytest.raises(NotFoundError):
        HyperparameterTuner.attach("nowhere", backend=service)


def test_stop_after_the_orchestrator_died_stops_the_running_jobs(workspace: Path) -> None:
    release = threading.Event()  # never set: the training job runs until it is stopped

    def slow(ctx: JobContext) -> None:
        while not ctx.stopped and not release.wait(0.005):
            pass
        ctx.log("score", 1.0)

    backend = CrashingBackend({"slow.py": slow})
    tuner = crashed_tuner(backend, "slow.py", crash_after=1)
    name = tuner.latest_tuning_job
    assert name is not None
    (running,) = backend.submitted
    assert not backend.contexts[running].stopped
    backend.crash_after = None
    other = _attach(name, backend)
    other.stop()  # nobody drives the tuning job any more: this call stops its job
    assert backend.contexts[running].stopped
    assert other.describe().status == "Stopped"
    assert backend.submitted == [running]  # and starts nothing new
    assert other.training_jobs()[0].status == "Stopped"


def test_a_point_reported_while_no_orchestrator_ran_gets_its_median_rule_decision(
    workspace: Path,
) -> None:
    """Three good jobs end; the orchestrator dies once the fourth is submitted; the fourth
    reports a bad epoch 1 while nothing drives the tuning job. After resume() the rule
    decides on that point: the job is early-stopped."""
    reported_while_dead = threading.Event()
    crashed = threading.Event()

    def bad_after_crash(ctx: JobContext) -> None:
        if not crashed.is_set() and len(backend.submitted) < 4:
            ctx.log("score", 1.0)
            ctx.log("score", 1.0)
            return
        crashed.wait(120)
        ctx.log("score", 0.0)
        reported_while_dead.set()
        deadline = time.monotonic() + 120
        while not ctx.stopped and time.monotonic() < deadline:
            time.sleep(0.005)
        ctx.log("score", 0.0)

    backend = CrashingBackend({"curve.py": bad_after_crash})
    backend.crash_after = 4
    tuner = _tuner(backend, "curve.py", max_jobs=4, early_stopping_type="Auto")
    name = _fit_until_it_dies(tuner)
    assert len(backend.submitted) == 4
    fourth = tuner.training_jobs()[3]
    assert fourth.status == "InProgress" and fourth.curve == {}
    crashed.set()
    assert reported_while_dead.wait(120)
    backend.crash_after = None
    attached = _attach(name, backend)
    assert attached.resume().status == "Completed"
    jobs = attached.training_jobs()
    assert [j.early_stopped for j in jobs] == [False, False, False, True]
    assert jobs[3].status == "Stopped" and backend.contexts[jobs[3].job_name].stopped


def _grid_tuner(backend: CrashingBackend) -> HyperparameterTuner:
    grid = {"x": CategoricalParameter(values=[0.1, 0.2, 0.3, 0.4, 0.5])}
    return _tuner(
        backend, "quad.py", hyperparameter_ranges=grid, strategy="Grid", max_parallel_jobs=2
    )


def test_a_grid_combination_recorded_but_not_submitted_at_a_crash_runs_after_resume(
    workspace: Path,
) -> None:
    """The orchestrator died between recording a job (its grid combination taken) and
    submitting it: resume() ended it Failed 'never started' and never ran the combination."""
    backend = CrashingBackend({"quad.py": curve_job(quadratic)})
    backend.submit_dies_at = 3
    tuner = _grid_tuner(backend)
    name = _fit_until_it_dies(tuner)
    assert len(backend.submitted) == 2
    recorded = tuner.training_jobs()
    assert len(recorded) == 3 and recorded[2].job_name not in backend.contexts
    backend.submit_dies_at = None
    attached = _attach(name, backend)
    desc = attached.resume()
    assert (desc.status, desc.completion_reason) == ("Completed", "AllGridCombinationsTried")
    jobs = attached.training_jobs()
    assert sorted(j.hyperparameters["x"] for j in jobs) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert [j.job_name for j in jobs[:3]] == [j.job_name for j in recorded]  # same records
    assert sorted(backend.submitted) == sorted(j.job_name for j in jobs)  # each once
    assert all(j.objective_status == "Succeeded" for j in jobs)


def test_stop_after_a_crash_before_submit_never_starts_the_recorded_job(workspace: Path) -> None:
    backend = CrashingBackend({"quad.py": curve_job(quadratic)})
    backend.submit_dies_at = 1
    tuner = _grid_tuner(backend)
    name = _fit_until_it_dies(tuner)
    backend.submit_dies_at = None
    other = _attach(name, backend)
    other.stop()
    assert other.describe().status == "Stopped" and backend.submitted == []
    (job,) = other.training_jobs()
    assert job.status == "Failed" and "never started" in (job.failure_reason or "")


def test_ctrl_c_during_a_submit_leaves_the_job_submitted_and_recorded(workspace: Path) -> None:
    """A real SIGINT in the middle of the second submit: it used to leave that job recorded
    InProgress but never submitted (resume then failed it, its values lost). The interrupt
    now waits for the submit: the job runs, is recorded once, and resume() watches it."""
    backend = CrashingBackend({"quad.py": curve_job(quadratic)})
    backend.interrupt_at = 2
    tuner = _grid_tuner(backend)
    with pytest.raises(KeyboardInterrupt):
        tuner.fit()
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # restored
    name = tuner.latest_tuning_job
    assert name is not None
    assert tuner.describe().status == "InProgress"
    recorded = tuner.training_jobs()
    assert [j.job_name for j in recorded] == backend.submitted  # recorded = submitted
    assert len(recorded) == 2
    backend.interrupt_at = None
    attached = _attach(name, backend)
    assert attached.resume().status == "Completed"
    jobs = attached.training_jobs()
    assert sorted(j.hyperparameters["x"] for j in jobs) == [0.1, 0.2, 0.3, 0.4, 0.5]
    assert sorted(backend.submitted) == sorted(j.job_name for j in jobs)
    assert all(j.objective_status == "Succeeded" for j in jobs)


def test_detaching_the_loop_leaves_every_recorded_job_submitted_and_resumable(
    workspace: Path,
) -> None:
    """What Ctrl-C of `sagescale tune` does before it exits: the loop's thread ends at a safe
    point (the process used to exit with it wherever it was, a submit included)."""
    release = threading.Event()
    tuner, backend = _started_gated_tuner(release)
    tuner._detach_runner()
    assert tuner._thread is not None and not tuner._thread.is_alive()
    assert tuner.describe().status == "InProgress"
    assert [j.job_name for j in tuner.training_jobs()] == backend.submitted
    release.set()
    attached = HyperparameterTuner.attach(tuner._name(), backend=backend)
    attached.poll_interval = 0.005
    assert attached.resume().status == "Completed"
    assert sorted(j.job_name for j in attached.training_jobs()) == sorted(backend.submitted)
    assert len(backend.submitted) == 2
