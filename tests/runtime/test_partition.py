"""Automatic and manual partitioning of ordered blocks."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from sagescale.errors import SpecError
from sagescale.runtime.smp._partition import (
    balanced_split,
    block_costs,
    block_outputs,
    manual_split,
    ordered_blocks,
)


def test_balanced_split_minimizes_the_largest_stage() -> None:
    assert balanced_split([1, 1, 1, 1], 2) == [0, 0, 1, 1]
    assert balanced_split([4, 1, 1, 1, 1], 2) == [0, 1, 1, 1, 1]
    assert balanced_split([1, 2, 3, 4, 5, 6, 7, 8, 9], 3) == [0, 0, 0, 0, 0, 1, 1, 2, 2]
    assert balanced_split([5], 1) == [0]
    with pytest.raises(SpecError, match="partitions=3"):
        balanced_split([1, 1], 3)


def test_memory_costs_of_known_layers_give_the_balanced_split() -> None:
    """Costs are parameter + activation bytes; the first block outweighs the other five
    together, so the balanced 2-way split puts it alone."""
    sizes = [(16, 64), (64, 8), (8, 8), (8, 8), (8, 8), (8, 16)]
    blocks = nn.Sequential(*[nn.Linear(a, b) for a, b in sizes])
    sample = torch.zeros(2, 16)
    costs = block_costs(list(blocks), sample, memory_weight=1.0)
    expected = [
        4 * (a * b + b + 2 * b) for a, b in sizes
    ]  # float32 params + bias + activations of a 2-sample microbatch
    total = sum(expected)
    assert costs == pytest.approx([e / total for e in expected])
    assert balanced_split(costs, 2) == [0, 1, 1, 1, 1, 1]
    equal = nn.Sequential(*[nn.Linear(8, 8) for _ in range(4)])
    equal_costs = block_costs(list(equal), torch.zeros(1, 8), memory_weight=1.0)
    assert balanced_split(equal_costs, 2) == [0, 0, 1, 1]


def test_speed_costs_use_measured_time() -> None:
    blocks = [nn.Identity() for _ in range(4)]
    timings = {id(b): t for b, t in zip(blocks, [3.0, 1.0, 1.0, 1.0], strict=True)}
    costs = block_costs(
        blocks, torch.zeros(1), memory_weight=0.0, timer=lambda b, _x: timings[id(b)]
    )
    assert balanced_split(costs, 2) == [0, 1, 1, 1]


def test_manual_split() -> None:
    assert manual_split([0, None, 1, 1], 2, default_partition=0) == [0, 0, 1, 1]
    with pytest.raises(SpecError, match="must not decrease"):
        manual_split([1, 0], 2, default_partition=0)
    with pytest.raises(SpecError, match="every partition"):
        manual_split([0, 0], 2, default_partition=0)
    with pytest.raises(SpecError, match="partition 5"):
        manual_split([0, 5], 2, default_partition=0)


def test_ordered_blocks() -> None:
    class Exposed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.a, self.b = nn.Linear(1, 1), nn.Linear(1, 1)

        def pipeline_blocks(self) -> list[nn.Module]:
            return [self.a, self.b]

    seq = nn.Sequential(nn.Linear(1, 1), nn.ReLU())
    assert ordered_blocks(seq) == list(seq)
    exposed = Exposed()
    assert ordered_blocks(exposed) == [exposed.a, exposed.b]
    with pytest.raises(SpecError, match="pipeline_blocks"):
        ordered_blocks(nn.Linear(1, 1))


def test_partition_context_and_set_partition_survive_deepcopy() -> None:
    import copy

    from sagescale.runtime import smp
    from sagescale.runtime.smp._model import _assigned

    class Net(nn.Sequential):
        def __init__(self) -> None:
            super().__init__()
            with smp.partition(0):
                self.a = nn.Linear(1, 1)
            with smp.partition(1):
                self.b = nn.Sequential(nn.Linear(1, 1))
            self.c = nn.Linear(1, 1)

    net = copy.deepcopy(Net())
    smp.set_partition(net.c, 1)
    assert [_assigned(b) for b in ordered_blocks(net)] == [0, 1, 1]
    assert _assigned(nn.Linear(1, 1)) is None


def test_placement_strategies_lay_out_ranks() -> None:
    """(rdp, pp, tp) coordinates of global ranks for 2 replicas x 2 partitions x 2 slices."""
    from sagescale.runtime.smp._state import _layout

    cluster = _layout(8, pp=2, tp=2, rdp=2, strategy="cluster")
    assert cluster[0].flatten().tolist() == [0, 1, 2, 3]  # one replica on consecutive ranks
    spread = _layout(8, pp=2, tp=2, rdp=2, strategy="spread")
    assert spread[:, 0, 0].tolist() == [0, 1]  # replicas of a partition side by side
    assert sorted(spread.flatten().tolist()) == list(range(8))


def _coordinates(layout: torch.Tensor) -> list[tuple[int, int, int]]:
    """(rdp_rank, pp_rank, tp_rank) of global ranks 0, 1, ..."""
    return [tuple((layout == r).nonzero()[0].tolist()) for r in range(layout.numel())]


def test_letter_placement_strategies_follow_smps_tables() -> None:
    """The tables of SMP v1's "Placement Strategy with Tensor Parallelism" (8 devices,
    2 x 2 x 2): the right-most letter varies over neighbouring ranks."""
    from sagescale.runtime.smp._state import _layout

    dpt = _layout(8, pp=2, tp=2, rdp=2, strategy="DPT")
    assert _coordinates(dpt) == [(d, p, t) for d in (0, 1) for p in (0, 1) for t in (0, 1)]
    ptd = _layout(8, pp=2, tp=2, rdp=2, strategy="PTD")
    assert _coordinates(ptd) == [
        (0, 0, 0), (1, 0, 0), (0, 0, 1), (1, 0, 1), (0, 1, 0), (1, 1, 0), (0, 1, 1), (1, 1, 1)
    ]  # fmt: skip
    # the named strategies are their letter equivalents
    assert torch.equal(_layout(8, 2, 2, 2, "cluster"), dpt)
    assert torch.equal(_layout(8, 2, 2, 2, "spread"), _layout(8, 2, 2, 2, "TPD"))
    tdp = _layout(12, pp=3, tp=2, rdp=2, strategy="TDP")
    assert _coordinates(tdp)[:4] == [(0, 0, 0), (0, 1, 0), (0, 2, 0), (1, 0, 0)]
    assert sorted(tdp.flatten().tolist()) == list(range(12))


def test_probes_leave_buffers_and_random_state_unchanged() -> None:
    """block_costs and block_outputs run the blocks; BatchNorm statistics, their counter
    and the random generator are as before."""
    torch.manual_seed(0)
    blocks = [nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Dropout(0.5), nn.Linear(4, 2)]
    before = {k: v.clone() for k, v in blocks[1].state_dict().items()}
    sample = torch.randn(8, 4) * 3 + 1
    state = torch.random.get_rng_state()
    block_costs(blocks, sample, memory_weight=0.5)
    outputs = block_outputs(blocks, sample)
    assert torch.equal(torch.random.get_rng_state(), state)
    for key, value in blocks[1].state_dict().items():
        assert torch.equal(value, before[key]), key
    assert [tuple(o.shape) for o in outputs] == [(8, 4), (8, 4), (8, 4), (8, 2)]  # type: ignore[attr-defined]


def test_block_outputs_require_grad_as_in_training() -> None:
    """An output requires grad when the block's input or parameters do: a frozen first
    block on plain data gives an output that needs no gradient; the next one does."""
    frozen, trained = nn.Linear(4, 4), nn.Linear(4, 4)
    frozen.requires_grad_(False)
    outputs = block_outputs([frozen, nn.ReLU(), trained, nn.ReLU()], torch.ones(2, 4))
    assert [o.requires_grad for o in outputs] == [False, False, True, True]  # type: ignore[attr-defined]
    assert all(o.grad_fn is None for o in outputs)  # type: ignore[attr-defined]
    ints = block_outputs([nn.Identity()], torch.ones(2, dtype=torch.long))
    assert not ints[0].requires_grad  # type: ignore[attr-defined]
