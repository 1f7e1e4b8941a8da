"""The axes of a parallel-coordinates plot: each column mapped onto [0, 1] with its ticks."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["Axis", "RangeLike", "parallel_axes", "scaling_of"]


class _HasScaling(Protocol):
    @property
    def scaling_type(self) -> str: ...


# a scaling type ("Linear", "Logarithmic", ...) or a range spec: IntegerParameter,
# ContinuousParameter (they carry ``scaling_type``) or CategoricalParameter
RangeLike = str | _HasScaling | object


@dataclass(frozen=True)
class Axis:
    """One vertical axis: its label, each row's position in [0, 1] (NaN: no value), ticks."""

    label: str
    positions: list[float]
    ticks: list[tuple[float, str]]


def scaling_of(spec: RangeLike | None) -> str:
    """``"Logarithmic"``, ``"ReverseLogarithmic"`` or ``"Linear"`` (also for unknown)."""
    value = spec if isinstance(spec, str) else getattr(spec, "scaling_type", None)
    return value if value in ("Logarithmic", "ReverseLogarithmic") else "Linear"


def parallel_axes(
    jobs: pd.DataFrame, names: Sequence[str], ranges: Mapping[str, RangeLike], objective: str
) -> list[Axis]:
    """One axis per hyperparameter in ``names`` and a last one for ``FinalObjectiveValue``."""
    axes = [_axis(jobs[name], name, scaling_of(ranges.get(name))) for name in names]
    axes.append(_numeric_axis(objective, _floats(jobs["FinalObjectiveValue"]), "Linear"))
    return axes


def _floats(column: pd.Series[Any]) -> list[float] | None:
    """The column as floats, or ``None`` when some present value is not a number."""
    import pandas as pd

    numbers = pd.to_numeric(column, errors="coerce")
    if (numbers.isna() & column.notna()).any():
        return None
    return [float(v) for v in numbers]


def _axis(column: pd.Series[Any], label: str, scaling: str) -> Axis:
    values = _floats(column)
    if values is None:
        return _categorical_axis(label, column)
    return _numeric_axis(label, values, scaling)


_TRANSFORMS: dict[str, tuple[Callable[[float], float], Callable[[float], float]]] = {
    "Linear": (lambda v: v, lambda t: t),
    "Logarithmic": (math.log10, lambda t: 10.0**t),
    "ReverseLogarithmic": (lambda v: -math.log10(1.0 - v), lambda t: 1.0 - 10.0 ** (-t)),
}


def _usable(values: list[float], scaling: str) -> bool:
    finite = [v for v in values if math.isfinite(v)]
    if scaling == "Logarithmic":
        return all(v > 0 for v in finite)
    if scaling == "ReverseLogarithmic":
        return all(0 <= v < 1 for v in finite)
    return True


def _numeric_axis(label: str, values: list[float] | None, scaling: str) -> Axis:
    values = values or []
    if not _usable(values, scaling):
        scaling = "Linear"
    forward, back = _TRANSFORMS[scaling]
    t = [forward(v) if math.isfinite(v) else math.nan for v in values]
    finite = [v for v in t if math.isfinite(v)]
    if not finite:
        return Axis(label, [math.nan] * len(values), [])
    lo, hi = min(finite), max(finite)
    span = hi - lo
    positions = [(v - lo) / span if span else 0.5 for v in t]
    marks = (0.0, 0.5, 1.0) if span else (0.5,)
    ticks = [(m, f"{back(lo + m * span):.4g}") for m in marks]
    suffix = {"Logarithmic": " (log)", "ReverseLogarithmic": " (reverse log)"}.get(scaling, "")
    return Axis(label + suffix, positions, ticks)


def _categorical_axis(label: str, column: pd.Series[Any]) -> Axis:
    present = [str(v) for v in column if v is not None and v == v]
    categories = sorted(set(present))
    where = {
        c: (i / (len(categories) - 1) if len(categories) > 1 else 0.5)
        for i, c in enumerate(categories)
    }
    positions = [where.get(str(v), math.nan) for v in column]
    return Axis(label, positions, [(where[c], c) for c in categories])
