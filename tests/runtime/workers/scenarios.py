"""Multi-process scenarios for tests/runtime, run under ``torchrun``.

``python -m torch.distributed.run --standalone --nproc_per_node N scenarios.py OUT NAME...``
runs each named scenario in one process group and writes, per rank, a JSON file
``OUT/<name>-rank<r>.json`` with the measured differences against a single-process
reference computed in the same process.
"""

from __future__ import annotations

import copy
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import torch.distributed as torch_dist
import torch.nn.functional as F
from torch import nn

import sagescale.runtime.dist as dist
import sagescale.runtime.smp as smp
from sagescale.errors import SpecError
from sagescale.runtime import load_latest_checkpoint, save_checkpoint
from sagescale.runtime.amp import MixedPrecision
from sagescale.runtime.smp import _model, _state


def mlp(blocks: int = 4, width: int = 8) -> nn.Sequential:
    torch.manual_seed(0)
    layers: list[nn.Module] = []
    for _ in range(blocks):
        layers.append(nn.Sequential(nn.Linear(width, width), nn.Tanh()))
    return nn.Sequential(*layers)


def batches(n: int, size: int, width: int = 8, seed: int = 1) -> list[tuple[torch.Tensor, ...]]:
    g = torch.Generator().manual_seed(seed)
    return [
        (torch.randn(size, width, generator=g), torch.randn(size, width, generator=g))
        for _ in range(n)
    ]


