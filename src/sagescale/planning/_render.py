"""A plan as rich tables, as HTML for notebooks, and as plain text."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from sagescale.planning._memory import GIB

if TYPE_CHECKING:
    from sagescale.planning._plan import Plan

__all__ = ["plan_html", "plan_rows", "plan_text", "rich_renderable"]


def _gib(nbytes: float) -> str:
    return f"{nbytes / GIB:.2f} GiB"


def _money(value: float | None) -> str:
    return "-" if value is None else f"${value:,.2f}"


def _summary(plan: Plan) -> list[tuple[str, str]]:
    rows = [
        ("strategy", plan.strategy.replace("_", " ")),
        ("instances", f"{plan.instance_count} x {plan.instance_type} ({plan.total_gpus} GPUs)"),
        ("precision", plan.precision),
        ("global batch", f"{plan.global_batch} ({plan.per_device_batch} per device/replica)"),
    ]
    if plan.strategy == "model_parallel":
        rows.append(
            ("pipeline", f"{plan.partitions} partitions x {plan.microbatches} microbatches")
        )
    return rows


def _memory_rows(plan: Plan) -> list[tuple[str, str]]:
    mem = plan.memory
    rows = [(name.replace("_", " "), _gib(value)) for name, value in mem.parts().items()]
    rows.append(("total", f"{_gib(mem.total)} of {_gib(mem.capacity)} ({mem.utilization:.0%})"))
    rows.append(("model state / param", f"{plan.state_bytes_per_param.total:g} bytes"))
    return rows


def _estimate_rows(plan: Plan) -> list[tuple[str, str]]:
    cost = plan.cost
    rows = [
        ("step time", f"{plan.step_seconds * 1000:.1f} ms"),
        ("compute", f"{plan.compute_seconds * 1000:.1f} ms"),
        ("all-reduce", f"{plan.allreduce_seconds * 1000:.1f} ms (overlaps backward)"),
        ("pipeline bubble", f"{plan.pipeline_bubble:.0%}"),
        ("throughput", f"{plan.samples_per_second:,.1f} samples/s"),
        ("job", f"{cost.steps} steps, {cost.job_hours:.2f} h"),
        (
            "cost per job",
            f"{_money(cost.on_demand_per_job)} on demand, "
            f"{_money(cost.managed_spot_per_job)} managed spot (-{cost.spot_savings:.0%})",
        ),
    ]
    if cost.tuning_jobs is not None:
        rows.append(
            (
                f"cost per tuning job ({cost.tuning_jobs} jobs)",
                f"{_money(cost.on_demand_per_tuning_job)} on demand, "
                f"{_money(cost.managed_spot_per_tuning_job)} managed spot",
            )
        )
    return rows


_SCALING_HEAD = (
    "step",
    "layout",
    "GPUs",
    "batch/dev",
    "step ms",
    "speed-up",
    "efficiency",
    "$/job",
)


def _scaling_rows(plan: Plan) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = []
    for s in plan.scaling:
        layout = (
            f"{s.instance_count} x {s.instance_type}" if s.instance_count > 1 else s.instance_type
        )
        chosen = s.instance_type == plan.instance_type and s.instance_count == plan.instance_count
        rows.append(
            (
                s.kind + (" *" if chosen else ""),
                layout,
                str(s.gpus),
                str(s.per_device_batch),
                f"{s.step_seconds * 1000:.1f}",
                f"{s.speedup:.2f}x",
                f"{s.efficiency:.0%}",
                _money(s.job_cost),
            )
        )
    return rows


def plan_rows(plan: Plan) -> dict[str, list[tuple[str, ...]]]:
    """Every table of the plan as rows of strings (shared by rich, HTML and text)."""
    return {
        "Plan": [tuple(r) for r in _summary(plan)],
        "Decisions": [(d.topic, d.choice, d.reason) for d in plan.decisions],
        "Memory per device": [tuple(r) for r in _memory_rows(plan)],
        "Estimates": [tuple(r) for r in _estimate_rows(plan)],
        "Scaling": _scaling_rows(plan),
        "Remedies": [
            (
                r.name,
                "yes" if r.fits else "no",
                r.change,
                r.cost + (" [applied]" if r.applied else ""),
            )
            for r in plan.remedies
        ],
    }


_HEADS = {
    "Decisions": ("decision", "choice", "reason"),
    "Scaling": _SCALING_HEAD,
    "Remedies": ("remedy", "fits", "change", "cost"),
}


def rich_renderable(plan: Plan) -> Any:
    """A rich ``Group`` of tables."""
    from rich.console import Group
    from rich.table import Table
    from rich.text import Text

    parts: list[Any] = []
    for title, rows in plan_rows(plan).items():
        if not rows:
            continue
        table = Table(title=title, title_justify="left", show_header=title in _HEADS)
        for head in _HEADS.get(title, ("", "")):
            table.add_column(head, overflow="fold")
        for row in rows:
            table.add_row(*row)
        parts.append(table)
    for warning in plan.warnings:
        parts.append(Text(f"warning: {warning}", style="bold yellow"))
    parts.append(
        Text(
            f"catalog: {plan.catalog.get('as_of', '')}, "
            f"prices {plan.catalog.get('price_region', '')}",
            style="dim",
        )
    )
    return Group(*parts)


def plan_html(plan: Plan) -> str:
    """A self-contained HTML fragment (notebook ``_repr_html_``)."""
    out = ['<div class="sagescale-plan">']
    for title, rows in plan_rows(plan).items():
        if not rows:
            continue
        out.append(f"<h4>{html.escape(title)}</h4><table>")
        if title in _HEADS:
            out.append(
                "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in _HEADS[title]) + "</tr>"
            )
        for row in rows:
            out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
        out.append("</table>")
    if plan.warnings:
        out.append(
            "<ul>"
            + "".join(
                f'<li style="color:#a60">warning: {html.escape(w)}</li>' for w in plan.warnings
            )
            + "</ul>"
        )
    if plan.assumptions:
        out.append(
            "<details><summary>assumptions</summary><ul>"
            + "".join(f"<li>{html.escape(a)}</li>" for a in plan.assumptions)
            + "</ul></details>"
        )
    out.append("</div>")
    return "".join(out)


def plan_text(plan: Plan) -> str:
    """Plain text (``str(plan)``)."""
    lines = []
    for title, rows in plan_rows(plan).items():
        if rows:
            lines.append(f"{title}:")
            lines.extend("  " + " | ".join(row) for row in rows)
    lines.extend(f"warning: {w}" for w in plan.warnings)
    return "\n".join(lines)
