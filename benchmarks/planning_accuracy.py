"""Planner benchmark: the traced activation estimate against memory measured on CPU.

    .venv/bin/python benchmarks/planning_accuracy.py           # all models (~1 min on 2 cores)
    .venv/bin/python benchmarks/planning_accuracy.py --quick   # two small models

For each model, ``sagescale.planning.trace_model`` estimates the bytes a forward pass,
a cross-entropy loss and the backward pass hold (meta device, nothing allocated); the same
step then runs on CPU under ``torch.profiler.profile(profile_memory=True)`` and the peak of
the running sum of its allocation/free events is the measurement. Prints a table and writes
benchmarks/results/planning_accuracy.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from sagescale.planning import trace_model

RESULTS = Path(__file__).parent / "results" / "planning_accuracy.json"


class Block(nn.Module):
    def __init__(self, hidden: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(hidden)
        self.up = nn.Linear(hidden, 4 * hidden)
        self.act = nn.GELU()
        self.down = nn.Linear(4 * hidden, hidden)
        self.drop = nn.Dropout(0.1)

    def forward(self, x: Any) -> Any:
        return x + self.drop(self.down(self.act(self.up(self.norm(x)))))


def mlp_lm(layers: int, hidden: int, vocab: int) -> nn.Module:
    blocks = [Block(hidden) for _ in range(layers)]
    return nn.Sequential(
        nn.Embedding(vocab, hidden), *blocks, nn.LayerNorm(hidden), nn.Linear(hidden, vocab)
    )


def encoder_lm(layers: int, hidden: int, vocab: int) -> nn.Module:
    layer = nn.TransformerEncoderLayer(hidden, hidden // 32, 4 * hidden, batch_first=True)
    return nn.Sequential(
        nn.Embedding(vocab, hidden),
        nn.TransformerEncoder(layer, layers, enable_nested_tensor=False),
        nn.Linear(hidden, vocab),
    )


def convnet(widths: tuple[int, ...]) -> nn.Module:
    layers: list[nn.Module] = []
    channels = 3
    for width in widths:
        layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), nn.ReLU()]
        channels = width
    return nn.Sequential(*layers, nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 10))


def tokens(batch: int, seq: int, vocab: int) -> tuple[Any, Any]:
    return torch.randint(0, vocab, (batch, seq)), torch.randint(0, vocab, (batch, seq))


def images(batch: int, side: int) -> tuple[Any, Any]:
    return torch.randn(batch, 3, side, side), torch.randint(0, 10, (batch,))


CASES: list[tuple[str, Callable[[], nn.Module], Callable[[], tuple[Any, Any]]]] = [
    ("mlp-lm 6x128 seq128 b8", lambda: mlp_lm(6, 128, 256), lambda: tokens(8, 128, 256)),
    ("convnet 4 layers 32px b16", lambda: convnet((32, 64, 64, 128)), lambda: images(16, 32)),
    ("mlp-lm 12x256 seq128 b8", lambda: mlp_lm(12, 256, 512), lambda: tokens(8, 128, 512)),
    ("mlp-lm 4x128 vocab2000 b32", lambda: mlp_lm(4, 128, 2000), lambda: tokens(32, 64, 2000)),
    ("encoder 4x256 seq128 b8", lambda: encoder_lm(4, 256, 1000), lambda: tokens(8, 128, 1000)),
    (
        "convnet 6 layers 64px b8",
        lambda: convnet((32, 32, 64, 64, 128, 128)),
        lambda: images(8, 64),
    ),
]


def measured_peak(model: nn.Module, batch: Any, target: Any) -> int:
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


def run(quick: bool) -> list[dict[str, Any]]:
    rows = []
    for name, make_model, make_batch in CASES[:2] if quick else CASES:
        torch.manual_seed(0)
        model = make_model()
        batch, target = make_batch()
        start = time.perf_counter()
        profile = trace_model(model, batch)
        trace_s = time.perf_counter() - start
        estimate = profile.activation_bytes * profile.batch_size
        peak = measured_peak(model, batch, target)
        rows.append(
            {
                "model": name,
                "params": profile.params,
                "estimate_mb": estimate / 1e6,
                "measured_mb": peak / 1e6,
                "ratio": estimate / peak,
                "trace_seconds": trace_s,
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    rows = run(parser.parse_args().quick)
    print(f"{'model':30} {'params':>10} {'estimate MB':>12} {'measured MB':>12} {'ratio':>6}")
    for r in rows:
        print(
            f"{r['model']:30} {r['params']:>10,} {r['estimate_mb']:>12.1f} "
            f"{r['measured_mb']:>12.1f} {r['ratio']:>6.2f}"
        )
    machine = f"{platform.processor() or platform.machine()}, {platform.system()}"
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps({"machine": machine, "torch": torch.__version__, "rows": rows}, indent=2)
    )
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
