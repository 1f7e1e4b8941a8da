"""Options and helpers shared by the CLI commands."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer

from sagescale.cli._app import console

__all__ = ["BackendOption", "JsonOption", "RegionOption", "RoleOption", "print_json"]

BackendOption = Annotated[
    str | None,
    typer.Option("--backend", help="local or sagemaker (default: $SAGESCALE_BACKEND or local)"),
]
RegionOption = Annotated[str, typer.Option("--region", help="AWS region of the request")]
RoleOption = Annotated[
    str | None, typer.Option("--role", help="IAM role ARN (overrides the spec's role)")
]
JsonOption = Annotated[bool, typer.Option("--json", help="print JSON instead of a table")]


def print_json(data: Any) -> None:
    console.print_json(json.dumps(data, default=str))
