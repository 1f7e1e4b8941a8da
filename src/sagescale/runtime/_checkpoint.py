"""Checkpoints that survive spot reclaims and retries, and models from the ``model`` channel.

Layout under the job's checkpoint directory (``SAGESCALE_CHECKPOINT_DIR``, else
``<SAGEMAKER_BASE_DIR>/checkpoints`` — SageMaker syncs ``/opt/ml/checkpoints`` with S3)::

    checkpoint-0000000012/
        state.pt            data parallel / single process: written by global rank 0
        pp0-tp0.pt ...      model parallel: one shard per pipeline stage / tensor slice,
                            written by the first replica (rdp rank 0) of each
        rng-rank0.pt ...    every process's random-number-generator state
        manifest.json       written last; a folder without it is ignored

Every file is written to a temporary name and renamed, so a process killed mid-write never
leaves a checkpoint that loads half.
"""

from __future__ import annotations

import dataclasses
import json
import os
import random
import re
import shutil
import sys
import tarfile
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
import torch.distributed as _dist

from sagescale.errors import SpecError
from sagescale.runtime._env import global_rank, load_env

__all__ = [
    "LoadedCheckpoint",
    "load_latest_checkpoint",
    "load_model_from_channel",
    "save_checkpoint",
]

_STEP_DIR = re.compile(r"^checkpoint-(\d{10})$")
MANIFEST = "manifest.json"


@dataclasses.dataclass(frozen=True)
class LoadedCheckpoint:
    """What :func:`load_latest_checkpoint` found: the step and this process's state."""

    step: int
    state: dict[str, Any]
    path: Path


@dataclasses.dataclass(frozen=True)
class _Layout:
    rank: int
    shard: str
    writes_shard: bool
    shards: tuple[str, ...]


def _model_parallel_ranks() -> tuple[int, int, int, int, int] | None:
    """``(pp_rank, pp_size, tp_rank, tp_size, rdp_rank)`` when model parallelism runs: the
    runtime's fallback, or SageMaker's library once initialized; else ``None``."""
    fallback = sys.modules.get("sagescale.runtime.smp._state")
    mesh = getattr(fallback, "current", None)
    if mesh is not None:
        return mesh.pp_rank, mesh.pp_size, mesh.tp_rank, mesh.tp_size, mesh.rdp_rank
    real = sys.modules.get("smdistributed.modelparallel.torch")
    if real is None:
        return None
    try:
        tp_rank, tp_size = real.tp_rank(), real.tp_size()
        rdp_rank = real.rdp_rank() if hasattr(real, "rdp_rank") else real.dp_rank()
        return real.pp_rank(), real.pp_size(), tp_rank, tp_size, rdp_rank
    except Exception:  # not initialized (yet)
        return None


def _layout() -> _Layout:
    """Who writes what: one file from global rank 0, or one shard per pipeline stage and
    tensor slice from its first data-parallel replica."""
    rank = _dist.get_rank() if _dist.is_initialized() else global_rank()
    ranks = _model_parallel_ranks()
    if ranks is not None and (ranks[1] > 1 or ranks[3] > 1):
        pp_rank, pp_size, tp_rank, tp_size, rdp_rank = ranks
        shards = tuple(f"pp{p}-tp{t}" for p in range(pp_size) for t in range(tp_size))
        return _Layout(rank, f"pp{pp_rank}-tp{tp_rank}", rdp_rank == 0, shards)
    return _Layout(rank, "state", rank == 0, ("state",))


def _directory(directory: str | os.PathLike[str] | None) -> Path:
    return Path(directory) if directory is not None else load_env().checkpoint_dir


def _atomic_save(obj: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _barrier() -> None:
    if _dist.is_initialized():
        _dist.barrier()


def save_checkpoint(
    state: Mapping[str, Any],
    *,
    step: int,
    directory: str | os.PathLike[str] | None = None,
    keep: int = 2,
    include_rng: bool = True,
) -> Path:
    """Save ``state`` (model/optimizer state dicts, counters...) as checkpoint ``step``.

    Call it on every process: it synchronizes them, the right processes write (global
    rank 0 under data parallel, the first replica of each stage and slice under model parallel,
    which pass their own shard's ``state``), and the checkpoint counts only once all are
    written. Keeps the newest ``keep`` checkpoints. Returns the checkpoint folder.
    """
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise SpecError(f"step={step!r}: must be a non-negative integer", field="step", value=step)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise SpecError(f"keep={keep!r}: must be an integer >= 1", field="keep", value=keep)
    if not isinstance(state, Mapping):
        raise SpecError(
            f"state={type(state).__name__}: must be a mapping (model/optimizer state dicts...)",
            field="state",
            value=type(state).__name__,
        )
    root = _directory(directory)
    if root.exists() and not root.is_dir():
        raise SpecError(
            f"directory={str(root)!r}: is a file, must be a folder", field="directory", value=root
        )
    layout = _layout()
    folder = root / f"checkpoint-{step:010d}"
    if layout.writes_shard:
        _atomic_save(dict(state), folder / f"{layout.shard}.pt")
    if include_rng:
        _atomic_save(_rng_state(), folder / f"rng-rank{layout.rank}.pt")
    _barrier()
    if layout.rank == 0:
        manifest = {"step": step, "shards": list(layout.shards)}
        tmp = folder / f".{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest), encoding="utf-8")
        os.replace(tmp, folder / MANIFEST)
        _prune(folder.parent, keep)
    _barrier()
    return folder


def _complete_steps(directory: Path) -> list[tuple[int, Path]]:
    if not directory.is_dir():
        return []
    found = []
    for child in directory.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / MANIFEST).is_file():
            found.append((int(match.group(1)), child))
    return sorted(found, reverse=True)