def max_diff(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> float:
    assert a.keys() == b.keys(), (sorted(a), sorted(b))
    return max(float((a[k].float() - b[k].float()).abs().max()) for k in a)


def reset_smp(config: dict[str, Any]) -> None:
    _state.current = None
    _model._registry.clear()
    smp.init(config)


# -- data parallel ---------------------------------------------------------------------


def scenario_ddp() -> dict[str, Any]:
    dist.init_process_group()
    world, rank = dist.get_world_size(), dist.get_rank()
    reference = mlp()
    model = dist.DDP(copy.deepcopy(reference))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    per = dist.scale_batch_size(8 * world, threshold=1)
    for x, y in batches(3, per * world):
        opt.zero_grad()
        xs, ys = x.chunk(world)[rank], y.chunk(world)[rank]
        F.mse_loss(model(xs), ys).backward()  # type: ignore[no-untyped-call]
        opt.step()
        ref_opt.zero_grad()
        F.mse_loss(reference(x), y).backward()  # type: ignore[no-untyped-call]
        ref_opt.step()
    return {
        "param_diff": max_diff(model.module.state_dict(), reference.state_dict()),
        "per_device": per,
    }


# -- pipeline --------------------------------------------------------------------------


@smp.step
def train_step(model: Any, x: torch.Tensor, y: torch.Tensor) -> Any:
    out = model(x)
    loss = F.mse_loss(out, y)
    model.backward(loss)
    return out, loss


class Manual(nn.Sequential):
    """Blocks placed by hand: one on partition 0, three on partition 1."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        with smp.partition(0):
            self.a = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        with smp.partition(1):
            self.b = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
            self.c = nn.Sequential(nn.Linear(8, 8), nn.Tanh())
        self.d = nn.Sequential(nn.Linear(8, 8), nn.Tanh())  # default_partition: 1


def _pipeline(config: dict[str, Any], n_batches: int = 2, factory: Any = mlp) -> dict[str, Any]:
    reset_smp(config)
    reference = factory()
    model = smp.DistributedModel(copy.deepcopy(reference))
    opt = smp.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    dp, dp_rank = smp.rdp_size(), smp.rdp_rank()
    loss_diff, grad_diff = 0.0, 0.0
    for x, y in batches(n_batches, 8 * dp):
        opt.zero_grad()
        out, loss = train_step(model, x.chunk(dp)[dp_rank], y.chunk(dp)[dp_rank])
        ref_opt.zero_grad()
        ref_loss = F.mse_loss(reference(x), y)
        ref_loss.backward()  # type: ignore[no-untyped-call]
        mine_loss = loss.reduce_mean()
        all_losses = smp.allgather(float(mine_loss), smp.CommGroup.RDP_GROUP)
        loss_diff = max(loss_diff, abs(sum(all_losses) / dp - ref_loss.item()))
        ref_grads = {n: p.grad for n, p in reference.named_parameters() if p.grad is not None}
        for name, p in model.module.named_parameters():
            if p.grad is not None:
                grad_diff = max(grad_diff, float((p.grad - ref_grads[name]).abs().max()))
        opt.step()
        ref_opt.step()
        out_shape = list(out.concat().shape)
    return {
        "loss_diff": loss_diff,
        "grad_diff": grad_diff,
        "param_diff": max_diff(model.state_dict(), reference.state_dict()),
        "stage_of_block": model.stage_of_block,
        "owned": sum(p.numel() for p in model.local_parameters()),
        "out_shape": out_shape,
        "pp_rank": smp.pp_rank(),
        "dp_rank": smp.dp_rank(),
        "n_stages": len(model._stages or []),
        "schedule": type(model._get_schedule(lambda o, t: o, smp.num_microbatches())).__name__
        if model._stages
        else None,
    }


def scenario_gpipe() -> dict[str, Any]:
    return _pipeline({"partitions": 2, "microbatches": 4, "pipeline": "simple"})


def scenario_interleaved() -> dict[str, Any]:
    return _pipeline({"partitions": 2, "microbatches": 4, "pipeline": "interleaved"})


def scenario_hybrid() -> dict[str, Any]:
    return _pipeline({"partitions": 2, "microbatches": 2, "pipeline": "simple", "ddp": True})


def scenario_smp_ddp() -> dict[str, Any]:
    """partitions 1 with ddp: plain data parallel through the smp API."""
    return _pipeline({"partitions": 1, "microbatches": 2, "ddp": True})


def bn_mlp(blocks: int = 4, width: int = 8) -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(
        *[
            nn.Sequential(nn.Linear(width, width), nn.BatchNorm1d(width), nn.Tanh())
            for _ in range(blocks)
        ]
    )


def _buffer_spread(config: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """BatchNorm blocks, each replica fed its own data for 3 steps: the largest difference
    between this process's buffers and those of the other replicas of its partition."""
    reset_smp(config)
    model = smp.DistributedModel(bn_mlp(), **kwargs)
    opt = smp.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    dp, dp_rank = smp.rdp_size(), smp.rdp_rank()
    for x, y in batches(3, 8 * dp):
        opt.zero_grad()
        train_step(model, x.chunk(dp)[dp_rank] * (1 + dp_rank), y.chunk(dp)[dp_rank])
        opt.step()
    local = model.local_state_dict()
    mine = {k: v for k, v in local.items() if "running" in k}
    replicas = smp.allgather(mine, smp.CommGroup.RDP_GROUP)
    return {
        "keys": len(mine),
        "tracked": sorted({int(v) for k, v in local.items() if "num_batches_tracked" in k}),
        "moved": min(float(v.abs().max()) for k, v in mine.items() if "mean" in k) > 0,
        "spread": max(max_diff(mine, other) for other in replicas),
    }


def _buffers(config: dict[str, Any]) -> dict[str, Any]:
    return {
        "default": _buffer_spread(config),
        "off": _buffer_spread(config, broadcast_buffers=False),
        "rdp_size": smp.rdp_size(),
        "pp_rank": smp.pp_rank(),
    }


def scenario_hybrid_buffers() -> dict[str, Any]:
    return _buffers({"partitions": 2, "microbatches": 2, "pipeline": "simple", "ddp": True})


def scenario_smp_ddp_buffers() -> dict[str, Any]:
    return _buffers({"partitions": 1, "microbatches": 2, "ddp": True})


def scenario_manual() -> dict[str, Any]:
    config = {
        "partitions": 2,
        "microbatches": 2,
        "pipeline": "simple",
        "auto_partition": False,
        "default_partition": 1,
    }
    return _pipeline(config, factory=Manual)


def scenario_tensor_parallel() -> dict[str, Any]:
    reset_smp({"partitions": 1, "tensor_parallel_degree": 2, "ddp": True, "microbatches": 2})
    torch.manual_seed(0)
    reference = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 8))
    model = smp.DistributedModel(copy.deepcopy(reference))
    opt = smp.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    ((x, y),) = batches(1, 8)
    tp, tp_rank = smp.tp_size(), smp.tp_rank()
    opt.zero_grad()
    _, loss = train_step(model, x.chunk(tp)[tp_rank], y.chunk(tp)[tp_rank])
    opt.step()
    ref_opt.zero_grad()
    ref_loss = F.mse_loss(reference(x), y)
    ref_loss.backward()  # type: ignore[no-untyped-call]
    ref_opt.step()
    directory = Path(smp.broadcast(tempfile.mkdtemp() if smp.rank() == 0 else None))
    folder = save_checkpoint({"model": model.local_state_dict()}, step=1, directory=directory)
    loaded = load_latest_checkpoint(directory)
    assert loaded is not None
    return {
        "loss_diff": abs(float(loss.reduce_mean()) - ref_loss.item()),
        "param_diff": max_diff(model.state_dict(), reference.state_dict()),
        "local_shape": list(model.local_state_dict()["0.weight"].shape),
        "files": sorted(p.name for p in folder.iterdir()),
        "loaded_shape": list(loaded.state["model"]["0.weight"].shape),
    }


