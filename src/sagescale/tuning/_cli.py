"""CLI of tuning: ``sagescale tune SPEC.yaml`` and ``sagescale tuning list|describe|best|resume``.

The lead's root app mounts :data:`tuning_app` as ``tuning`` and :func:`tune` as ``tune``.
Commands return the exit code: 0 when the tuning job completed, 1 when it failed or stopped.
"""

from __future__ import annotations

import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from sagescale._workspace import Workspace
from sagescale.errors import NotFoundError, SpecError
from sagescale.specs import load_tuning_job, unique_name
from sagescale.tuning._runner import best_of
from sagescale.tuning._service import TuningJobDescription
from sagescale.tuning._store import TuningStore
from sagescale.tuning._tuner import HyperparameterTuner, _check_name

__all__ = ["tune", "tuning_app"]

tuning_app = typer.Typer(help="Tuning jobs recorded in the workspace.", no_args_is_help=True)


def _console() -> Console:
    return Console(soft_wrap=True)


BackendOption = Annotated[
    str | None,
    typer.Option("--backend", help="local or sagemaker (default: $SAGESCALE_BACKEND or local)"),
]


def _exit_code(desc: TuningJobDescription) -> int:
    return 0 if desc.status == "Completed" else 1


def _print_summary(tuner: HyperparameterTuner, desc: TuningJobDescription) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("tuning job", desc.name)
    table.add_row("status", desc.status)
    table.add_row("strategy", desc.spec.strategy)
    table.add_row("backend", desc.backend)
    if desc.completion_reason:
        table.add_row("completion reason", desc.completion_reason)
    if desc.failure_reason:
        table.add_row("failure reason", desc.failure_reason)
    jobs = tuner.training_jobs()
    table.add_row("training jobs", str(len(jobs)))
    best = best_of(jobs, maximize=desc.spec.objective_type == "Maximize")
    if best is not None:
        table.add_row("best training job", best.job_name)
        table.add_row(desc.spec.objective_metric_name, f"{best.final_objective:.6g}")
    _console().print(table)


def tune(
    spec: Annotated[
        Path | None, typer.Argument(help="tuning spec (YAML/JSON); not needed with --resume")
    ] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="continue this tuning job")] = None,
    backend: BackendOption = None,
    job_name: Annotated[str | None, typer.Option("--job-name")] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait")] = True,
) -> int:
    """Run a tuning job from a spec file, or resume one whose process died."""
    backend_args = [] if backend is None else ["--backend", backend]
    if resume is not None:
        tuner = HyperparameterTuner.attach(resume, backend=backend)
        if not wait and tuner._service() is None:
            return _detach(tuner, resume, ["--resume", resume, *backend_args])
        desc = tuner.resume(wait=False)
    elif spec is None:
        raise SpecError("give a tuning spec file or --resume NAME", field="spec", value=None)
    else:
        tuner = HyperparameterTuner.from_spec(load_tuning_job(spec), backend=backend)
        if not wait and tuner._service() is None:
            if job_name is not None:  # checked here: the detached process would only log it
                _check_name(job_name)
                tuner._check_unused(job_name)
            name = job_name or unique_name(tuner._base_name(), limit=32)
            return _detach(tuner, name, [str(spec), "--job-name", name, *backend_args])
        desc = tuner.fit(wait=False, job_name=job_name)
    _console().print(f"tuning job [bold]{desc.name}[/bold]", highlight=False)
    if not wait:
        return 0
    from sagescale.cli._progress import tuning_progress

    try:
        desc = tuning_progress(tuner)
    except KeyboardInterrupt:
        name = desc.name
        tuner._detach_runner()  # no training job is left half-submitted by the exit
        if tuner._service() is None:
            hint = (
                f"interrupted: tuning job {name} is left InProgress (its running training jobs "
                f"go on); `sagescale tune --resume {name}` continues it"
            )
        else:
            hint = (
                f"interrupted: tuning job {name} keeps running on SageMaker; "
                f"`sagescale tuning describe {name} --backend sagemaker` follows it"
            )
        sys.stderr.write(hint + "\n")
        return 130
    _print_summary(tuner, desc)
    return _exit_code(desc)


