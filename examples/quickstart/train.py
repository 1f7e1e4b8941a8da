"""A small data-parallel PyTorch training script (the quick start's training job).

It runs unchanged on the local backend (torchrun, gloo on CPU) and on SageMaker (one process
per GPU): ``sagescale.runtime`` reads the SageMaker training environment on both.
Synthetic regression data is generated in the script, so nothing is downloaded.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import sagescale.runtime.dist as dist
from sagescale import runtime


def make_data(n: int, seed: int = 0) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 16, generator=gen)
    w = torch.linspace(-1.0, 1.0, 16)
    y = torch.sin(x @ w).unsqueeze(1) + 0.05 * torch.randn(n, 1, generator=gen)
    return TensorDataset(x, y)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.01)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=64, help="global batch size")
    args, _ = parser.parse_known_args()

    dist.init_process_group()
    torch.manual_seed(0)
    env = runtime.load_env()
    model = nn.Sequential(nn.Linear(16, args.hidden), nn.Tanh(), nn.Linear(args.hidden, 1))
    model = dist.DDP(model)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.lr)
    train = make_data(2048)
    val_x, val_y = make_data(512, seed=1).tensors
    per_device = dist.scale_batch_size(args.batch_size)
    sampler = dist.distributed_sampler(train, shuffle=True, seed=0)
    loader = DataLoader(train, batch_size=per_device, sampler=sampler)
    loss_fn = nn.MSELoss()
    for epoch in range(args.epochs):
        sampler.set_epoch(epoch)
        model.train()
        for x, y in loader:
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = dist.all_reduce_mean(loss_fn(model(val_x), val_y).detach())
        runtime.log_metric("val_loss", float(val_loss), step=epoch)
    if env.is_leader:
        torch.save(model.module.state_dict(), env.model_dir / "model.pt")
    dist.barrier()
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
