"""The estimates: model-state bytes, memory breakdown, all-reduce, pipeline bubble, cost."""

from __future__ import annotations

import pytest

from sagescale.planning import model_state_bytes_per_param, pipeline_bubble, ring_allreduce_seconds
from sagescale.planning._cost import cost_estimate, job_steps, spot_savings
from sagescale.planning._memory import (
    FRAGMENTATION,
    FRAMEWORK_OVERHEAD_BYTES,
    activation_budget,
    breakdown,
)
from sagescale.planning._perf import allreduce_seconds, step_time
from sagescale.specs import get_instance_type


@pytest.mark.parametrize(
    ("optimizer", "precision", "total", "parts"),
    [
        # ZeRO paper: mixed-precision Adam is 2 + 2 + 4 (master) + 8 (two moments) = 16
        ("adamw", "bf16", 16.0, (2, 2, 4, 8)),
        ("adam", "fp16", 16.0, (2, 2, 4, 8)),
        ("adam", "fp32", 16.0, (4, 4, 0, 8)),
        ("sgd", "fp32", 8.0, (4, 4, 0, 0)),
        ("sgd_momentum", "fp32", 12.0, (4, 4, 0, 4)),
        ("sgd_momentum", "bf16", 12.0, (2, 2, 4, 4)),
        ("sgd", "fp16", 8.0, (2, 2, 4, 0)),
    ],
)
def test_model_state_bytes_per_param(
    optimizer: str, precision: str, total: float, parts: tuple[float, ...]
) -> None:
    state = model_state_bytes_per_param(optimizer, precision)  # type: ignore[arg-type]
    assert state.total == total
    assert (state.weights, state.gradients, state.master_weights, state.optimizer_state) == parts


def test_adafactor_keeps_factored_second_moment() -> None:
    # a 4096 x 4096 matrix keeps 2 x 4096 fp32 numbers: 8/4096 bytes per parameter
    state = model_state_bytes_per_param("adafactor", "fp32", matrix_side=4096)
    assert state.optimizer_state == pytest.approx(8 / 4096)
    assert state.total == pytest.approx(8 + 8 / 4096)


def test_breakdown_of_one_billion_parameters() -> None:
    state = model_state_bytes_per_param("adamw", "bf16")
    mem = breakdown(state, 1e9, activations=2e9, capacity=80 * 2**30)
    assert mem.model_state == 16e9
    assert mem.weights == 2e9 and mem.master_weights == 4e9 and mem.optimizer_state == 8e9
    assert mem.overhead == pytest.approx(FRAMEWORK_OVERHEAD_BYTES + FRAGMENTATION * 18e9)
    assert mem.total == pytest.approx(18e9 + mem.overhead)
    assert mem.fits and 0 < mem.utilization < 1
    assert mem.dominant() == "optimizer_state"


def test_activation_budget_is_what_fits() -> None:
    state = model_state_bytes_per_param("adam", "fp32")
    cap = 16 * 2**30
    budget = activation_budget(state, 1e8, cap)
    assert breakdown(state, 1e8, budget, cap).total == pytest.approx(cap)


def test_ring_allreduce_formula() -> None:
    # 2 (N-1)/N x bytes / bandwidth
    assert ring_allreduce_seconds(1e9, 8, 100.0) == pytest.approx(2 * 7 / 8 * 1e9 / 100e9)
    assert ring_allreduce_seconds(1e9, 1, 100.0) == 0.0


def test_hierarchical_allreduce_uses_nvlink_inside_and_network_between() -> None:
    p3 = get_instance_type("ml.p3.16xlarge")
    assert p3 is not None and p3.gpu is not None
    grads = 4e8
    inside = allreduce_seconds(grads, p3, local_ranks=8, nodes=1)
    assert inside == pytest.approx(2 * 7 / 8 * grads / (p3.gpu.nvlink_gbytes_per_s or 0) / 1e9)
    two = allreduce_seconds(grads, p3, local_ranks=8, nodes=2)
    assert two - inside == pytest.approx(2 * 1 / 2 * grads / (25 / 8 * 1e9))


def test_pipeline_bubble() -> None:
    assert pipeline_bubble(4, 4) == pytest.approx(3 / 7)
    assert pipeline_bubble(4, 12) == pytest.approx(3 / 15)
    assert pipeline_bubble(1, 1) == 0.0


def test_allreduce_hides_behind_backward() -> None:
    hidden = step_time(flops_per_device=3e12, flops_per_second=1e12, allreduce=1.0, bubble=0)
    assert hidden.total == pytest.approx(3.0)
    exposed = step_time(flops_per_device=3e12, flops_per_second=1e12, allreduce=3.0, bubble=0)
    assert exposed.total == pytest.approx(3.0 + 1.0)
    piped = step_time(flops_per_device=3e12, flops_per_second=1e12, allreduce=0, bubble=0.5)
    assert piped.total == pytest.approx(6.0)


def test_cost_on_demand_spot_and_tuning() -> None:
    cost = cost_estimate(
        steps=3600, step_seconds=2.0, price_per_hour=10.0, savings=0.7, tuning_jobs=20
    )
    assert cost.job_hours == pytest.approx(2.0)
    assert cost.on_demand_per_job == pytest.approx(20.0)
    assert cost.managed_spot_per_job == pytest.approx(6.0)
    assert cost.on_demand_per_tuning_job == pytest.approx(400.0)
    assert cost.managed_spot_per_tuning_job == pytest.approx(120.0)


def test_steps_from_samples_and_default() -> None:
    assert job_steps(None, 1000, 2.0, 64) == (32, None)
    assert job_steps(50, 1000, 2.0, 64) == (50, None)
    steps, note = job_steps(None, None, 1.0, 64)
    assert steps == 1000 and note and "steps=" in note


def test_spot_savings_come_from_the_catalog() -> None:
    savings, note = spot_savings()
    assert 0 < savings < 1 and "spot" in note


def test_planning_with_numbers_does_not_import_torch() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from sagescale.planning import plan; "
        "p = plan(params=1.3e9, precision='bf16', batch_size=64, seq_len=2048); "
        "assert 'torch' not in sys.modules, 'torch imported'; print(p.strategy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "data_parallel"
