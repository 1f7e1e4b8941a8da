"""``sagescale validate SPEC.yaml``."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from sagescale.cli._app import console
from sagescale.specs import SpecWarning, TrainingJob, load_spec

__all__ = ["validate"]


def validate(spec: Annotated[Path, typer.Argument(help="a training or tuning spec file")]) -> None:
    """Check a spec file against every rule; print best-practice warnings."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", SpecWarning)
        loaded = load_spec(spec)
    for warning in caught:
        console.print(f"[yellow]warning:[/yellow] {escape(str(warning.message))}", highlight=False)
    kind = "training job" if isinstance(loaded, TrainingJob) else "tuning job"
    console.print(f"[green]ok[/green]: {escape(str(spec))} is a valid {kind} spec", highlight=False)
