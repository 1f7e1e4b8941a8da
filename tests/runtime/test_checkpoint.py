"""Checkpoints: atomic, pruned, resumable to the same weights; models from a channel."""

from __future__ import annotations

import io
import random
import tarfile
import tempfile
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from sagescale.errors import SpecError
from sagescale.runtime import load_latest_checkpoint, load_model_from_channel, save_checkpoint


@pytest.fixture(autouse=True)
def _single_process(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RANK", raising=False)


def test_save_and_load_latest(tmp_path: Path) -> None:
    for step in (1, 2, 3):
        folder = save_checkpoint(
            {"step": step, "w": torch.full((2,), step)}, step=step, directory=tmp_path, keep=2
        )
    assert sorted(p.name for p in folder.iterdir()) == ["manifest.json", "rng-rank0.pt", "state.pt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "checkpoint-0000000002",
        "checkpoint-0000000003",
    ]
    assert not list(tmp_path.rglob(".*")), "temporary files left behind"
    loaded = load_latest_checkpoint(tmp_path)
    assert loaded is not None and loaded.step == 3
    assert torch.equal(loaded.state["w"], torch.full((2,), 3))


def test_incomplete_checkpoint_is_ignored(tmp_path: Path) -> None:
    save_checkpoint({"v": 1}, step=1, directory=tmp_path)
    torn = tmp_path / "checkpoint-0000000002"
    torn.mkdir()
    (torn / "state.pt").write_bytes(b"half a file")
    loaded = load_latest_checkpoint(tmp_path)
    assert loaded is not None and loaded.step == 1
    assert load_latest_checkpoint(tmp_path / "empty") is None


def test_default_directory_is_the_jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SAGESCALE_CHECKPOINT_DIR", raising=False)
    monkeypatch.setenv("SAGEMAKER_BASE_DIR", str(tmp_path))
    folder = save_checkpoint({"v": 1}, step=0)
    assert folder.parent == tmp_path / "checkpoints"


def test_bad_arguments(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="step=-1"):
        save_checkpoint({}, step=-1, directory=tmp_path)
    with pytest.raises(SpecError, match="keep=0"):
        save_checkpoint({}, step=1, directory=tmp_path, keep=0)
    with pytest.raises(SpecError, match="keep='2'") as info:
        save_checkpoint({}, step=1, directory=tmp_path, keep="2")  # type: ignore[arg-type]
    assert info.value.field == "keep"
    with pytest.raises(SpecError, match="must be a mapping") as info:
        save_checkpoint("weights", step=1, directory=tmp_path)  # type: ignore[arg-type]
    assert info.value.field == "state"
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    with pytest.raises(SpecError, match="is a file") as info:
        save_checkpoint({}, step=1, directory=a_file)
    assert info.value.field == "directory"
    assert load_latest_checkpoint(a_file) is None
    assert not any(p.name.startswith("checkpoint-") for p in tmp_path.iterdir())


# -- interrupted and resumed run ---------------------------------------------------------


class Interrupted(Exception):
    pass


def _train(directory: Path, epochs: int, interrupt_after: int | None = None) -> nn.Module:
    """Dropout, a shuffled loader and Adam: all need their state restored to resume."""
    torch.manual_seed(0)
    random.seed(0)
    model = nn.Sequential(nn.Linear(4, 16), nn.Dropout(0.3), nn.ReLU(), nn.Linear(16, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    data = torch.utils.data.TensorDataset(torch.randn(32, 4), torch.randn(32, 1))
    loader = torch.utils.data.DataLoader(data, batch_size=8, shuffle=True)
    start = 0
    loaded = load_latest_checkpoint(directory)
    if loaded is not None:
        model.load_state_dict(loaded.state["model"])
        opt.load_state_dict(loaded.state["optimizer"])
        start = loaded.state["epoch"] + 1
    for epoch in range(start, epochs):
        for x, y in loader:
            opt.zero_grad()
            F.mse_loss(model(x) + random.random() * 0, y).backward()  # type: ignore[no-untyped-call]
            opt.step()
        state = {"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": epoch}
        save_checkpoint(state, step=epoch, directory=directory)
        if interrupt_after is not None and epoch == interrupt_after:
            raise Interrupted
    return model


def test_resumed_run_ends_with_the_same_weights(tmp_path: Path) -> None:
    uninterrupted = _train(tmp_path / "a", epochs=4)
    with pytest.raises(Interrupted):
        _train(tmp_path / "b", epochs=4, interrupt_after=1)
    torch.manual_seed(1234)  # a new process would start from other generator states
    resumed = _train(tmp_path / "b", epochs=4)
    for (name, a), (_, b) in zip(
        uninterrupted.state_dict().items(), resumed.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name


# -- incremental training ------------------------------------------------------------------


def test_model_from_channel_file_and_archive(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = nn.Linear(2, 2).state_dict()
    plain = tmp_path / "plain"
    plain.mkdir()
    torch.save(state, plain / "model.pt")
    monkeypatch.setenv("SM_CHANNELS", '["model"]')
    monkeypatch.setenv("SM_CHANNEL_MODEL", str(plain))
    loaded = load_model_from_channel()
    assert torch.equal(loaded["weight"], state["weight"])

    packed = tmp_path / "packed"
    packed.mkdir()
    with tarfile.open(packed / "model.tar.gz", "w:gz") as tar:
        tar.add(plain / "model.pt", arcname="model.pt")
    monkeypatch.setenv("SM_CHANNEL_MODEL", str(packed))
    loaded = load_model_from_channel("model", "model.pt")
    assert torch.equal(loaded["bias"], state["bias"])
    with pytest.raises(SpecError, match=r"filename='missing\.pt'"):
        load_model_from_channel("model", "missing.pt")
    with pytest.raises(SpecError, match="channel 'pretrained'"):
        load_model_from_channel("pretrained")


def test_model_from_an_archive_leaves_no_unpacked_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The archive is unpacked into a temporary folder that is removed after loading, and
    after a failed search (was: one full copy of the model left in /tmp per call)."""
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    channel = tmp_path / "channel"
    channel.mkdir()
    torch.save(nn.Linear(2, 2).state_dict(), tmp_path / "model.pt")
    with tarfile.open(channel / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / "model.pt", arcname="model.pt")
    monkeypatch.setenv("SM_CHANNELS", '["model"]')
    monkeypatch.setenv("SM_CHANNEL_MODEL", str(channel))
    for _ in range(2):
        assert set(load_model_from_channel()) == {"weight", "bias"}
    with pytest.raises(SpecError, match="missing"):
        load_model_from_channel(filename="missing.pt")
    assert list(scratch.iterdir()) == []


def test_an_unsafe_model_archive_is_a_spec_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    channel = tmp_path / "evil"
    channel.mkdir()
    with tarfile.open(channel / "model.tar.gz", "w:gz") as tar:
        member = tarfile.TarInfo("../../escaped.pt")
        member.size = 1
        tar.addfile(member, io.BytesIO(b"x"))
    monkeypatch.setenv("SM_CHANNELS", '["model"]')
    monkeypatch.setenv("SM_CHANNEL_MODEL", str(channel))
    with pytest.raises(SpecError, match="unsafe member") as info:
        load_model_from_channel()
    assert info.value.field == "model"
    assert not list(tmp_path.rglob("escaped.pt"))
