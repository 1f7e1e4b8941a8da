"""Several processes under torchrun (CPU, gloo): DDP, pipelines, hybrid, tensor parallel,
sharded checkpoints; the ported seed scripts differ from the originals in imports only (they
run as local-backend jobs in test_local_jobs.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from .jobenv import make_job_env, torchrun

WORKER = Path(__file__).parent / "workers" / "scenarios.py"
EXAMPLES = Path(__file__).parents[2] / "examples"
TOL = 1e-5


def _launch(tmp: Path, nproc: int, names: list[str]) -> dict[str, list[dict[str, Any]]]:
    out = tmp / "out"
    out.mkdir()
    env = make_job_env(tmp / "ml")
    result = torchrun(WORKER, [str(out), *names], nproc=nproc, env=env)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-6000:]
    return {
        name: [json.loads((out / f"{name}-rank{r}.json").read_text()) for r in range(nproc)]
        for name in names
    }


@pytest.fixture(scope="module")
def two(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    names = [
        "ddp",
        "gpipe",
        "interleaved",
        "manual",
        "smp_ddp",
        "smp_ddp_buffers",
        "tensor_parallel",
        "checkpoint",
        "accumulate",
        "tied",
        "too_few_blocks",
        "fp16_pipeline",
        "shapes",
        "tuples",
    ]
    return _launch(tmp_path_factory.mktemp("two"), 2, names)


@pytest.mark.slow
def test_ddp_matches_one_process(two: dict[str, list[dict[str, Any]]]) -> None:
    for rank in two["ddp"]:
        assert rank["param_diff"] < TOL
        assert rank["per_device"] == 8


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "schedule", "stages"),
    [
        ("gpipe", "ScheduleGPipe", [0, 0, 1, 1]),
        ("interleaved", "ScheduleInterleaved1F1B", [0, 1, 2, 3]),
    ],
)
def test_pipeline_matches_one_process(
    two: dict[str, list[dict[str, Any]]], name: str, schedule: str, stages: list[int]
) -> None:
    """2 partitions, 4 microbatches: loss and gradients within 1e-5 of one process."""
    ranks = two[name]
    assert [r["pp_rank"] for r in ranks] == [0, 1]
    for r in ranks:
        assert r["loss_diff"] < TOL and r["grad_diff"] < TOL and r["param_diff"] < TOL
        assert r["schedule"] == schedule
        assert r["stage_of_block"] == stages
        assert r["owned"] == 144  # each process holds half of the 4 blocks (2 x 72)
        assert r["out_shape"] == [8, 8]


@pytest.mark.slow
def test_tensor_parallel_matches_one_process(two: dict[str, list[dict[str, Any]]]) -> None:
    for r in two["tensor_parallel"]:
        assert r["loss_diff"] < TOL and r["param_diff"] < TOL
        assert r["local_shape"] == [8, 8]  # Linear(8, 16) split column-wise over 2
        assert r["loaded_shape"] == [8, 8]
        assert r["files"] == [
            "manifest.json",
            "pp0-tp0.pt",
            "pp0-tp1.pt",
            "rng-rank0.pt",
            "rng-rank1.pt",
        ]


@pytest.mark.slow
def test_smp_data_parallel_only(two: dict[str, list[dict[str, Any]]]) -> None:
    ranks = two["smp_ddp"]
    assert [(r["dp_rank"], r["pp_rank"], r["n_stages"]) for r in ranks] == [(0, 0, 0), (1, 0, 0)]
    for r in ranks:
        assert r["loss_diff"] < TOL and r["grad_diff"] < TOL and r["param_diff"] < TOL


@pytest.mark.slow
def test_manual_placement(two: dict[str, list[dict[str, Any]]]) -> None:
    """smp.partition(...) blocks and default_partition place the blocks, not the costs."""
    for r in two["manual"]:
        assert r["stage_of_block"] == [0, 1, 1, 1]
        assert r["loss_diff"] < TOL and r["grad_diff"] < TOL and r["param_diff"] < TOL
    assert [r["owned"] for r in two["manual"]] == [72, 216]


@pytest.mark.slow
def test_sharded_checkpoint_round_trip(two: dict[str, list[dict[str, Any]]]) -> None:
    first, second = two["checkpoint"]
    assert first["files"] == [
        "manifest.json",
        "pp0-tp0.pt",
        "pp1-tp0.pt",
        "rng-rank0.pt",
        "rng-rank1.pt",
    ]
    assert first["shard_keys"] == ["0.0.bias", "0.0.weight", "1.0.bias", "1.0.weight"]
    assert second["shard_keys"] == ["2.0.bias", "2.0.weight", "3.0.bias", "3.0.weight"]
    for r in (first, second):
        assert (r["step"], r["epoch"], r["param_diff"]) == (7, 3, 0.0)


@pytest.mark.slow
def test_pipeline_gradients_accumulate_over_steps(two: dict[str, list[dict[str, Any]]]) -> None:
    """Two @step calls before optimizer.step (and an evaluation step between): the sum of
    both steps' gradients, not one rescaled by the number of microbatches."""
    for r in two["accumulate"]:
        assert r["n_grads"] == 4  # two Linear layers per stage
        assert r["grad_diff"] < TOL and r["eval_diff"] < TOL
        assert r["sum_diff"] < 4 * TOL  # average_grads_across_microbatches=False


@pytest.mark.slow
def test_pipeline_follows_the_batch_size(two: dict[str, list[dict[str, Any]]]) -> None:
    """A smaller last batch, an evaluation batch of another size and the same batch under
    autocast each get their own stages; losses, parameters and BatchNorm statistics stay
    equal to one process."""
    for r in two["shapes"]:
        assert r["loss_diff"] < TOL and r["eval_diff"] < TOL and r["state_diff"] < TOL
        assert r["bf16_diff"] < TOL  # autocast changes what stages exchange: own stages
        assert r["shapes"] == 4  # microbatches of 4, 2 and 3 samples, and 3 under autocast