def scenario_checkpoint() -> dict[str, Any]:
    """Per-stage shards: save, change the weights, load back."""
    reset_smp({"partitions": 2, "microbatches": 2, "pipeline": "simple"})
    model = smp.DistributedModel(mlp())
    opt = smp.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    ((x, y),) = batches(1, 4)
    train_step(model, x, y)
    opt.step()
    before = model.state_dict()
    directory = Path(smp.broadcast(tempfile.mkdtemp() if smp.rank() == 0 else None))
    folder = save_checkpoint(
        {"model": model.local_state_dict(), "epoch": 3}, step=7, directory=directory
    )
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    loaded = load_latest_checkpoint(directory)
    assert loaded is not None
    model.load_state_dict(loaded.state["model"], strict=False)
    smp.barrier()
    return {
        "files": sorted(p.name for p in folder.iterdir()),
        "step": loaded.step,
        "epoch": loaded.state["epoch"],
        "param_diff": max_diff(model.state_dict(), before),
        "shard_keys": sorted(loaded.state["model"]),
    }


def scenario_accumulate() -> dict[str, Any]:
    """Two pipelined steps before one optimizer step (plus an evaluation step with autograd
    on): the gradients are the sum of the two steps' gradients."""
    reset_smp({"partitions": 2, "microbatches": 4, "pipeline": "simple"})
    reference = mlp()
    model = smp.DistributedModel(copy.deepcopy(reference))
    (x, y), (x2, y2) = batches(2, 8)
    train_step(model, x, y)
    train_step(model, x2, y2)
    eval_loss = eval_step(model, x, y).reduce_mean()
    for bx, by in ((x, y), (x2, y2)):
        F.mse_loss(reference(bx), by).backward()  # type: ignore[no-untyped-call]
    ref_grads = dict(reference.named_parameters())
    mine = {n: p for n, p in model.module.named_parameters() if p.grad is not None}
    reset_smp({"partitions": 2, "microbatches": 4, "pipeline": "simple"})
    summed = smp.DistributedModel(copy.deepcopy(mlp()), average_grads_across_microbatches=False)
    train_step(summed, x, y)
    one_pass = mlp()
    F.mse_loss(one_pass(x), y).backward()  # type: ignore[no-untyped-call]
    one_grads = dict(one_pass.named_parameters())
    owned = {n: p for n, p in summed.module.named_parameters() if p.grad is not None}
    return {
        "sum_diff": max(
            float((p.grad - 4 * one_grads[n].grad).abs().max()) for n, p in owned.items()
        ),
        "n_grads": len(mine),
        "grad_diff": max(float((p.grad - ref_grads[n].grad).abs().max()) for n, p in mine.items()),
        "eval_diff": abs(float(eval_loss) - float(F.mse_loss(reference(x), y))),
    }


