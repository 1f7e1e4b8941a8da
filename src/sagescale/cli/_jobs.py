"""``sagescale train SPEC.yaml`` and ``sagescale jobs list|describe|logs|stop``."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sagescale.backends import Backend, JobDescription
from sagescale.cli._app import EXIT_FAILED, EXIT_INTERRUPTED, console, err_console
from sagescale.cli._common import (
    BackendOption,
    BucketOption,
    JsonOption,
    backend_from_options,
    print_json,
)
from sagescale.errors import SpecError
from sagescale.specs import SpecKindError, load_training_job

__all__ = ["jobs_app", "train"]

jobs_app = typer.Typer(help="List, inspect and stop training jobs.", no_args_is_help=True)
NameArg = Annotated[str, typer.Argument(help="training job name")]


def _parse_hyperparameters(pairs: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SpecError(
                f"--hp {pair!r}: must be NAME=VALUE", field="hyperparameters", value=pair
            )
        out[key] = value
    return out


def _progress(backend: Backend, name: str, poll: float = 0.5) -> JobDescription:
    """Show the job's secondary status and its latest metric until it ends."""
    with console.status(f"{name}: starting") as status:
        while True:
            desc = backend.describe(name)
            points = backend.metrics(name)
            latest = f" | {points[-1].name}={points[-1].value:.5g}" if points else ""
            step = f" step {points[-1].step}" if points and points[-1].step is not None else ""
            status.update(f"{name}: {desc.secondary_status}{step}{latest}")
            if desc.done:
                return desc
            time.sleep(poll)


def train(
    spec: Annotated[Path, typer.Argument(help="training job spec (YAML/JSON)")],
    backend: BackendOption = None,
    job_name: Annotated[str | None, typer.Option("--job-name")] = None,
    hp: Annotated[
        list[str] | None, typer.Option("--hp", help="override a hyperparameter: NAME=VALUE")
    ] = None,
    wait: Annotated[bool, typer.Option("--wait/--no-wait")] = True,
    logs: Annotated[bool, typer.Option("--logs", help="print the job's log at the end")] = False,
    role: Annotated[str | None, typer.Option("--role", help="IAM role ARN (sagemaker)")] = None,
    region: Annotated[str | None, typer.Option("--region", help="AWS region (sagemaker)")] = None,
    bucket: BucketOption = None,
) -> int:
    """Run a training job from a spec file."""
    try:
        job = load_training_job(spec)
    except SpecKindError as exc:
        raise SpecError(
            f"{exc.reason}: `sagescale train` runs training job specs; check it with "
            f"`sagescale validate {spec}` or print its request with "
            f"`sagescale render tuning {spec}`",
            field=exc.field,
            value=exc.value,
        ) from None
    runner = backend_from_options(backend, role=role, region=region, bucket=bucket)
    name = runner.submit(job, job_name=job_name, hyperparameters=_parse_hyperparameters(hp or []))
    console.print(f"submitted [bold]{name}[/bold] on {runner.name}", highlight=False)
    if not wait:
        return 0
    try:
        desc = _progress(runner, name)
    except KeyboardInterrupt:  # the job runs on without this process (a detached supervisor)
        flag = "" if runner.name == "local" else f" --backend {runner.name}"
        err_console.print(
            f"interrupted: job {name} keeps running; `sagescale jobs describe {name}{flag}` "
            f"follows it, `sagescale jobs stop {name}{flag}` stops it",
            highlight=False,
            markup=False,
        )
        return EXIT_INTERRUPTED
    if logs:
        _print_log(runner.logs(name))
    _print_description(desc)
    return 0 if desc.status.value == "Completed" else EXIT_FAILED


def _print_description(desc: JobDescription) -> None:
    table = Table(show_header=False, box=None)
    table.add_row("job", desc.job_name)
    table.add_row("status", f"{desc.status.value} ({desc.secondary_status})")
    if desc.failure_reason:
        table.add_row("failure reason", desc.failure_reason)
    if desc.model_artifacts:
        table.add_row("model", desc.model_artifacts)
    for key, value in sorted(desc.final_metrics.items()):
        table.add_row(key, f"{value:.6g}")
    console.print(table)


def _describe_dict(desc: JobDescription) -> dict[str, Any]:
    data = asdict(desc)
    data["status"] = desc.status.value
    data["spec"] = desc.spec.to_dict() if desc.spec is not None else None
    data["experiment_config"] = (
        desc.experiment_config.to_dict() if desc.experiment_config is not None else None
    )
    return data


@jobs_app.command("list")
def list_jobs(
    backend: BackendOption = None,
    status: Annotated[str | None, typer.Option("--status")] = None,
    name: Annotated[str | None, typer.Option("--name", help="name contains")] = None,
    max_results: Annotated[int, typer.Option("--max")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Training jobs, newest first."""
    jobs = backend_from_options(backend).list_jobs(
        status=status, name_contains=name, max_results=max_results
    )
    if as_json:
        print_json([_describe_dict(j) for j in jobs])
        return
    table = Table("job", "status", "secondary", "created", "elapsed (s)")
    for job in jobs:
        elapsed = job.elapsed_seconds
        table.add_row(
            job.job_name,
            job.status.value,
            job.secondary_status,
            job.creation_time.strftime("%Y-%m-%d %H:%M:%S"),
            f"{elapsed:.1f}" if elapsed is not None else "",
        )
    console.print(table)


@jobs_app.command("describe")
def describe(name: NameArg, backend: BackendOption = None, as_json: JsonOption = False) -> None:
    """One job's status, times, failure reason, metrics and artifact."""
    desc = backend_from_options(backend).describe(name)
    if as_json:
        print_json(_describe_dict(desc))
    else:
        _print_description(desc)


def _print_log(text: str) -> None:
    """A job's log as it is (no rich rendering, tabs kept), ending with one newline."""
    if not text:
        return
    console.file.write(text if text.endswith("\n") else text + "\n")
    console.file.flush()


@jobs_app.command("logs")
def logs(name: NameArg, backend: BackendOption = None) -> None:
    """Everything the job printed."""
    _print_log(backend_from_options(backend).logs(name))


@jobs_app.command("stop")
def stop(name: NameArg, backend: BackendOption = None) -> None:
    """Ask a running job to stop (a job that has already ended is left as it is)."""
    chosen = backend_from_options(backend)
    ended = chosen.describe(name)
    if ended.done:
        console.print(f"{name} has already ended: {ended.status.value}", highlight=False)
        return
    chosen.stop(name)
    console.print(f"stopping {name}", highlight=False)
