"""``sagescale render training|tuning SPEC.yaml``: print the SageMaker API request."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sagescale._botocore import validate_request
from sagescale.cli._common import RegionOption, RoleOption, print_json
from sagescale.specs import load_training_job, load_tuning_job, unique_name

__all__ = ["render_app"]

render_app = typer.Typer(
    help="Print the SageMaker API request a spec renders.", no_args_is_help=True
)
SpecArg = Annotated[Path, typer.Argument(help="spec file (YAML or JSON)")]
NameOption = Annotated[str | None, typer.Option("--job-name", help="name of the job")]
BucketOption = Annotated[
    str | None, typer.Option("--bucket", help="default bucket (else sagemaker-<region>-<account>)")
]


@render_app.command("training")
def render_training(
    spec: SpecArg,
    job_name: NameOption = None,
    region: RegionOption = "us-east-1",
    role: RoleOption = None,
    bucket: BucketOption = None,
) -> None:
    """Print ``CreateTrainingJob`` for a training job spec."""
    job = load_training_job(spec)
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
    tuning = load_tuning_job(spec)
    name = job_name or unique_name(tuning.base_tuning_job_name or "sagescale", limit=32)
    request = tuning.to_request(
        tuning_job_name=name, region=region, role=role, default_bucket=bucket
    )
    validate_request("CreateHyperParameterTuningJob", request)
    print_json(request)