def scenario_shapes() -> dict[str, Any]:
    """Batches of 8, then 4 (a smaller last batch), then 8 again, and a no-grad evaluation
    of 6 samples on 2 stages with BatchNorm, then the same under bf16 autocast: equal to
    one process throughout."""
    reset_smp({"partitions": 2, "microbatches": 2, "pipeline": "simple"})
    reference = bn_mlp()
    model = smp.DistributedModel(copy.deepcopy(reference))
    opt = smp.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1)
    loss_diff = 0.0
    for size, (x, y) in zip((8, 4, 8), batches(3, 8), strict=True):
        x, y = x[:size], y[:size]
        opt.zero_grad()
        _, loss = train_step(model, x, y)
        opt.step()
        ref_opt.zero_grad()
        ref_loss = sum(
            F.mse_loss(reference(xm), ym) for xm, ym in zip(x.chunk(2), y.chunk(2), strict=True)
        )
        (ref_loss / 2).backward()  # type: ignore[operator, union-attr]
        ref_opt.step()
        loss_diff = max(loss_diff, abs(float(loss.reduce_mean()) - float(ref_loss) / 2))
    model.eval()
    reference.eval()
    ((x, y),) = batches(1, 6, seed=5)
    with torch.no_grad():
        eval_loss = eval_step(model, x, y).reduce_mean()
        ref_eval = F.mse_loss(reference(x), y)
        with torch.autocast("cpu", dtype=torch.bfloat16):  # same shape, bf16 activations
            bf16_loss = eval_step(model, x, y).reduce_mean()
            ref_bf16 = F.mse_loss(reference(x).float(), y)
    return {
        "loss_diff": loss_diff,
        "eval_diff": abs(float(eval_loss) - float(ref_eval)),
        "bf16_diff": abs(float(bf16_loss) - float(ref_bf16)),
        "state_diff": max_diff(model.state_dict(), reference.state_dict()),
        "shapes": len(model._stage_cache),
    }


@smp.step
def eval_step(model: Any, x: torch.Tensor, y: torch.Tensor) -> Any:
    return F.mse_loss(model(x), y)


class Split(nn.Module):
    """Returns a pair: a hidden state and a per-sample mean of the input (which needs no
    gradient); the next blocks take the pair as one argument, as in nn.Sequential."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.linear(x), x.mean(dim=1, keepdim=True)


class Pair(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 8)

    def forward(self, pair: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, ...]:
        hidden, total = pair
        return torch.tanh(self.linear(hidden)), total * 0.5


class Join(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(8, 8)

    def forward(self, pair: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        hidden, total = pair
        out: torch.Tensor = self.linear(hidden) + total
        return out


def tuple_blocks() -> nn.Sequential:
    torch.manual_seed(0)
    return nn.Sequential(Split(), Pair(), Pair(), Join())


def scenario_tuples() -> dict[str, Any]:
    """Blocks passing a pair (one tensor without gradient) across the stage boundary, on
    GPipe and on interleaved 1F1B (a boundary between every block)."""
    return {
        name: _pipeline(
            {"partitions": 2, "microbatches": 2, "pipeline": name}, factory=tuple_blocks
        )
        for name in ("simple", "interleaved")
    }


class Tied(nn.Module):
    """An output layer sharing the input layer's weight (as language models do)."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.embed = nn.Linear(8, 8, bias=False)
        self.mid = nn.Linear(8, 8)
        self.head = nn.Linear(8, 8, bias=False)
        self.head.weight = self.embed.weight

    def pipeline_blocks(self) -> list[nn.Module]:
        return [self.embed, self.mid, self.head]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.mid(self.embed(x)))
        return out


