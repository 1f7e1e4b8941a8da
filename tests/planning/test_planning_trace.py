"""Activation estimate of a model traced on the meta device vs. measured memory on CPU.

The measurement: ``torch.profiler.profile(profile_memory=True)`` records every CPU
allocation and free of the profiled region as ``[memory]`` events with a signed byte count;
their running sum in time order is the memory the forward pass, the loss and the backward
pass hold, and its maximum is the peak (parameters and inputs exist before the region, so
they are not in it; the parameter gradients made in backward are).
"""

from __future__ import annotations

from typing import Any

import pytest

torch = pytest.importorskip("torch")
nn = torch.nn

from sagescale.errors import SpecError  # noqa: E402
from sagescale.planning import plan, trace_model  # noqa: E402


class Block(nn.Module):  # type: ignore[misc,name-defined]
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.up = nn.Linear(hidden, 4 * hidden)
        self.act = nn.GELU()
        self.down = nn.Linear(4 * hidden, hidden)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: Any) -> Any:
        return x + self.drop(self.down(self.act(self.up(self.norm(x)))))


def token_model(layers: int = 8, hidden: int = 128, vocab: int = 256) -> Any:
    torch.manual_seed(0)
    blocks = [Block(hidden) for _ in range(layers)]
    return nn.Sequential(
        nn.Embedding(vocab, hidden), *blocks, nn.LayerNorm(hidden), nn.Linear(hidden, vocab)
    )


def conv_model() -> Any:
    torch.manual_seed(0)
    layers: list[Any] = []
    channels = 3
    for width in (32, 64, 64, 128):
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


def measured_peak(model: Any, batch: Any, target: Any) -> int:
    """Peak CPU bytes held during forward + loss + backward (torch.profiler memory events)."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        out = model(batch)
        loss = nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))
        loss.backward()
    events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
    events.sort(key=lambda e: e.start_ns())
    held = peak = 0
    for event in events:
        held += event.nbytes()
        peak = max(peak, held)
    return peak


@pytest.mark.parametrize("case", ["transformer-like", "convnet"])
def test_traced_activations_within_25_percent_of_measured_peak(case: str) -> None:
    if case == "convnet":
        model, batch = conv_model(), torch.randn(16, 3, 32, 32)
        target = torch.randint(0, 10, (16,))
    else:
        model, batch = token_model(layers=6), torch.randint(0, 256, (8, 128))
        target = torch.randint(0, 256, (8, 128))
    profile = trace_model(model, batch)
    estimate = profile.activation_bytes * profile.batch_size
    peak = measured_peak(model, batch, target)
    assert abs(estimate - peak) / peak < 0.25, (estimate, peak)
    # and the per-sample figure scales: half the batch, half the estimate
    half = trace_model(model, batch[: batch.shape[0] // 2])
    assert half.activation_bytes == pytest.approx(profile.activation_bytes, rel=1e-3)


def test_trace_counts_parameters_and_flops_and_leaves_the_model_alone() -> None:
    model = token_model(layers=2)
    before = [p.detach().clone() for p in model.parameters()]
    profile = trace_model(model, torch.randint(0, 256, (4, 32)))
    assert profile.params == sum(p.numel() for p in model.parameters())
    assert profile.batch_size == 4
    # two Linear layers per block dominate: 2 x (h x 4h) x 2 FLOPs per token and layer
    assert profile.forward_flops >= 2 * 2 * (128 * 512 * 2) * 32
    assert all(p.device.type == "cpu" for p in model.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_plan_from_a_torch_model() -> None:
    model = token_model()
    p = plan(
        model=model,
        sample_input=torch.randint(0, 256, (16, 128)),
        batch_size=64,
        instance_type="ml.g5.xlarge",
    )
    profile = trace_model(model, torch.randint(0, 256, (16, 128)))
    assert p.params == profile.params
    assert p.activation_bytes_per_sample == pytest.approx(profile.activation_bytes)
    assert p.flops_per_sample == pytest.approx(3 * profile.forward_flops)
    assert any("meta-device trace" in a for a in p.assumptions)


def test_mixed_precision_halves_traced_float_activations() -> None:
    model = token_model(layers=2)
    x = torch.randint(0, 256, (4, 32))
    fp32 = plan(model=model, sample_input=x, instance_type="ml.g5.xlarge")
    bf16 = plan(model=model, sample_input=x, instance_type="ml.g5.xlarge", precision="bf16")
    profile = trace_model(model, x)
    expected = profile.activation_float_bytes / 2 + profile.activation_other_bytes
    assert fp32.activation_bytes_per_sample == pytest.approx(profile.activation_bytes)
    assert bf16.activation_bytes_per_sample == pytest.approx(expected)


def test_bad_model_and_sample_input() -> None:
    with pytest.raises(SpecError) as err:
        plan(model=object(), sample_input=torch.zeros(2, 3))
    assert err.value.field == "model"
    with pytest.raises(SpecError) as err:
        plan(model=nn.Linear(3, 2))
    assert err.value.field == "sample_input"
    with pytest.raises(SpecError) as err:
        plan(model=nn.Linear(3, 2), sample_input="not a tensor")
    assert err.value.field == "sample_input"
    with pytest.raises(SpecError) as err:
        plan(model=nn.Linear(3, 2), sample_input=torch.zeros(2, 5))  # wrong shape
    assert err.value.field == "model"
