"""Seed script: model-parallel training with SageMaker's model-parallel library (v1).

This is the script as it runs in a SageMaker PyTorch deep-learning container, in the
style of SageMaker's documented smdistributed.modelparallel PyTorch example: ``smp.init()``,
an ``@smp.step`` function that calls ``model.backward(loss)``, ``smp.DistributedModel`` and
``smp.DistributedOptimizer``, losses reduced over microbatches, data sharded over
``smp.dp_size()``, a checkpoint per partition with ``smp.save``. Partitions, microbatches,
pipeline and ddp come from the job's ``mp_parameters``. It cannot run here:
``smdistributed`` exists only inside SageMaker's containers. ``train.py`` next to it is the
same script with its import changed to ``sagescale.runtime.smp``; the tests check that
nothing else differs.

The data are synthetic (generated from ``--seed``): 12x12 "images" of 10 classes.
"""

import argparse
import os

import smdistributed.modelparallel.torch as smp
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset
from torch.utils.data.distributed import DistributedSampler


class Net(nn.Sequential):
    """A stack of blocks; the library cuts it into pipeline partitions."""

    def __init__(self):
        super().__init__(
            nn.Sequential(nn.Flatten(), nn.Linear(144, 64), nn.ReLU()),
            nn.Sequential(nn.Linear(64, 64), nn.ReLU()),
            nn.Sequential(nn.Linear(64, 32), nn.ReLU()),
            nn.Sequential(nn.Linear(32, 10), nn.LogSoftmax(dim=1)),
        )


def synthetic_dataset(num_samples, seed, split):
    templates = torch.randn(10, 1, 12, 12, generator=torch.Generator().manual_seed(seed))
    generator = torch.Generator().manual_seed(seed * 1000 + split)
    labels = torch.randint(0, 10, (num_samples,), generator=generator)
    images = templates[labels] + 0.5 * torch.randn(num_samples, 1, 12, 12, generator=generator)
    return TensorDataset(images, labels)


@smp.step
def train_step(model, data, target):
    output = model(data)
    loss = F.nll_loss(output, target, reduction="mean")
    model.backward(loss)
    return output, loss


@smp.step
def test_step(model, data, target):
    output = model(data)
    loss = F.nll_loss(output, target, reduction="sum").item()
    pred = output.argmax(dim=1, keepdim=True)
    correct = pred.eq(target.view_as(pred)).sum().item()
    return loss, correct


def train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        _, loss_mb = train_step(model, data, target)
        loss = loss_mb.reduce_mean()
        optimizer.step()
        if batch_idx % args.log_interval == 0 and smp.rank() == 0:
            print(f"Train Epoch: {epoch} [{batch_idx}] Loss: {loss.item():.6f}", flush=True)


def test(model, device, test_loader):
    model.eval()
    test_loss, correct = 0.0, 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            loss_batch, correct_batch = test_step(model, data, target)
            test_loss += sum(loss_batch)
            correct += sum(correct_batch)
    test_loss /= len(test_loader.dataset)
    accuracy = 100.0 * correct / len(test_loader.dataset)
    if smp.rank() == 0:
        print(f"Test set: Average loss: {test_loss:.4f}, Accuracy: {accuracy:.2f}%", flush=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--test-batch-size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=1.0)
    parser.add_argument("--num-samples", type=int, default=2048)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--log-interval", type=int, default=10)
    parser.add_argument("--model-dir", type=str, default=os.environ.get("SM_MODEL_DIR", "."))
    args, _ = parser.parse_known_args()  # SageMaker also passes --mp_parameters ...

    smp.init()
    torch.manual_seed(args.seed)
    use_cuda = torch.cuda.is_available()
    if use_cuda:
        torch.cuda.set_device(smp.local_rank())
    device = torch.device(f"cuda:{smp.local_rank()}" if use_cuda else "cpu")

    train_dataset = synthetic_dataset(args.num_samples, args.seed, split=0)
    test_dataset = synthetic_dataset(args.num_samples // 4, args.seed, split=1)
    train_sampler = DistributedSampler(
        train_dataset, num_replicas=smp.dp_size(), rank=smp.dp_rank(), seed=args.seed
    )
    train_loader = DataLoader(
        train_dataset, batch_size=args.batch_size, sampler=train_sampler, drop_last=True
    )
    test_loader = DataLoader(test_dataset, batch_size=args.test_batch_size, drop_last=True)

    model = smp.DistributedModel(Net())
    optimizer = smp.DistributedOptimizer(torch.optim.Adadelta(model.parameters(), lr=args.lr))
    for epoch in range(1, args.epochs + 1):
        train_sampler.set_epoch(epoch)
        train(args, model, device, train_loader, optimizer, epoch)
        test(model, device, test_loader)

    if smp.dp_rank() == 0:
        os.makedirs(args.model_dir, exist_ok=True)
        smp.save(model.local_state_dict(), os.path.join(args.model_dir, "model.pt"), partial=True)


if __name__ == "__main__":
    main()
