"""Data parallel helpers, mirroring ``smdistributed.dataparallel.torch.distributed``.

A script written for SageMaker's data-parallel library ports by changing its imports::

    import smdistributed.dataparallel.torch.distributed as dist          # before
    from smdistributed.dataparallel.torch.parallel.distributed import (
        DistributedDataParallel as DDP)

    import sagescale.runtime.dist as dist                                # after
    from sagescale.runtime.dist import DistributedDataParallel as DDP

Backend choice in :func:`init_process_group`: ``smddp`` when ``smdistributed.dataparallel``
is importable and the job asked for it (``sagemaker_distributed_dataparallel_enabled``),
``nccl`` when CUDA is available with a GPU for every process on the host, ``gloo``
otherwise (CPU, or fewer GPUs than local processes).
"""

from __future__ import annotations

import datetime
import importlib
import importlib.util
import os
import warnings
from typing import Any

import torch
import torch.distributed as _dist
from torch import nn
from torch.distributed import ReduceOp
from torch.utils.data import Dataset, DistributedSampler

from sagescale.errors import SpecError
from sagescale.runtime._env import load_env, process_index

__all__ = [
    "DDP",
    "DistributedDataParallel",
    "ReduceOp",
    "SmallBatchWarning",
    "all_gather",
    "all_reduce",
    "all_reduce_mean",
    "barrier",
    "broadcast",
    "choose_backend",
    "destroy_process_group",
    "device",
    "distributed_sampler",
    "get_local_rank",
    "get_local_size",
    "get_rank",
    "get_world_size",
    "gpus_per_process",
    "init_process_group",
    "is_available",
    "is_initialized",
    "scale_batch_size",
    "smddp_available",
]

#: Below this many samples per device the batch statistics get noisy enough to hurt.
SMALL_BATCH_THRESHOLD = 8
DEFAULT_TIMEOUT = datetime.timedelta(minutes=30)


class SmallBatchWarning(UserWarning):
    """The per-device batch is so small that convergence may suffer."""


def smddp_available() -> bool:
    """Whether SageMaker's data-parallel library can be imported here."""
    try:
        return importlib.util.find_spec("smdistributed.dataparallel") is not None
    except ModuleNotFoundError:
        return False


def choose_backend(*, engine: str | None, smddp: bool, cuda: bool) -> str:
    """``smddp`` if the job asked for it and it is installed, else ``nccl`` / ``gloo``."""
    if engine == "smddp" and smddp and cuda:
        return "smddp"
    return "nccl" if cuda else "gloo"


def gpus_per_process(*, cuda: bool, gpus: int, local_size: int) -> bool:
    """Whether every process on this host gets a GPU of its own.

    NCCL needs one GPU per process: with fewer GPUs than local processes (2 processes on a
    one-GPU workstation under the local backend) the job runs on CPU with gloo instead of
    failing with NCCL's "duplicate GPU".
    """
    return cuda and gpus >= max(1, local_size)


def _cuda() -> bool:
    available = torch.cuda.is_available()
    count = torch.cuda.device_count() if available else 0
    return gpus_per_process(cuda=available, gpus=count, local_size=get_local_size())


def is_available() -> bool:
    return _dist.is_available()


def is_initialized() -> bool:
    return _dist.is_available() and _dist.is_initialized()


def init_process_group(
    backend: str | None = None,
    *,
    timeout: datetime.timedelta | None = None,
    **kwargs: Any,
) -> None:
    """Join the job's process group (idempotent).

    Reads ``RANK``/``WORLD_SIZE``/``MASTER_ADDR``/``MASTER_PORT`` set by ``torchrun`` (or
    SageMaker's launcher). Without them the process is a group of one.
    """
    if is_initialized():
        return
    if backend is None:
        backend = choose_backend(
            engine=load_env().data_parallel_engine,
            smddp=smddp_available(),
            cuda=_cuda(),
        )
    if backend == "smddp":
        importlib.import_module("smdistributed.dataparallel.torch.torch_smddp")
    timeout = timeout or _env_timeout()
    alone = process_index(None, "WORLD_SIZE", 0) == 0 and backend != "smddp"
    if alone and "init_method" not in kwargs and "store" not in kwargs:
        store = _dist.HashStore()  # type: ignore[attr-defined]
        kwargs.update(store=store, rank=0, world_size=1)
    if backend == "nccl":
        torch.cuda.set_device(get_local_rank())
    _dist.init_process_group(backend=backend, timeout=timeout, **kwargs)


def destroy_process_group() -> None:
    if is_initialized():
        _dist.destroy_process_group()


