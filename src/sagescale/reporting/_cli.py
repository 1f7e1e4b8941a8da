"""``sagescale report tuning NAME`` and ``sagescale report experiment NAME``: one
self-contained HTML page each. The lead mounts :data:`report_app` on the main CLI."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["report_app"]

report_app = typer.Typer(
    name="report",
    help="Write a self-contained HTML report of a tuning job or an experiment.",
    no_args_is_help=True,
)


class ChartFormat(str, Enum):
    svg = "svg"
    png = "png"


HtmlOpt = Annotated[
    Path | None, typer.Option("--html", help="where to write the page (default: NAME.html)")
]
ChartOpt = Annotated[
    ChartFormat, typer.Option("--charts", help="embed charts as inline svg or base64 png")
]


@report_app.command("tuning")
def tuning(
    name: str,
    html: HtmlOpt = None,
    backend: Annotated[
        str | None,
        typer.Option("--backend", help="local or sagemaker (default: the one that ran it)"),
    ] = None,
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", help="workspace folder (default: $SAGESCALE_WORKSPACE)"),
    ] = None,
    charts: ChartOpt = ChartFormat.svg,
    plots: Annotated[
        Path | None, typer.Option("--plots", help="also save each chart as PNG in this folder")
    ] = None,
) -> None:
    """A tuning job: its training jobs and objectives, the best job's hyperparameters, charts."""
    from sagescale.reporting._load import tuning_report_for

    out = html or Path(f"{name}.html")
    tuning_report_for(
        name, out, backend=backend, workspace=workspace, chart_format=charts.value, plots=plots
    )
    typer.echo(f"wrote {out}")
    if plots is not None:
        typer.echo(f"plots in {plots}")


@report_app.command("experiment")
def experiment(
    name: str,
    html: HtmlOpt = None,
    store: Annotated[
        str | None,
        typer.Option("--store", help="store URI (default: $SAGESCALE_TRACKING_URI, workspace)"),
    ] = None,
    charts: ChartOpt = ChartFormat.svg,
) -> None:
    """An experiment: its trial components, their parameters and metrics, metric curves."""
    from sagescale.reporting._load import experiment_report_for

    out = html or Path(f"{name}.html")
    experiment_report_for(name, out, store=store, chart_format=charts.value)
    typer.echo(f"wrote {out}")
