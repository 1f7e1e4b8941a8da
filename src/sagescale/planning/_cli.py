"""``sagescale plan``: the planner on the command line (mounted by ``sagescale.cli``).

``plan_app`` is a typer app whose callback is the command, so both
``app.add_typer(plan_app, name="plan")`` and running ``plan_app`` alone give
``sagescale plan --params 1.3e9 --optimizer adamw --precision bf16 --batch 64 --seq-len 2048``.
Bad input prints one line naming the field, value and rule, and exits with code 2.
"""

from __future__ import annotations

import json
from typing import Annotated

import typer

from sagescale.errors import SpecError

__all__ = ["plan_app", "plan_command"]

plan_app = typer.Typer(
    name="plan",
    help="Plan a training job: strategy, instances, batch, memory, step time and cost.",
    add_completion=False,
    no_args_is_help=False,
)

_OPTION_OF = {
    "batch_size": "batch",
    "num_layers": "layers",
    "num_heads": "heads",
    "activation_bytes_per_sample": "activation-gib",
    "flash_attention": "eager-attention",
}
_Float = float | None
_Int = int | None
_Str = str | None


def plan_command(
    params: Annotated[_Float, typer.Option(help="Parameter count, e.g. 1.3e9.")] = None,
    optimizer: Annotated[
        str, typer.Option(help="adam, adamw, sgd, sgd_momentum or adafactor.")
    ] = "adamw",
    precision: Annotated[
        _Str, typer.Option(help="fp32, fp16 or bf16 [default: the job's, else fp32].")
    ] = None,
    batch: Annotated[int, typer.Option(help="Global batch size (all devices).")] = 32,
    seq_len: Annotated[_Int, typer.Option(help="Sequence length (transformers).")] = None,
    hidden_size: Annotated[_Int, typer.Option(help="Transformer hidden size.")] = None,
    layers: Annotated[_Int, typer.Option(help="Transformer layers.")] = None,
    heads: Annotated[_Int, typer.Option(help="Attention heads.")] = None,
    eager_attention: Annotated[
        bool, typer.Option(help="Attention keeps its s x s scores (no flash attention).")
    ] = False,
    activation_gib: Annotated[
        _Float, typer.Option(help="Activation GiB per sample, measured at --precision.")
    ] = None,
    flops_per_sample: Annotated[
        _Float, typer.Option(help="Training FLOPs per sample (forward + backward).")
    ] = None,
    instance_type: Annotated[_Str, typer.Option(help="Start from this instance type.")] = None,
    instance_count: Annotated[_Int, typer.Option(help="Use exactly this many instances.")] = None,
    max_instances: Annotated[int, typer.Option(help="Most instances to consider.")] = 8,
    max_hours: Annotated[
        _Float, typer.Option(help="Finish the job within this many hours.")
    ] = None,
    steps: Annotated[_Int, typer.Option(help="Optimizer steps of the job.")] = None,
    samples: Annotated[_Int, typer.Option(help="Training samples (with --epochs).")] = None,
    epochs: Annotated[float, typer.Option(help="Epochs over --samples.")] = 1.0,
    tuning_jobs: Annotated[_Int, typer.Option(help="Training jobs of a tuning job.")] = None,
    job: Annotated[
        _Str, typer.Option(help="Start from this training job spec (YAML/JSON).")
    ] = None,
    write_job: Annotated[
        _Str, typer.Option(help="Write the planned job spec here (needs --job).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the plan as JSON.")] = False,
) -> None:
    """Plan a training job before it runs."""
    from sagescale.planning._api import plan
    from sagescale.specs import dump_spec, load_training_job

    try:
        if write_job is not None and job is None:
            raise SpecError(
                "write_job: needs --job (rule: the planned job is built on a job spec)",
                field="write_job",
                value=write_job,
            )
        base = None if job is None else load_training_job(job)
        result = plan(
            base,
            params=params,
            optimizer=optimizer,  # type: ignore[arg-type]  # validated by PlanRequest
            precision=precision,  # type: ignore[arg-type]
            batch_size=batch,
            seq_len=seq_len,
            hidden_size=hidden_size,
            num_layers=layers,
            num_heads=heads,
            flash_attention=not eager_attention,
            activation_bytes_per_sample=None if activation_gib is None else activation_gib * 2**30,
            flops_per_sample=flops_per_sample,
            instance_type=instance_type,
            instance_count=instance_count,
            max_instances=max_instances,
            max_hours=max_hours,
            steps=steps,
            samples=samples,
            epochs=epochs,
            tuning_jobs=tuning_jobs,
        )
        if write_job is not None:
            dump_spec(result.to_job(), write_job)
    except SpecError as exc:
        typer.echo(f"error: {exc}{_option_hint(exc.field, job)}", err=True)
        raise typer.Exit(code=2) from None
    if as_json:
        typer.echo(json.dumps(result.to_dict(), indent=2, allow_nan=False))
        return
    from rich.console import Console

    Console().print(result)


def _option_hint(field: str | None, job: str | None) -> str:
    """`` (option --batch)`` for a field the command's options set."""
    from sagescale.planning._request import PlanRequest

    if field in PlanRequest.model_fields or field == "write_job":
        return f" (option --{_OPTION_OF.get(field, field.replace('_', '-'))})"
    return " (option --job)" if job is not None else ""


plan_app.callback(invoke_without_command=True)(plan_command)