def _env_timeout() -> datetime.timedelta:
    seconds = os.environ.get("SAGESCALE_DIST_TIMEOUT_S")
    if not seconds:
        return DEFAULT_TIMEOUT
    try:
        value = float(seconds)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise SpecError(
            f"environment variable SAGESCALE_DIST_TIMEOUT_S={seconds!r}: must be a positive "
            "number of seconds",
            field="SAGESCALE_DIST_TIMEOUT_S",
            value=seconds,
        )
    return datetime.timedelta(seconds=value)


def get_rank() -> int:
    return _dist.get_rank() if is_initialized() else process_index(None, "RANK", 0)


def get_world_size() -> int:
    if is_initialized():
        return _dist.get_world_size()
    return process_index(None, "WORLD_SIZE", 1)


def get_local_rank() -> int:
    return process_index(None, "LOCAL_RANK", 0)


def get_local_size() -> int:
    return process_index(None, "LOCAL_WORLD_SIZE", get_world_size())


def barrier() -> None:
    if is_initialized():
        _dist.barrier()


def device() -> torch.device:
    """``cuda:<local_rank>`` (made current) when every local process has a GPU, else ``cpu``."""
    if _cuda():
        index = get_local_rank() % torch.cuda.device_count()
        torch.cuda.set_device(index)
        return torch.device("cuda", index)
    return torch.device("cpu")


def all_reduce(tensor: torch.Tensor, op: Any = ReduceOp.SUM, group: Any = None) -> torch.Tensor:
    """In-place all-reduce (a no-op in a group of one); returns ``tensor``."""
    if is_initialized():
        _dist.all_reduce(tensor, op=op, group=group)
    return tensor


def all_reduce_mean(tensor: torch.Tensor, group: Any = None) -> torch.Tensor:
    """In-place mean over the group's processes; returns ``tensor``."""
    if not is_initialized():
        return tensor
    _dist.all_reduce(tensor, op=ReduceOp.SUM, group=group)
    tensor.div_(_dist.get_world_size(group))
    return tensor


def broadcast(tensor: torch.Tensor, src: int = 0, group: Any = None) -> torch.Tensor:
    if is_initialized():
        _dist.broadcast(tensor, src=src, group=group)
    return tensor


def all_gather(tensor: torch.Tensor, group: Any = None) -> list[torch.Tensor]:
    """Every process's ``tensor`` (same shape everywhere), in rank order."""
    if not is_initialized():
        return [tensor.clone()]
    out = [torch.empty_like(tensor) for _ in range(_dist.get_world_size(group))]
    _dist.all_gather(out, tensor, group=group)
    return out


def scale_batch_size(
    global_batch: int, world_size: int | None = None, *, threshold: int = SMALL_BATCH_THRESHOLD
) -> int:
    """Per-device batch for a global batch: ``global // world``, at least 1.

    Warns (:class:`SmallBatchWarning`) below ``threshold`` samples per device, e.g. a global
    batch of 64 on 32 GPUs gives 2 per device.
    """
    if isinstance(global_batch, bool) or not isinstance(global_batch, int) or global_batch < 1:
        raise SpecError(
            f"global_batch={global_batch!r}: must be a positive integer",
            field="global_batch",
            value=global_batch,
        )
    world = get_world_size() if world_size is None else world_size
    per_device = max(1, global_batch // max(1, world))
    if per_device < threshold:
        warnings.warn(
            f"per-device batch is {per_device} (global batch {global_batch} over {world} "
            f"processes); below {threshold} samples per device convergence may suffer — "
            "raise the global batch or the learning-rate warm-up",
            SmallBatchWarning,
            stacklevel=2,
        )
    return per_device


def distributed_sampler(
    dataset: Dataset[Any], *, shuffle: bool = True, seed: int = 0, drop_last: bool = False
) -> DistributedSampler[Any]:
    """A ``DistributedSampler`` over this job's data-parallel processes.

    Under model parallelism (``sagescale.runtime.smp``) use ``smp.dp_size()`` and
    ``smp.dp_rank()`` instead, so pipeline peers read the same samples.
    """
    return DistributedSampler(
        dataset,
        num_replicas=get_world_size(),
        rank=get_rank(),
        shuffle=shuffle,
        seed=seed,
        drop_last=drop_last,
    )


class DistributedDataParallel(nn.parallel.DistributedDataParallel):
    """``torch.nn.parallel.DistributedDataParallel`` placed on :func:`device`.

    Joins the process group first if the script has not, and moves the module to this
    process's device, so the same call works with GPUs (one per process) and on CPU.
    """

    def __init__(self, module: nn.Module, **kwargs: Any) -> None:
        init_process_group()
        dev = device()
        module = module.to(dev)
        if dev.type == "cuda":
            kwargs.setdefault("device_ids", [dev.index])
            kwargs.setdefault("output_device", dev.index)
        super().__init__(module, **kwargs)


DDP = DistributedDataParallel