def scenario_tied() -> dict[str, Any]:
    """A weight tied across the two stages: two @step calls accumulated before each of two
    optimizer steps (SGD with momentum); every process's copy of the tied weight, and the
    whole state, stay equal to one process."""
    reset_smp({"partitions": 2, "microbatches": 2, "pipeline": "simple"})
    reference = Tied()
    model = smp.DistributedModel(copy.deepcopy(reference))
    opt = smp.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9))
    ref_opt = torch.optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    data = batches(4, 4)
    for pair in (data[:2], data[2:]):
        opt.zero_grad()
        ref_opt.zero_grad()
        for x, y in pair:
            train_step(model, x, y)
            F.mse_loss(reference(x), y).backward()  # type: ignore[no-untyped-call]
        opt.step()
        ref_opt.step()
    local = model.module.embed.weight
    return {
        "keys": sorted(model.state_dict()),
        "ref_keys": sorted(Tied().state_dict()),
        "tied_diff": float((local - reference.embed.weight).abs().max()),
        "param_diff": max_diff(model.state_dict(), reference.state_dict()),
        "stage_of_block": model.stage_of_block,
    }


def scenario_too_few_blocks() -> dict[str, Any]:
    """More partitions than blocks: every process raises the SpecError (none is left
    waiting for the plan)."""
    reset_smp({"partitions": 2, "microbatches": 2})
    model = smp.DistributedModel(nn.Sequential(nn.Linear(8, 8)))
    ((x, y),) = batches(1, 4)
    try:
        train_step(model, x, y)
    except SpecError as error:
        return {"field": error.field, "message": str(error)}
    return {"field": None, "message": ""}


_amp: list[Any] = []


@smp.step
def amp_step(model: Any, x: torch.Tensor, y: torch.Tensor) -> Any:
    mixed = _amp[0]
    with mixed.autocast():
        loss = F.mse_loss(model(x).float(), y)
    model.backward(mixed.scale(loss))
    return loss


def scenario_fp16_pipeline() -> dict[str, Any]:
    """fp16 on 2 stages: every stage unscales and steps (only the last computes the loss);
    an inf gradient on the last stage skips the step on both."""
    reset_smp({"partitions": 2, "microbatches": 2, "pipeline": "simple"})
    _amp[:] = [MixedPrecision("fp16", "cpu")]
    mixed = _amp[0]
    model = smp.DistributedModel(mlp())
    opt = smp.DistributedOptimizer(torch.optim.SGD(model.parameters(), lr=0.1))
    (x, y), (x2, y2) = batches(2, 4)
    start = {k: v.clone() for k, v in model.state_dict().items()}
    amp_step(model, x, y)
    mixed.unscale_(opt)  # type: ignore[arg-type]
    first = mixed.step(opt)  # type: ignore[arg-type]
    after_first = {k: v.clone() for k, v in model.local_state_dict().items()}
    opt.zero_grad()
    amp_step(model, x2, y2)
    if smp.pp_rank() == smp.pp_size() - 1:
        next(iter(model.local_parameters())).grad.fill_(float("inf"))  # type: ignore[union-attr]
    second = mixed.step(opt)  # type: ignore[arg-type]
    return {
        "stepped": [first, second],
        "moved": max_diff(after_first, {k: start[k] for k in after_first}) > 0,
        "unchanged_by_skip": max_diff(model.local_state_dict(), after_first),
        "scale": mixed.scaler.get_scale() if mixed.scaler else None,
    }


def main() -> None:
    out = Path(sys.argv[1])
    dist.init_process_group()
    rank = torch_dist.get_rank()
    for name in sys.argv[2:]:
        result = globals()[f"scenario_{name}"]()
        (out / f"{name}-rank{rank}.json").write_text(json.dumps(result))
        torch_dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