def _prune(directory: Path, keep: int) -> None:
    complete = _complete_steps(directory)
    if not complete:
        return
    keep_dirs = {path for _, path in complete[:keep]}
    newest = complete[0][0]
    for child in directory.iterdir():
        match = _STEP_DIR.match(child.name)
        if not match or child in keep_dirs:
            continue
        is_complete = (child / MANIFEST).is_file()
        if is_complete or int(match.group(1)) < newest:
            shutil.rmtree(child, ignore_errors=True)


def load_latest_checkpoint(
    directory: str | os.PathLike[str] | None = None,
    *,
    map_location: str | torch.device = "cpu",
    restore_rng: bool = True,
    weights_only: bool = True,
) -> LoadedCheckpoint | None:
    """This process's part of the newest complete checkpoint, or ``None`` (a fresh start).

    Restores the random-number generators saved with it (``restore_rng``), so a resumed run
    draws the same numbers as an uninterrupted one.
    """
    layout = _layout()
    for step, folder in _complete_steps(_directory(directory)):
        path = folder / f"{layout.shard}.pt"
        if not path.is_file():
            continue
        state = torch.load(path, map_location=map_location, weights_only=weights_only)
        rng = folder / f"rng-rank{layout.rank}.pt"
        if restore_rng and rng.is_file():
            _set_rng_state(torch.load(rng, map_location="cpu", weights_only=True))
        return LoadedCheckpoint(step=step, state=state, path=folder)
    return None


def _rng_state() -> dict[str, Any]:
    state: dict[str, Any] = {"python": random.getstate(), "torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    numpy = sys.modules.get("numpy")
    if numpy is not None:
        kind, keys, pos, has_gauss, cached = numpy.random.get_state()
        state["numpy"] = [kind, keys.tolist(), int(pos), int(has_gauss), float(cached)]
    return state


def _set_rng_state(state: Mapping[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    numpy = sys.modules.get("numpy")
    if "numpy" in state and numpy is not None:
        kind, keys, pos, has_gauss, cached = state["numpy"]
        numpy.random.set_state((kind, numpy.asarray(keys, dtype="uint32"), pos, has_gauss, cached))


_MODEL_SUFFIXES = (".pt", ".pth", ".bin")


def load_model_from_channel(
    channel: str = "model",
    filename: str | None = None,
    *,
    map_location: str | torch.device = "cpu",
    weights_only: bool = True,
) -> Any:
    """Load an earlier model (incremental training) from input channel ``channel``.

    The channel may hold the file itself or a ``model.tar.gz`` (what a finished job's model
    artifact is); the archive is unpacked with tarfile's ``data`` filter. Without
    ``filename`` the single ``*.pt``/``*.pth``/``*.bin`` file found is loaded.
    """
    root = load_env().channel(channel)
    archives = sorted(root.glob("*.tar.gz"))
    if not archives:
        path = _find_model_file(root, filename, channel)
        return torch.load(path, map_location=map_location, weights_only=weights_only)
    # unpacked into a temporary folder that is removed once the model is in memory
    with tempfile.TemporaryDirectory(prefix="sagescale-model-") as unpacked:
        search = Path(unpacked)
        for archive in archives:
            _extract(archive, search)
        path = _find_model_file(search, filename, channel)
        return torch.load(path, map_location=map_location, weights_only=weights_only)


def _extract(archive: Path, target: Path) -> None:
    """Unpack with tarfile's ``data`` filter; on a Python without it (before 3.10.12 /
    3.11.4, as in older deep-learning containers) refuse the same escapes by hand."""
    with tarfile.open(archive) as tar:
        if hasattr(tarfile, "data_filter"):
            try:
                tar.extractall(target, filter="data")
            except tarfile.FilterError as exc:
                raise SpecError(
                    f"model archive {archive.name}: unsafe member ({exc})",
                    field="model",
                    value=str(exc),
                ) from None
            return
        root = target.resolve()  # pragma: no cover - Pythons without extraction filters
        for member in tar.getmembers():  # pragma: no cover
            dest = (root / member.name).resolve()
            link = (dest.parent / member.linkname).resolve() if member.issym() else root
            unsafe = not (member.isfile() or member.isdir() or member.issym())
            if unsafe or not dest.is_relative_to(root) or not link.is_relative_to(root):
                raise SpecError(
                    f"model archive {archive.name}: unsafe member {member.name!r}",
                    field="model",
                    value=member.name,
                )
        tar.extractall(target)  # pragma: no cover


def _find_model_file(root: Path, filename: str | None, channel: str) -> Path:
    if filename is not None:
        path = root / filename
        if not path.is_file():
            raise SpecError(
                f"filename={filename!r}: not found in channel {channel!r}",
                field="filename",
                value=filename,
            )
        return path
    candidates = sorted(p for p in root.rglob("*") if p.suffix in _MODEL_SUFFIXES)
    if len(candidates) != 1:
        raise SpecError(
            f"channel {channel!r}: expected exactly one model file ({'/'.join(_MODEL_SUFFIXES)}),"
            f" found {[p.name for p in candidates]}; pass filename=",
            field="filename",
            value=None,
        )
    return candidates[0]
