"""GPU check for sagescale.runtime: NCCL init, fp32 vs bf16 vs fp16 step throughput and
peak memory of a transformer-sized block. Run on a machine with a GPU (not part of CI)::

    python benchmarks/gpu_check.py                      # prints a table, writes JSON
    python benchmarks/gpu_check.py --allow-cpu --tiny   # CPU smoke run of the code path

Without a CUDA GPU (and without ``--allow-cpu``) it says so and exits 0 without writing.
The JSON goes to ``benchmarks/results/gpu_check.json`` unless ``--out`` says otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import nn

from sagescale.runtime.amp import MixedPrecision

RESULTS = Path(__file__).parent / "results" / "gpu_check.json"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def check_collectives(device: torch.device) -> dict[str, Any]:
    """Initialize a one-process group (NCCL on GPU, gloo on CPU) and all-reduce."""
    backend = "nccl" if device.type == "cuda" else "gloo"
    start = time.perf_counter()
    torch_dist.init_process_group(
        backend,
        init_method=f"tcp://127.0.0.1:{_free_port()}",
        rank=0,
        world_size=1,
        timeout=datetime.timedelta(seconds=60),
        device_id=device if device.type == "cuda" else None,
    )
    tensor = torch.ones(1 << 20, device=device)
    torch_dist.all_reduce(tensor)
    if device.type == "cuda":
        torch.cuda.synchronize()
    ok = bool(torch.all(tensor == 1.0))
    seconds = time.perf_counter() - start
    torch_dist.destroy_process_group()
    return {"backend": backend, "ok": ok, "init_and_all_reduce_s": round(seconds, 3)}


def block(d_model: int, layers: int) -> nn.Module:
    layer = nn.TransformerEncoderLayer(
        d_model,
        nhead=max(1, d_model // 64),
        dim_feedforward=4 * d_model,
        batch_first=True,
        dropout=0.0,
    )
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)


def measure(mode: str | None, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    torch.manual_seed(0)
    model = block(args.d_model, args.layers).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    mp = MixedPrecision(mode, device)
    x = torch.randn(args.batch, args.seq, args.d_model, device=device)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)

    def one_step() -> None:
        opt.zero_grad(set_to_none=True)
        with mp.autocast():
            loss = model(x).float().pow(2).mean()
        mp.backward(loss)
        mp.step(opt)

    for _ in range(args.warmup):
        one_step()
    _sync(device)
    start = time.perf_counter()
    for _ in range(args.steps):
        one_step()
    _sync(device)
    seconds = (time.perf_counter() - start) / args.steps
    peak = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None
    return {
        "precision": mode or "fp32",
        "step_ms": round(seconds * 1000, 2),
        "tokens_per_s": round(args.batch * args.seq / seconds, 1),
        "peak_memory_gib": None if peak is None else round(peak / 2**30, 3),
        "skipped_steps": mp.skipped_steps,
    }


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def table(rows: list[dict[str, Any]]) -> str:
    base = rows[0]["tokens_per_s"]
    lines = [
        "| precision | step (ms) | tokens/s | speed-up vs fp32 | peak memory (GiB) |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        peak = "n/a" if r["peak_memory_gib"] is None else f"{r['peak_memory_gib']:.2f}"
        lines.append(
            f"| {r['precision']} | {r['step_ms']:.1f} | {r['tokens_per_s']:,.0f} | "
            f"{r['tokens_per_s'] / base:.2f}x | {peak} |"
        )
    return "\n".join(lines)


def parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d-model", type=int, default=1024)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--seq", type=int, default=1024)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--allow-cpu", action="store_true", help="smoke-run on CPU")
    parser.add_argument("--tiny", action="store_true", help="a tiny block, 1 step")
    args = parser.parse_args(argv)
    if args.tiny:
        args.d_model, args.layers, args.batch, args.seq = 64, 1, 2, 16
        args.steps, args.warmup = 1, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse(argv)
    if torch.cuda.is_available():
        device = torch.device("cuda", 0)
        name = torch.cuda.get_device_name(device)
    elif args.allow_cpu:
        device, name = torch.device("cpu"), f"CPU ({platform.processor() or 'unknown'})"
    else:
        print(
            "gpu_check: no CUDA GPU on this machine; skipped (nothing written). "
            "Run it on a GPU machine, or pass --allow-cpu for a CPU smoke run."
        )
        return 0
    collectives = check_collectives(device)
    rows = [measure(mode, args, device) for mode in (None, "bf16", "fp16")]
    print(f"device: {name}; torch {torch.__version__}; CUDA {torch.version.cuda}")
    print(f"collectives: {collectives}")
    print(
        f"block: d_model={args.d_model} layers={args.layers} batch={args.batch} "
        f"seq={args.seq} steps={args.steps}"
    )
    print(table(rows))
    result = {
        "device": name,
        "device_type": device.type,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "python": sys.version.split()[0],
        "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "collectives": collectives,
        "config": {k: getattr(args, k) for k in ("d_model", "layers", "batch", "seq", "steps")},
        "results": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
