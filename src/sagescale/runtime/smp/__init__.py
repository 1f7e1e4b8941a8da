"""Model parallel helpers, mirroring ``smdistributed.modelparallel.torch``.

A script written for SageMaker's model-parallel library (v1) ports by changing its import::

    import smdistributed.modelparallel.torch as smp     # before
    import sagescale.runtime.smp as smp                  # after

When ``smdistributed.modelparallel`` is importable and the job has ``mp_parameters``, every
name here is the library's own. Otherwise the same settings run on
``torch.distributed.pipelining`` (see ``sagescale.runtime.smp._model``). Set
``SAGESCALE_SMP_FALLBACK=1`` to force the PyTorch fallback.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
import torch.distributed as _dist

from sagescale.runtime._env import load_env
from sagescale.runtime.smp import _state
from sagescale.runtime.smp._model import (
    DistributedModel,
    DistributedOptimizer,
    StepOutput,
    partition,
    set_partition,
    step,
)
from sagescale.runtime.smp._state import CommGroup

__all__ = [
    "CommGroup",
    "DistributedModel",
    "DistributedOptimizer",
    "StepOutput",
    "allgather",
    "barrier",
    "broadcast",
    "dp_barrier",
    "dp_rank",
    "dp_size",
    "get_dp_process_group",
    "get_mp_process_group",
    "get_pp_process_group",
    "get_tp_process_group",
    "init",
    "is_initialized",
    "load",
    "local_rank",
    "local_size",
    "mp_barrier",
    "mp_rank",
    "mp_size",
    "num_microbatches",
    "partition",
    "pp_barrier",
    "pp_rank",
    "pp_size",
    "rank",
    "rdp_rank",
    "rdp_size",
    "save",
    "set_partition",
    "size",
    "step",
    "tp_barrier",
    "tp_rank",
    "tp_size",
    "uses_smdistributed",
]


def init(config: dict[str, Any] | None = None) -> None:
    """Join the job's processes and lay them out from ``mp_parameters`` (idempotent)."""
    if _state.current is None:
        _state.initialize(config)


def is_initialized() -> bool:
    return _state.current is not None


def uses_smdistributed() -> bool:
    """False: this is the PyTorch fallback (the delegating module answers True)."""
    return False


def _mesh() -> _state.Mesh:
    return _state.require()


def rank() -> int:
    return _mesh().rank


def size() -> int:
    return _mesh().size


def local_rank() -> int:
    return _mesh().local_rank


def local_size() -> int:
    return _mesh().local_size


def pp_rank() -> int:
    return _mesh().pp_rank


def pp_size() -> int:
    return _mesh().pp_size


def dp_rank() -> int:
    return _mesh().dp_rank


def dp_size() -> int:
    return _mesh().dp_size


def tp_rank() -> int:
    return _mesh().tp_rank


def tp_size() -> int:
    return _mesh().tp_size


def rdp_rank() -> int:
    return _mesh().rdp_rank


def rdp_size() -> int:
    return _mesh().rdp_size


def mp_rank() -> int:
    return _mesh().mp_rank


def mp_size() -> int:
    return _mesh().mp_size


def num_microbatches() -> int:
    return _mesh().settings.microbatches


def get_dp_process_group() -> Any:
    return _mesh().group(CommGroup.DP_GROUP)


def get_pp_process_group() -> Any:
    return _mesh().group(CommGroup.PP_GROUP)


def get_mp_process_group() -> Any:
    return _mesh().group(CommGroup.MP_GROUP)


def get_tp_process_group() -> Any:
    return _mesh().group(CommGroup.TP_GROUP)


def barrier(group: CommGroup = CommGroup.WORLD) -> None:
    _dist.barrier(group=_mesh().group(group))


def dp_barrier() -> None:
    barrier(CommGroup.DP_GROUP)


def pp_barrier() -> None:
    barrier(CommGroup.PP_GROUP)


def mp_barrier() -> None:
    barrier(CommGroup.MP_GROUP)


def tp_barrier() -> None:
    barrier(CommGroup.TP_GROUP)


def broadcast(obj: Any, group: CommGroup = CommGroup.WORLD) -> Any:
    """``obj`` from the group's first process, returned on every process of the group."""
    mesh = _mesh()
    payload = [obj]
    src = mesh.group_ranks(group)[0]
    _dist.broadcast_object_list(payload, src=src, group=mesh.group(group))
    return payload[0]


def allgather(obj: Any, group: CommGroup = CommGroup.WORLD) -> list[Any]:
    mesh = _mesh()
    out: list[Any] = [None] * len(mesh.group_ranks(group))
    _dist.all_gather_object(out, obj, group=mesh.group(group))
    return out


def _partial_path(path: str | os.PathLike[str]) -> Path:
    mesh = _mesh()
    return Path(f"{os.fspath(path)}_{mesh.pp_rank}_{mesh.tp_rank}")


def save(obj: Any, f: str | os.PathLike[str], partial: bool = True, **kwargs: Any) -> None:
    """``torch.save`` written atomically; ``partial=True`` appends ``_<pp_rank>_<tp_rank>``
    so each partition writes its own file (call it on ``rdp_rank() == 0``)."""
    path = _partial_path(f) if partial else Path(f)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(obj, handle, **kwargs)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load(f: str | os.PathLike[str], partial: bool = True, **kwargs: Any) -> Any:
    """Counterpart of :func:`save`."""
    kwargs.setdefault("map_location", "cpu")
    kwargs.setdefault("weights_only", True)
    return torch.load(_partial_path(f) if partial else Path(f), **kwargs)


def _smdistributed() -> ModuleType | None:
    if os.environ.get("SAGESCALE_SMP_FALLBACK") == "1" or load_env().model_parallel is None:
        return None
    try:
        return importlib.import_module("smdistributed.modelparallel.torch")
    except ImportError:
        return None


_real = _smdistributed()
if _real is not None:
    globals().update({name: getattr(_real, name) for name in __all__ if hasattr(_real, name)})
    globals()["uses_smdistributed"] = lambda: True
