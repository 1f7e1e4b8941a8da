"""Mixed precision: fp16 with a device-aware scaler, bf16 without one."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sagescale.errors import SpecError
from sagescale.runtime.amp import MixedPrecision, autocast


def _step(mp: MixedPrecision, model: nn.Module, opt: torch.optim.Optimizer) -> torch.Tensor:
    opt.zero_grad()
    with mp.autocast():
        out: torch.Tensor = model(torch.randn(4, 8))
    mp.backward(out.float().pow(2).mean())
    return out


@pytest.mark.parametrize(("mode", "dtype"), [("fp16", torch.float16), ("bf16", torch.bfloat16)])
def test_steps_run_in_reduced_precision(mode: str, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    model = nn.Linear(8, 8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mp = MixedPrecision(mode, "cpu")
    before = model.weight.detach().clone()
    out = _step(mp, model, opt)
    assert out.dtype == dtype
    assert mp.step(opt) is True
    assert not torch.equal(before, model.weight)
    assert (mp.scaler is not None) == (mode == "fp16")


def test_fp16_scaler_is_built_for_cpu_and_enabled() -> None:
    mp = MixedPrecision("fp16", torch.device("cpu"))
    assert mp.scaler is not None and mp.scaler.is_enabled()
    assert mp.scaler._device == "cpu"


def test_inf_gradient_is_skipped_and_the_scale_shrinks() -> None:
    torch.manual_seed(0)
    model = nn.Linear(8, 8)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    mp = MixedPrecision("fp16", "cpu", init_scale=1024.0)
    _step(mp, model, opt)
    assert model.weight.grad is not None
    model.weight.grad[0, 0] = float("inf")
    before = model.weight.detach().clone()
    assert mp.step(opt) is False
    assert torch.equal(before, model.weight)
    assert mp.skipped_steps == 1
    assert mp.state_dict()["scale"] == 512.0
    _step(mp, model, opt)
    assert mp.step(opt) is True


def test_no_mixed_precision_and_env(monkeypatch: pytest.MonkeyPatch) -> None:
    mp = MixedPrecision(None)
    model = nn.Linear(2, 2)
    with mp.autocast():
        assert model(torch.ones(1, 2)).dtype == torch.float32
    assert mp.state_dict() == {}
    monkeypatch.setenv("SAGESCALE_MIXED_PRECISION", "bf16")
    assert MixedPrecision.from_env().mode == "bf16"
    with autocast():
        assert model(torch.ones(1, 2)).dtype == torch.bfloat16
    with pytest.raises(SpecError, match="mixed_precision='fp8'"):
        MixedPrecision("fp8")
    with pytest.raises(SpecError, match="device='tpu'") as info:
        MixedPrecision("fp16", "tpu")
    assert info.value.field == "device"