def _detach(tuner: HyperparameterTuner, name: str, args: list[str]) -> int:
    """``--no-wait`` without a tuning service: the search loop runs in a detached process.

    Locally the loop is not a service: it lives in the process that runs it, so this process
    starts ``sagescale tune ARGS`` in a new session (its output goes to
    ``<workspace>/tuning/NAME.log``) and returns once that process drives the tuning job (it
    holds the job's lock), has ended it, or has failed (its output and exit code are passed on).
    """
    root = tuner.workspace.root
    log_path = root / "tuning" / f"{name}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    lock_path = root / "tuning" / f"{name}.lock"
    with log_path.open("ab") as log:
        start = log.tell()
        proc = subprocess.Popen(
            [sys.executable, "-m", "sagescale.cli", "tune", *args],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    while True:
        try:
            driving = lock_path.read_text().strip() == str(proc.pid)
        except OSError:
            driving = False
        if driving or _ended(tuner.store, name):
            break
        code = proc.poll()
        if code is not None:
            if code != 0 and not _ended(tuner.store, name):
                with log_path.open("rb") as log:
                    log.seek(start)
                    sys.stderr.write(log.read().decode(errors="replace"))
                return code
            break
        time.sleep(0.1)
    pid = proc.pid
    with warnings.catch_warnings():  # it is meant to outlive this process
        warnings.simplefilter("ignore", ResourceWarning)
        del proc
    _console().print(
        f"tuning job [bold]{name}[/bold] runs in process {pid} (log: {log_path}); "
        f"follow it with `sagescale tuning describe {name}`",
        highlight=False,
    )
    return 0


def _ended(store: TuningStore, name: str) -> bool:
    try:
        return store.get(name).done
    except NotFoundError:
        return False


@tuning_app.command("list")
def list_tuning_jobs() -> int:
    """Tuning jobs in the workspace, newest first."""
    store = TuningStore(Workspace.open())
    table = Table("name", "status", "strategy", "backend", "jobs", "created")
    for desc in store.all():
        table.add_row(
            desc.name,
            desc.status,
            desc.spec.strategy,
            desc.backend,
            str(len(store.jobs(desc.name))),
            desc.creation_time.strftime("%Y-%m-%d %H:%M:%S"),
        )
    _console().print(table)
    return 0


@tuning_app.command("describe")
def describe(
    name: Annotated[str, typer.Argument(help="tuning job name")], backend: BackendOption = None
) -> int:
    """A tuning job and its training jobs."""
    tuner = HyperparameterTuner.attach(name, backend=backend)
    desc = tuner.describe()
    _print_summary(tuner, desc)
    frame = tuner.analytics().dataframe()
    columns = [c for c in frame.columns if c not in ("TrainingStartTime", "TrainingEndTime")]
    table = Table(*[str(c) for c in columns])
    for _, row in frame.iterrows():
        table.add_row(*[_cell(row[c]) for c in columns])
    _console().print(table)
    return 0


def _cell(value: object) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


@tuning_app.command("best")
def best(
    name: Annotated[str, typer.Argument(help="tuning job name")], backend: BackendOption = None
) -> int:
    """The best training job: its name, objective and hyperparameters."""
    tuner = HyperparameterTuner.attach(name, backend=backend)
    job_name = tuner.best_training_job()
    job = next(j for j in tuner.training_jobs() if j.job_name == job_name)
    table = Table(show_header=False, box=None)
    table.add_row("training job", job_name)
    table.add_row(tuner.spec.objective_metric_name, _cell(job.final_objective))
    if job.definition_name:
        table.add_row("definition", job.definition_name)
    for key, value in sorted(job.hyperparameters.items()):
        table.add_row(key, _cell(value))
    _console().print(table)
    return 0


@tuning_app.command("resume")
def resume_command(
    name: Annotated[str, typer.Argument(help="tuning job name")],
    backend: BackendOption = None,
) -> int:
    """Continue a tuning job whose orchestrating process died."""
    return tune(spec=None, resume=name, backend=backend, job_name=None, wait=True)
