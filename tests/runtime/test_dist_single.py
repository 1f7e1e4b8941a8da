"""runtime.dist in one process: batch scaling, backend choice, a group of one."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import torch
from torch.utils.data import TensorDataset

import sagescale.runtime.dist as dist
from sagescale.errors import SpecError


def test_scale_batch_size_warns_when_tiny() -> None:
    with pytest.warns(dist.SmallBatchWarning, match="per-device batch is 2"):
        assert dist.scale_batch_size(64, 32) == 2
    assert dist.scale_batch_size(64, 4) == 16
    with pytest.warns(dist.SmallBatchWarning):
        assert dist.scale_batch_size(8, 16) == 1
    with pytest.raises(SpecError, match="global_batch=0"):
        dist.scale_batch_size(0, 2)


@pytest.mark.parametrize(
    ("engine", "smddp", "cuda", "expected"),
    [
        ("smddp", True, True, "smddp"),
        ("smddp", False, True, "nccl"),
        ("ddp", True, True, "nccl"),
        (None, False, False, "gloo"),
        ("smddp", True, False, "gloo"),
    ],
)
def test_choose_backend(engine: str | None, smddp: bool, cuda: bool, expected: str) -> None:
    assert dist.choose_backend(engine=engine, smddp=smddp, cuda=cuda) == expected


@pytest.mark.parametrize(
    ("cuda", "gpus", "local_size", "expected"),
    [
        (True, 8, 8, True),
        (True, 1, 1, True),
        (True, 1, 2, False),  # 2 local processes on a one-GPU workstation: gloo on CPU
        (True, 0, 1, False),
        (False, 0, 1, False),
        (True, 2, 0, True),
    ],
)
def test_cuda_only_with_a_gpu_per_local_process(
    cuda: bool, gpus: int, local_size: int, expected: bool
) -> None:
    assert dist.gpus_per_process(cuda=cuda, gpus=gpus, local_size=local_size) is expected


@pytest.fixture
def group_of_one(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("RANK", "WORLD_SIZE", "LOCAL_RANK", "LOCAL_WORLD_SIZE", "SM_HPS"):
        monkeypatch.delenv(name, raising=False)
    dist.init_process_group()
    yield
    dist.destroy_process_group()


@pytest.mark.parametrize("value", ["ten", "0", "-5"])
def test_bad_timeout_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SAGESCALE_DIST_TIMEOUT_S", value)
    with pytest.raises(SpecError, match="SAGESCALE_DIST_TIMEOUT_S") as info:
        dist.init_process_group()
    assert info.value.value == value
    assert not dist.is_initialized()


def test_group_of_one_without_torchrun(group_of_one: None) -> None:
    assert dist.is_initialized()
    assert (dist.get_rank(), dist.get_world_size(), dist.get_local_rank()) == (0, 1, 0)
    assert dist.device() == torch.device("cpu")
    t = torch.tensor([3.0])
    assert dist.all_reduce_mean(t).item() == 3.0
    dist.barrier()
    model = dist.DDP(torch.nn.Linear(2, 1))
    model(torch.ones(1, 2)).sum().backward()
    sampler = dist.distributed_sampler(TensorDataset(torch.arange(10)), shuffle=False)
    assert list(sampler) == list(range(10))
    assert dist.smddp_available() is False
