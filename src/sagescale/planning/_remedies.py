"""Step 2 of the decision flow: what would make a model fit one device, and at what cost."""

from __future__ import annotations

import math

from sagescale.planning._evaluate import Context, gib, largest_batch
from sagescale.planning._memory import (
    MemoryBreakdown,
    Precision,
    activation_budget,
    breakdown,
)
from sagescale.planning._plan import Remedy
from sagescale.specs import GpuSpec

__all__ = ["mixed_precision_for", "one_device_memory", "remedies"]

_PART_HINT = {
    "activations": "fewer layers, a smaller hidden size or fewer attention heads",
    "optimizer_state": "fewer parameters (or an optimizer with less state: SGD, Adafactor)",
    "weights": "fewer parameters",
    "gradients": "fewer parameters",
    "master_weights": "fewer parameters",
    "overhead": "fewer parameters",
}


def mixed_precision_for(gpu: GpuSpec) -> Precision:
    """bf16 where the GPU has it, else fp16 (V100, T4)."""
    return "bf16" if gpu.bf16_tflops is not None else "fp16"


def one_device_memory(ctx: Context) -> MemoryBreakdown:
    """The whole model and the whole global batch on one device."""
    return breakdown(ctx.state, ctx.work.params, ctx.req.batch_size * ctx.act, ctx.capacity)


def _smaller_model(ctx: Context, memory: MemoryBreakdown) -> Remedy:
    part = memory.dominant()
    share = memory.parts()[part] / memory.total
    room = activation_budget(ctx.state, 0.0, ctx.capacity) - ctx.req.batch_size * ctx.act
    max_params = room / ctx.state.total if room > 0 else 0.0
    fits = max_params >= 1.0
    change = f"{memory.dominant_phrase()} ({gib(memory.parts()[part])}, {share:.0%}): "
    change += _PART_HINT[part]
    if fits:
        change += f"; at most {max_params:.3g} parameters fit with batch {ctx.req.batch_size}"
    return Remedy(
        name="smaller model",
        fits=fits,
        change=change,
        cost="a different model: its accuracy and every result so far change",
    )


def _smaller_batch(ctx: Context) -> Remedy:
    most = largest_batch(ctx, ctx.work.params)
    batch = ctx.req.batch_size
    if most < 1:
        return Remedy(
            name="smaller batch",
            fits=False,
            change="not even one sample fits next to the model state",
            cost="-",
        )
    ways = math.ceil(batch / most)
    cost = (
        f"keeps the global batch {batch} with {ways} GPUs (data parallel) or {ways} "
        "gradient-accumulation passes per step"
    )
    if most < ctx.req.min_device_batch:
        cost += f"; a per-device batch of {most} is below {ctx.req.min_device_batch}: GPUs idle"
    return Remedy("smaller batch", True, f"per-device batch {batch} -> {most}", cost)


def _smaller_inputs(ctx: Context) -> Remedy:
    budget = activation_budget(ctx.state, ctx.work.params, ctx.capacity)
    needed = ctx.req.batch_size * ctx.act
    factor = min(1.0, max(0.0, budget / needed)) if needed > 0 else 0.0
    seq = ctx.work.seq_len
    if seq is not None:
        new_seq = math.floor(seq * factor)
        fits = new_seq >= 1
        change = f"sequence length {seq} -> {new_seq}" if fits else "no sequence length fits"
    else:
        fits = factor > 0.05
        change = f"inputs (resolution, length) shrunk to {factor:.0%} of their size"
    return Remedy(
        name="smaller inputs",
        fits=fits,
        change=change if fits or seq else "the model state alone does not fit",
        cost="the model sees less context or resolution: accuracy may drop "
        "(activations assumed to scale linearly with input size)",
    )


def _mixed_precision(ctx: Context, gpu: GpuSpec) -> Remedy:
    if ctx.precision != "fp32":
        return Remedy("mixed precision", False, f"already {ctx.precision}", "-")
    mixed = mixed_precision_for(gpu)
    other = ctx.with_precision(mixed)
    memory = one_device_memory(other)
    speed = (gpu.bf16_tflops if mixed == "bf16" else gpu.fp16_tflops) or gpu.fp16_tflops
    change = (
        f"fp32 -> {mixed}: activations {gib(ctx.req.batch_size * ctx.act)} -> "
        f"{gib(ctx.req.batch_size * other.act)} (model state stays "
        f"{ctx.state.total:g} bytes/param)"
    )
    if mixed == "bf16":
        cost = "none in memory; bf16 needs no loss scaling"
    else:
        cost = f"{gpu.model} has no bf16: fp16 needs dynamic loss scaling (torch.amp.GradScaler)"
    cost += f"; tensor cores run {speed / gpu.fp32_tflops:.0f}x the fp32 peak"
    return Remedy("mixed precision", memory.fits, change, cost)


def remedies(ctx: Context, gpu: GpuSpec) -> list[Remedy]:
    """The four remedies of SageMaker's decision flow, in its order."""
    memory = one_device_memory(ctx)
    return [
        _smaller_model(ctx, memory),
        _smaller_batch(ctx),
        _smaller_inputs(ctx),
        _mixed_precision(ctx, gpu),
    ]
