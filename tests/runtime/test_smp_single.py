"""runtime.smp in a group of one: microbatching, StepOutput, errors."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import sagescale.runtime.dist as dist
import sagescale.runtime.smp as smp
from sagescale.errors import SpecError
from sagescale.runtime.smp import _model, _state


@pytest.fixture
def one_process(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "SM_HPS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SM_HPS", '{"mp_parameters": {"partitions": 1, "microbatches": 4}}')
    yield
    _state.current = None
    _model._registry.clear()
    dist.destroy_process_group()


@smp.step
def train_step(model: Any, x: torch.Tensor, y: torch.Tensor) -> Any:
    out = model(x)
    loss = F.mse_loss(out, y)
    model.backward(loss)
    return out, loss


def test_microbatched_gradients_equal_one_pass(one_process: None) -> None:
    smp.init()
    assert (smp.rank(), smp.size(), smp.pp_size(), smp.dp_size(), smp.tp_size()) == (0, 1, 1, 1, 1)
    assert smp.num_microbatches() == 4 and smp.uses_smdistributed() is False
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    model = smp.DistributedModel(copy.deepcopy(reference))
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    out, loss = train_step(model, x, y)
    assert isinstance(loss, smp.StepOutput) and len(loss) == 4
    ref_loss = F.mse_loss(reference(x), y)
    ref_loss.backward()  # type: ignore[no-untyped-call]
    assert loss.reduce_mean().item() == pytest.approx(ref_loss.item(), abs=1e-6)
    assert out.concat().shape == (8, 2) and out.stack().shape == (4, 2, 2)
    assert loss.reduce_sum().item() == pytest.approx(4 * ref_loss.item(), abs=1e-5)
    for (name, p), q in zip(model.module.named_parameters(), reference.parameters(), strict=True):
        assert p.grad is not None
        torch.testing.assert_close(p.grad, q.grad, atol=1e-6, rtol=0), name
    assert model(x).shape == (8, 2)  # outside a step without partitions: a plain call
    assert set(model.state_dict()) == set(reference.state_dict())
    assert model.local_state_dict().keys() == model.state_dict().keys()


def test_step_errors(one_process: None) -> None:
    smp.init()
    model = smp.DistributedModel(nn.Linear(2, 2))
    with pytest.raises(SpecError, match=r"divisible by mp_parameters\.microbatches=4"):
        train_step(model, torch.randn(6, 2), torch.randn(6, 2))
    with pytest.raises(SpecError, match=r"inside an @smp\.step"):
        model.backward(torch.zeros(()))


def test_layout_errors(one_process: None) -> None:
    with pytest.raises(SpecError, match="divisible by partitions"):
        smp.init({"partitions": 2})
    with pytest.raises(SpecError, match="must be a mapping") as info:
        smp.init("partitions=2")  # type: ignore[arg-type]
    assert info.value.field == "config"


def test_letter_placement_strategy_runs_on_the_fallback(one_process: None) -> None:
    with pytest.raises(SpecError, match="or a permutation of the letters D, P and T") as info:
        smp.init({"placement_strategy": "PTX"})
    assert info.value.field == "mp_parameters.placement_strategy"
    smp.init({"placement_strategy": "PTD"})
    assert _state.current is not None
    assert _state.current.settings.placement_strategy == "PTD"
    assert (smp.rank(), smp.rdp_rank(), smp.pp_rank(), smp.tp_rank()) == (0, 0, 0, 0)


def test_save_and_load_partial(one_process: None, tmp_path: Any) -> None:
    smp.init()
    smp.save({"a": torch.ones(1)}, tmp_path / "model.pt")
    assert (tmp_path / "model.pt_0_0").is_file()
    assert torch.equal(smp.load(tmp_path / "model.pt")["a"], torch.ones(1))
    smp.save({"b": 1}, tmp_path / "full.pt", partial=False)
    assert smp.load(tmp_path / "full.pt", partial=False) == {"b": 1}
    assert smp.broadcast("x") == "x" and smp.allgather(3) == [3]
    smp.barrier()
    smp.dp_barrier()


def test_step_with_non_split_inputs(one_process: None) -> None:
    """``@smp.step(non_split_inputs=[...])`` (SMP's decorator with arguments): the named
    argument reaches every microbatch whole, even when its first dimension is the batch's."""
    smp.init()
    seen: list[tuple[int, ...]] = []

    @smp.step(non_split_inputs=["scale"], input_split_axes={"x": 0})
    def scaled_step(model: Any, x: torch.Tensor, scale: torch.Tensor) -> Any:
        seen.append((x.shape[0], scale.shape[0]))
        out = model(x) * scale.sum()
        model.backward(out.sum())
        return out

    model = smp.DistributedModel(nn.Linear(2, 2))
    out = scaled_step(model, torch.randn(8, 2), scale=torch.ones(8))
    assert seen == [(2, 8)] * 4 and out.concat().shape == (8, 2)
    seen.clear()
    scaled_step(model, torch.randn(8, 2), torch.ones(8))  # positionally too
    assert seen == [(2, 8)] * 4
    with pytest.raises(SpecError, match="not arguments of") as info:
        smp.step(non_split_inputs=["nope"])(lambda model, x: None)
    assert info.value.field == "non_split_inputs"
    with pytest.raises(SpecError, match="along axis 0 only") as info:
        smp.step(input_split_axes={"x": 1})
    assert info.value.field == "input_split_axes"


def test_distributed_model_takes_smps_keyword_arguments(one_process: None) -> None:
    """``smp.DistributedModel(model, trace_device=..., average_grads_across_microbatches=...)``
    as SMP documents it; ``False`` sums the 4 microbatches' gradients."""
    smp.init()
    torch.manual_seed(0)
    reference = nn.Linear(3, 2)
    model = smp.DistributedModel(
        copy.deepcopy(reference),
        trace_device="cpu",
        backward_passes_per_step=1,
        average_grads_across_microbatches=False,
    )
    x, y = torch.randn(8, 3), torch.randn(8, 2)
    train_step(model, x, y)
    F.mse_loss(reference(x), y).backward()  # type: ignore[no-untyped-call]
    for p, q in zip(model.module.parameters(), reference.parameters(), strict=True):
        assert p.grad is not None and q.grad is not None
        torch.testing.assert_close(p.grad, 4 * q.grad, atol=1e-5, rtol=0)
    with pytest.raises(SpecError, match="must be 'gpu', 'cpu' or None") as info:
        smp.DistributedModel(nn.Linear(2, 2), trace_device="tpu")
    assert info.value.field == "trace_device"
