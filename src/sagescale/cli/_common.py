"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from sagescale.backends import Backend, backend_name, get_backend
from sagescale.cli._app import console

__all__ = [
    "BackendOption",
    "BucketOption",
    "JsonOption",
    "RegionOption",
    "RoleOption",
    "backend_from_options",
    "print_json",
]

BackendOption = Annotated[
    str | None,
    typer.Option("--backend", help="local or sagemaker (default: $SAGESCALE_BACKEND or local)"),
]
RegionOption = Annotated[str, typer.Option("--region", help="AWS region of the request")]
RoleOption = Annotated[
    str | None, typer.Option("--role", help="IAM role ARN (overrides the spec's role)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]
BucketOption = Annotated[
    str | None, typer.Option("--bucket", help="S3 bucket (else sagemaker-<region>-<account>)")
]


def backend_from_options(
    backend: str | None,
    *,
    role: str | None = None,
    region: str | None = None,
    bucket: str | None = None,
) -> Backend:
    """The backend named on the command line; role/region/bucket go to ``sagemaker``."""
    if backend_name(backend) != "sagemaker":
        return get_backend(backend)
    given = {"role": role, "region": region, "bucket": bucket}
    return get_backend(backend, **{k: v for k, v in given.items() if v is not None})


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))