@pytest.mark.slow
def test_pipeline_passes_tuples_between_stages(two: dict[str, list[dict[str, Any]]]) -> None:
    """A block's tuple output reaches the next block as one argument, within a stage and
    across the boundary (where a part that needs no gradient gets none)."""
    for r in two["tuples"]:
        assert r["simple"]["stage_of_block"] == [0, 0, 1, 1]
        assert r["interleaved"]["stage_of_block"] == [0, 1, 2, 3]
        for case in ("simple", "interleaved"):
            result = r[case]
            assert result["loss_diff"] < TOL and result["grad_diff"] < TOL
            assert result["param_diff"] < TOL


@pytest.mark.slow
def test_pipeline_state_dict_keeps_tied_weights(two: dict[str, list[dict[str, Any]]]) -> None:
    for r in two["tied"]:
        assert r["keys"] == r["ref_keys"]
        assert r["keys"] == ["embed.weight", "head.weight", "mid.bias", "mid.weight"]


@pytest.mark.slow
def test_pipeline_weights_tied_across_stages_stay_tied(
    two: dict[str, list[dict[str, Any]]],
) -> None:
    """embed on one process, head (the same weight) on the other: each copy gets the sum of
    both stages' gradients, accumulated over two @step calls, and moves as one process's."""
    for r in two["tied"]:
        assert r["stage_of_block"][0] != r["stage_of_block"][2]
        assert r["tied_diff"] < TOL and r["param_diff"] < TOL


@pytest.mark.slow
def test_more_partitions_than_blocks_fails_on_every_process(
    two: dict[str, list[dict[str, Any]]],
) -> None:
    for r in two["too_few_blocks"]:
        assert r["field"] == "mp_parameters.partitions"
        assert "number of the model's blocks (1)" in r["message"]


@pytest.mark.slow
def test_fp16_pipeline_steps_and_skips_on_every_stage(
    two: dict[str, list[dict[str, Any]]],
) -> None:
    for r in two["fp16_pipeline"]:
        assert r["stepped"] == [True, False]
        assert r["moved"] and r["unchanged_by_skip"] == 0.0
        assert r["scale"] == 2.0**15  # both stages halved the scale once


@pytest.fixture(scope="module")
def four(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    return _launch(tmp_path_factory.mktemp("four"), 4, ["hybrid", "hybrid_buffers"])


@pytest.mark.slow
def test_hybrid_two_by_two_on_four_processes(four: dict[str, list[dict[str, Any]]]) -> None:
    """2-way data parallel x 2-way pipeline: equal to one process on the whole batch."""
    ranks = four["hybrid"]
    assert [(r["dp_rank"], r["pp_rank"]) for r in ranks] == [(0, 0), (0, 1), (1, 0), (1, 1)]
    for r in ranks:
        assert r["loss_diff"] < TOL and r["grad_diff"] < TOL and r["param_diff"] < TOL


def _check_buffers(ranks: list[dict[str, Any]], per_stage_keys: int) -> None:
    for r in ranks:
        assert r["rdp_size"] == 2
        for case in ("default", "off"):
            assert r[case]["keys"] == per_stage_keys and r[case]["moved"]
            # 3 steps x 2 microbatches, no more: neither the partition probe nor the
            # pipeline's set-up runs a block outside the steps
            assert r[case]["tracked"] == [6]
        assert r["default"]["spread"] == 0.0  # running stats equal across replicas
        assert r["off"]["spread"] > 1e-3  # each replica kept its own data's statistics


@pytest.mark.slow
def test_hybrid_broadcasts_buffers_across_replicas(four: dict[str, list[dict[str, Any]]]) -> None:
    """BatchNorm fed different data per replica: broadcast_buffers (the default) keeps the
    running statistics of each stage equal across replicas; False leaves them apart."""
    ranks = four["hybrid_buffers"]
    assert [r["pp_rank"] for r in ranks] == [0, 1, 0, 1]
    _check_buffers(ranks, per_stage_keys=4)  # 2 BatchNorm blocks x (mean, var) per stage


@pytest.mark.slow
def test_smp_data_parallel_broadcasts_buffers(two: dict[str, list[dict[str, Any]]]) -> None:
    _check_buffers(two["smp_ddp_buffers"], per_stage_keys=8)


# -- the seed scripts ------------------------------------------------------------------


def _code_lines(path: Path) -> list[str]:
    """The script without its module docstring and import statements."""
    text = path.read_text()
    body = text.split('"""', 2)[2]
    return [
        line
        for line in body.splitlines()
        if line.strip() and not re.match(r"^(import |from \S+ import )", line)
    ]


def _imports(path: Path) -> set[str]:
    return {
        line
        for line in path.read_text().splitlines()
        if re.match(r"^(import |from \S+ import )", line)
    }


@pytest.mark.parametrize(
    ("folder", "seed", "old", "new"),
    [
        ("data_parallel", "seed_smddp.py", "smdistributed.dataparallel", "sagescale.runtime"),
        ("model_parallel", "seed_smp.py", "smdistributed.modelparallel", "sagescale.runtime"),
    ],
)
def test_ports_change_imports_only(folder: str, seed: str, old: str, new: str) -> None:
    original, ported = EXAMPLES / folder / seed, EXAMPLES / folder / "train.py"
    assert _code_lines(original) == _code_lines(ported)
    removed = _imports(original) - _imports(ported)
    added = _imports(ported) - _imports(original)
    assert removed and all(old in line for line in removed)
    assert added and all(new in line for line in added)
