"""``sagescale render training|tuning SPEC.yaml``: print the SageMaker API request."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from sagescale._botocore import validate_request
from sagescale.cli._common import RegionOption, RoleOption, print_json
from sagescale.errors import SpecError
from sagescale.specs import (
    SpecKindError,
    TrainingJob,
    TuningJob,
    load_training_job,
    load_tuning_job,
    unique_name,
)

__all__ = ["render_app"]

_S = TypeVar("_S", TrainingJob, TuningJob)

render_app = typer.Typer(
    help="Print the SageMaker API request a spec renders.", no_args_is_help=True
)
SpecArg = Annotated[Path, typer.Argument(help="spec file (YAML or JSON)")]
NameOption = Annotated[str | None, typer.Option("--job-name", help="name of the job")]
BucketOption = Annotated[
    str | None, typer.Option("--bucket", help="default bucket (else sagemaker-<region>-<account>)")
]


def _load(spec: Path, loader: Callable[[Path], _S]) -> _S:
    """``loader(spec)``; a spec of the other kind names the render command that takes it."""
    try:
        return loader(spec)
    except SpecKindError as exc:
        raise SpecError(
            f"{exc.reason}: use `sagescale render {exc.found} {spec}`",
            field=exc.field,
            value=exc.value,
        ) from None


@render_app.command("training")
def render_training(
    spec: SpecArg,
    job_name: NameOption = None,
    region: RegionOption = "us-east-1",
    role: RoleOption = None,
    bucket: BucketOption = None,
) -> None:
    """Print ``CreateTrainingJob`` for a training job spec."""
    job = _load(spec, load_training_job)
    name = job_name or unique_name(job.base_job_name or "sagescale")
    request = job.to_request(job_name=name, region=region, role=role, default_bucket=bucket)
    validate_request("CreateTrainingJob", request)
    print_json(request)


@render_app.command("tuning")
def render_tuning(
    spec: SpecArg,
    job_name: NameOption = None,
    region: RegionOption = "us-east-1",
    role: RoleOption = None,
    bucket: BucketOption = None,
) -> None:
    """Print ``CreateHyperParameterTuningJob`` for a tuning spec."""
    tuning = _load(spec, load_tuning_job)
    name = job_name or unique_name(tuning.base_tuning_job_name or "sagescale", limit=32)
    request = tuning.to_request(
        tuning_job_name=name, region=region, role=role, default_bucket=bucket
    )
    validate_request("CreateHyperParameterTuningJob", request)
    print_json(request)
