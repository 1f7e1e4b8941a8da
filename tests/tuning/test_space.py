from __future__ import annotations

import math

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from sagescale.specs import CategoricalParameter, ContinuousParameter, IntegerParameter
from sagescale.tuning import AUTO_LOG_RATIO, effective_scaling
from sagescale.tuning._space import Dimension, SearchSpace


@pytest.mark.parametrize(
    ("rng", "expected"),
    [
        (ContinuousParameter(min_value=1e-5, max_value=1e-1), "Logarithmic"),
        (ContinuousParameter(min_value=0.01, max_value=0.01 * AUTO_LOG_RATIO), "Logarithmic"),
        (ContinuousParameter(min_value=0.01, max_value=0.99), "Linear"),
        (ContinuousParameter(min_value=0.0, max_value=1000.0), "Linear"),
        (ContinuousParameter(min_value=-5.0, max_value=10.0), "Linear"),
        (IntegerParameter(min_value=1, max_value=10), "Linear"),
        (IntegerParameter(min_value=1, max_value=120), "Logarithmic"),
        (
            ContinuousParameter(min_value=0.9, max_value=0.999, scaling_type="ReverseLogarithmic"),
            "ReverseLogarithmic",
        ),
        (IntegerParameter(min_value=1, max_value=500, scaling_type="Linear"), "Linear"),
        (CategoricalParameter(values=["a", "b"]), "Categorical"),
    ],
)
def test_auto_rule_and_explicit_scaling(rng: object, expected: str) -> None:
    assert effective_scaling(rng) == expected  # type: ignore[arg-type]


def test_distributions() -> None:
    space = SearchSpace(
        {
            "lr": ContinuousParameter(min_value=1e-4, max_value=1e-1),
            "depth": IntegerParameter(min_value=2, max_value=8),
            "beta": ContinuousParameter(
                min_value=0.9, max_value=0.999, scaling_type="ReverseLogarithmic"
            ),
            "opt": CategoricalParameter(values=["sgd", "adam", True, 3]),
        }
    )
    dists = space.distributions()
    assert dists["lr"] == FloatDistribution(1e-4, 1e-1, log=True)
    assert dists["depth"] == IntDistribution(2, 8)
    beta = dists["beta"]
    assert isinstance(beta, FloatDistribution) and beta.log
    assert math.isclose(beta.low, 0.001) and math.isclose(beta.high, 0.1)
    assert dists["opt"] == CategoricalDistribution(["sgd", "adam", True, 3])


def test_reverse_log_round_trip_and_density_near_one() -> None:
    rng = ContinuousParameter(min_value=0.9, max_value=0.999, scaling_type="ReverseLogarithmic")
    dim = Dimension.build("beta", rng)
    assert math.isclose(float(dim.to_value(0.01)), 0.99)
    internal = dim.to_internal(0.99)
    assert internal is not None and math.isclose(internal, 0.01)
    assert dim.to_internal(0.5) is None
    # the middle of the search scale is the geometric middle of 1 - x
    assert math.isclose(float(dim.midpoint()), 1 - math.sqrt(0.1 * 0.001))


def test_values_read_back_as_text_and_outside() -> None:
    space = SearchSpace(
        {
            "depth": IntegerParameter(min_value=2, max_value=8),
            "flag": CategoricalParameter(values=[True, False]),
        }
    )
    assert space.to_internal({"depth": "4", "flag": "true"}) == {"depth": 4, "flag": True}
    assert space.to_internal({"depth": 9, "flag": True}) is None
    assert space.to_internal({"depth": 4.5, "flag": True}) is None
    assert space.to_internal({"depth": 4}) is None
    assert space.to_values({"depth": 3, "flag": False}) == {"depth": 3, "flag": False}


@pytest.mark.parametrize(("low", "high"), [(0.0, 0.3), (0.1, 0.7), (0.2, 0.9), (0.0, 0.1)])
def test_reverse_log_values_stay_inside_the_range_at_both_ends(low: float, high: float) -> None:
    """1 - (1 - x) can round outside [min_value, max_value] (1 - 0.7 = 0.30000000000000004);
    the Gaussian-process sampler often proposes exactly the ends of the search scale."""
    rng = ContinuousParameter(min_value=low, max_value=high, scaling_type="ReverseLogarithmic")
    dim = Dimension.build("beta", rng)
    dist = dim.distribution
    assert isinstance(dist, FloatDistribution)
    assert dim.to_value(dist.low) == high
    assert dim.to_value(dist.high) == low
    for internal in (dist.low, dist.high, math.sqrt(dist.low * dist.high)):
        value = float(dim.to_value(internal))
        assert low <= value <= high
        assert dim.to_internal(value) is not None  # a value read back (resume) is inside
