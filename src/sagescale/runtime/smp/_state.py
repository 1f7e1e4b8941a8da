"""Process layout of the model-parallel fallback: data x pipeline x tensor mesh."""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Mapping
from typing import Any

import torch
import torch.distributed as _dist
from torch.distributed.device_mesh import DeviceMesh

from sagescale.errors import SpecError
from sagescale.runtime import dist as _rdist
from sagescale.runtime._env import ModelParallelSettings, load_env, placement_order

__all__ = ["CommGroup", "Mesh", "current", "initialize", "require"]


class CommGroup(enum.Enum):
    """Process groups, named as in ``smdistributed.modelparallel``."""

    WORLD = 0
    MP_GROUP = 1
    DP_GROUP = 2
    PP_GROUP = 3
    TP_GROUP = 4
    RDP_GROUP = 5


@dataclasses.dataclass
class Mesh:
    """Where this process sits. ``dp`` follows SMP: it spans the tensor-parallel ranks
    (``dp_size = world / pp_size``); ``rdp`` is the pure data-parallel replica axis."""

    settings: ModelParallelSettings
    rank: int
    size: int
    local_rank: int
    local_size: int
    pp_rank: int
    pp_size: int
    tp_rank: int
    tp_size: int
    rdp_rank: int
    rdp_size: int
    device: torch.device
    device_mesh: DeviceMesh | None
    groups: dict[CommGroup, Any]

    @property
    def dp_rank(self) -> int:
        return self.rdp_rank * self.tp_size + self.tp_rank

    @property
    def dp_size(self) -> int:
        return self.rdp_size * self.tp_size

    @property
    def mp_rank(self) -> int:
        return self.pp_rank * self.tp_size + self.tp_rank

    @property
    def mp_size(self) -> int:
        return self.pp_size * self.tp_size

    def group(self, which: CommGroup) -> Any:
        return self.groups.get(which)

    def group_ranks(self, which: CommGroup) -> list[int]:
        group = self.groups.get(which)
        if group is None:
            return list(range(self.size))
        return list(_dist.get_process_group_ranks(group))


current: Mesh | None = None


def _layout(world: int, pp: int, tp: int, rdp: int, strategy: str) -> torch.Tensor:
    """Global ranks arranged (rdp, pp, tp), as SageMaker's model parallel library places
    them: the strategy's letters (``cluster`` = ``DPT``: one model replica on consecutive
    ranks; ``spread`` = ``TPD``: replicas of the same partition on consecutive ranks) order
    the axes from the one over the most distant ranks to the one over neighbouring ranks."""
    order = placement_order(strategy)
    sizes = {"D": rdp, "P": pp, "T": tp}
    grid = torch.arange(world).reshape([sizes[axis] for axis in order])
    return grid.permute([order.index(axis) for axis in "DPT"]).contiguous()


def _degrees(settings: ModelParallelSettings, world: int) -> tuple[int, int, int]:
    pp, tp = settings.partitions, settings.tensor_parallel_degree
    if world % (pp * tp) != 0:
        raise SpecError(
            f"world size {world}: must be divisible by partitions x tensor_parallel_degree "
            f"({pp} x {tp})",
            field="mp_parameters.partitions",
            value=pp,
        )
    rdp = world // (pp * tp)
    if rdp > 1 and not settings.ddp:
        raise SpecError(
            f"{world} processes for {pp} partition(s) x {tp} tensor slice(s): the extra "
            "replicas need mp_parameters.ddp: true",
            field="mp_parameters.ddp",
            value=settings.ddp,
        )
    if tp > 1 and pp > 1:
        raise SpecError(
            "tensor_parallel_degree > 1 together with partitions > 1 needs smdistributed."
            "modelparallel; the PyTorch fallback runs one or the other",
            field="mp_parameters.tensor_parallel_degree",
            value=tp,
        )
    return rdp, pp, tp


def _own_group(candidates: list[torch.Tensor], rank: int) -> Any:
    """Create every group (all processes must, in the same order); keep this process's."""
    mine = None
    for ranks in candidates:
        group = _dist.new_group(ranks.tolist())
        if rank in ranks.tolist():
            mine = group
    return mine


def initialize(config: Mapping[str, Any] | None = None) -> Mesh:
    """Join the process group and build the mesh from the job's ``mp_parameters``
    (``config`` overrides single keys, like ``smp.init(config)``)."""
    global current
    if config is not None and not isinstance(config, Mapping):
        raise SpecError(
            f"smp.init(config={config!r}): must be a mapping of mp_parameters",
            field="config",
            value=config,
        )
    env = load_env()
    params = dict(env.model_parallel.raw) if env.model_parallel else {}
    params.update(config or {})
    settings = ModelParallelSettings.from_parameters(params)
    _rdist.init_process_group()
    world, rank = _dist.get_world_size(), _dist.get_rank()
    rdp, pp, tp = _degrees(settings, world)
    layout = _layout(world, pp, tp, rdp, settings.placement_strategy)
    device = _rdist.device()
    mesh = DeviceMesh(device.type, layout, mesh_dim_names=("rdp", "pp", "tp"))
    coords = (layout == rank).nonzero()[0].tolist()
    groups = {
        CommGroup.WORLD: _dist.group.WORLD,
        CommGroup.RDP_GROUP: mesh.get_group("rdp"),
        CommGroup.PP_GROUP: mesh.get_group("pp"),
        CommGroup.TP_GROUP: mesh.get_group("tp"),
        CommGroup.MP_GROUP: _own_group([layout[r].flatten() for r in range(rdp)], rank),
        CommGroup.DP_GROUP: _own_group([layout[:, p].flatten() for p in range(pp)], rank),
    }
    current = Mesh(
        settings=settings,
        rank=rank,
        size=world,
        local_rank=env.local_rank,
        local_size=env.local_world_size,
        rdp_rank=coords[0],
        pp_rank=coords[1],
        tp_rank=coords[2],
        rdp_size=rdp,
        pp_size=pp,
        tp_size=tp,
        device=device,
        device_mesh=mesh,
        groups=groups,
    )
    return current


def require() -> Mesh:
    """The mesh; :func:`initialize` first if the script has not called ``smp.init()``."""
    return current if current is not None else initialize()
