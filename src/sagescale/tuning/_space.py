"""Mapping SageMaker parameter ranges onto Optuna distributions.

Scaling rules:

- ``Linear``: uniform over ``[min_value, max_value]``.
- ``Logarithmic``: uniform over ``[log(min_value), log(max_value)]``.
- ``ReverseLogarithmic`` (continuous, ``0 <= min_value < max_value < 1``): uniform over
  ``log(1 - x)``, i.e. dense near 1. It is searched as ``y = 1 - x`` on a log scale.
- ``Auto``: logarithmic when ``min_value > 0`` and ``max_value / min_value >=``
  :data:`AUTO_LOG_RATIO` (the range spans at least two orders of magnitude), otherwise linear.
  ``Auto`` never picks ``ReverseLogarithmic``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from sagescale.specs import CategoricalParameter, ContinuousParameter, IntegerParameter

__all__ = ["AUTO_LOG_RATIO", "Dimension", "SearchSpace", "effective_scaling"]

#: ``Auto`` scaling turns logarithmic from this ``max_value / min_value`` ratio on.
AUTO_LOG_RATIO = 100.0

Range = IntegerParameter | ContinuousParameter | CategoricalParameter
Value = str | int | float | bool
Scaling = Literal["Linear", "Logarithmic", "ReverseLogarithmic", "Categorical"]


def effective_scaling(rng: Range) -> Scaling:
    """The scaling actually used for ``rng`` (``Auto`` resolved, see the module docstring)."""
    if isinstance(rng, CategoricalParameter):
        return "Categorical"
    if rng.scaling_type != "Auto":
        return rng.scaling_type
    low, high = rng.bounds()
    if low > 0 and high / low >= AUTO_LOG_RATIO:
        return "Logarithmic"
    return "Linear"


@dataclass(frozen=True)
class Dimension:
    """One tuned hyperparameter: its range, the Optuna distribution and the value mapping."""

    name: str
    range: Range
    scaling: Scaling
    distribution: BaseDistribution

    @classmethod
    def build(cls, name: str, rng: Range) -> Dimension:
        scaling = effective_scaling(rng)
        dist: BaseDistribution
        if isinstance(rng, CategoricalParameter):
            dist = CategoricalDistribution(list(rng.values))
        elif isinstance(rng, IntegerParameter):
            dist = IntDistribution(rng.min_value, rng.max_value, log=scaling == "Logarithmic")
        elif scaling == "ReverseLogarithmic":
            dist = FloatDistribution(1.0 - rng.max_value, 1.0 - rng.min_value, log=True)
        else:
            dist = FloatDistribution(rng.min_value, rng.max_value, log=scaling == "Logarithmic")
        return cls(name=name, range=rng, scaling=scaling, distribution=dist)

    def to_value(self, internal: Any) -> Value:
        """The hyperparameter value for an Optuna parameter value."""
        if self.scaling == "ReverseLogarithmic":
            # 1 - (1 - x) is not always x in floating point: the ends of the search scale map
            # to the ends of the range exactly, and every value stays inside it
            dist = self.distribution
            assert isinstance(self.range, ContinuousParameter)
            assert isinstance(dist, FloatDistribution)
            low, high = self.range.bounds()
            if float(internal) <= dist.low:
                return high
            if float(internal) >= dist.high:
                return low
            return min(max(1.0 - float(internal), low), high)
        if isinstance(self.range, IntegerParameter):
            return int(internal)
        if isinstance(self.range, ContinuousParameter):
            return float(internal)
        value: Value = internal
        return value

    def to_internal(self, value: Any) -> Any | None:
        """The Optuna parameter value for a hyperparameter value; ``None`` when outside."""
        try:
            internal = self._internal(value)
        except (TypeError, ValueError):
            return None
        if not self.distribution._contains(self.distribution.to_internal_repr(internal)):
            return None
        return internal

    def _internal(self, value: Any) -> Any:
        if isinstance(self.range, CategoricalParameter):
            for choice in self.range.values:
                if choice == value and type(choice) is type(value):
                    return choice
            for choice in self.range.values:  # strings read back from a job's hyperparameters
                if str(choice).lower() == str(value).lower():
                    return choice
            raise ValueError(value)
        if isinstance(self.range, IntegerParameter):
            number = float(value)
            if not number.is_integer():
                raise ValueError(value)
            return int(number)
        number = float(value)
        if not math.isfinite(number):
            raise ValueError(value)
        return 1.0 - number if self.scaling == "ReverseLogarithmic" else number

    def midpoint(self) -> Value:
        """The centre of the range on its own scale (the first value for categorical)."""
        if isinstance(self.range, CategoricalParameter):
            return self.range.values[0]
        dist = self.distribution
        assert isinstance(dist, IntDistribution | FloatDistribution)
        low, high = float(dist.low), float(dist.high)
        mid = math.sqrt(low * high) if dist.log else (low + high) / 2
        if isinstance(dist, IntDistribution):
            mid = float(round(mid))
        return self.to_value(mid)


class SearchSpace:
    """The dimensions of one training job definition."""

    def __init__(self, ranges: dict[str, Any]) -> None:
        self.dimensions = {name: Dimension.build(name, rng) for name, rng in ranges.items()}

    def distributions(self) -> dict[str, BaseDistribution]:
        return {name: d.distribution for name, d in self.dimensions.items()}

    def to_values(self, internal: dict[str, Any]) -> dict[str, Value]:
        return {name: self.dimensions[name].to_value(v) for name, v in internal.items()}

    def to_internal(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """Optuna parameters for ``values`` (every dimension), or ``None`` if one is outside."""
        out: dict[str, Any] = {}
        for name, dim in self.dimensions.items():
            if name not in values:
                return None
            internal = dim.to_internal(values[name])
            if internal is None:
                return None
            out[name] = internal
        return out
