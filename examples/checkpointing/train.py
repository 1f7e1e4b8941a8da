"""A training script that resumes: from an earlier model (incremental training, the ``model``
channel) and from its own checkpoints (spot interruptions, retries, stopped jobs).

Same script locally and on SageMaker: checkpoints go to the job's checkpoint directory
(``/opt/ml/checkpoints`` there), which SageMaker syncs with ``checkpoint.s3_uri``.
"""

from __future__ import annotations

import argparse
import time

import torch
from torch import nn

from sagescale import runtime


def data(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(512, 8, generator=gen)
    y = (x[:, :4].sum(dim=1, keepdim=True) > 0).float()
    return x, y


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--lr", type=float, default=0.05)
    parser.add_argument("--seconds-per-epoch", type=float, default=0.0)
    args, _ = parser.parse_known_args()

    torch.manual_seed(0)
    env = runtime.load_env()
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=args.lr)
    start = 0
    if "model" in env.channels:  # incremental training: start from an earlier model
        model.load_state_dict(runtime.load_model_from_channel("model"))
        print("initialised from the model channel")
    resumed = runtime.load_latest_checkpoint()
    if resumed is not None:  # a spot reclaim, a retry or a restarted job
        model.load_state_dict(resumed.state["model"])
        optimizer.load_state_dict(resumed.state["optimizer"])
        start = resumed.step + 1
        print(f"resumed from checkpoint of epoch {resumed.step}")
    x, y = data(seed=1)
    loss_fn = nn.BCEWithLogitsLoss()
    for epoch in range(start, args.epochs):
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        runtime.log_metric("train_loss", float(loss), step=epoch)
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict()}
        runtime.save_checkpoint(state, step=epoch)
        time.sleep(args.seconds_per_epoch)
    torch.save(model.state_dict(), env.model_dir / "model.pt")


if __name__ == "__main__":
    main()
