"""Every example runs end to end on the local backend with its quick settings."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
pytestmark = pytest.mark.slow


@pytest.fixture
def example(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """Import an example module from examples/ with cwd and the workspace in tmp_path."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("SAGESCALE_WORKSPACE", str(tmp_path / "ws"))
    monkeypatch.syspath_prepend(str(EXAMPLES))
    loaded: list[str] = []

    def load(name: str) -> ModuleType:
        loaded.append(name)
        return importlib.import_module(name)

    yield load  # type: ignore[misc]
    for name in [*loaded, "_common"]:
        sys.modules.pop(name, None)


def _args(tmp_path: Path) -> list[str]:
    return ["--quick", "--workspace", str(tmp_path / "ws")]


def test_data_parallel(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = example("data_parallel").main(_args(tmp_path))
    assert run.status == "Completed"
    assert run.final_metrics["test:loss"] > 0
    assert run.model_artifact.endswith("model.tar.gz")


def test_model_parallel(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = example("model_parallel").main(_args(tmp_path))
    assert run.status == "Completed", run.logs()[-2000:]
    mp = run.describe().hyperparameters["mp_parameters"]
    assert '"partitions": 2' in mp and '"microbatches": 4' in mp


def test_spot_checkpointing(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    run = example("spot_checkpointing").main(_args(tmp_path))
    desc = run.describe()
    assert desc.status.value == "Completed"
    statuses = [t.status for t in desc.transitions]
    assert "Interrupted" in statuses and "Restarting" in statuses
    steps = [p.step for p in run.metric_points(["train_loss"])]
    assert max(steps) == 5  # the last epoch ran, after resuming


def test_incremental_training(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    runs = example("incremental_training").main(_args(tmp_path))
    assert runs["incremental"].status == "Completed"
    assert runs["stopped"].status == "Stopped"
    assert runs["resumed"].status == "Completed"
    first_resumed_step = min(p.step for p in runs["resumed"].metric_points(["train_loss"]))
    assert first_resumed_step > 0  # it did not start over


def test_experiments_weather(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    frame = example("experiments_weather").main(_args(tmp_path))
    assert sorted(frame["max_depth"].astype(int)) == [2, 5]
    assert frame["test:accuracy - Max"].between(0.5, 1.0).all()
    assert frame["test:log_loss - Last"].notna().all()  # logged by Tracker.load() in the job


def test_hpo_xgboost(example, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    tuners = example("hpo_xgboost").main(_args(tmp_path))
    parent = tuners["parent"].analytics().dataframe()
    assert len(parent) == 4
    assert {"eta", "min_child_weight", "alpha", "max_depth"} <= set(parent.columns)
    child = tuners["child"]
    assert child.spec.warm_start_config.parents == [tuners["parent"].latest_tuning_job]
    assert len(child.analytics().dataframe()) == 2


def test_quickstart(example, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    out, ws = tmp_path / "out", tmp_path / "quickstart-ws"  # not $SAGESCALE_WORKSPACE
    frame = example("quickstart").main(
        ["--max-jobs", "2", "--epochs", "2", "--out", str(out), "--workspace", str(ws)]
    )
    assert len(frame) == 2
    assert ": 2 trial components tracked" in capsys.readouterr().out  # printed 0
    assert frame["FinalObjectiveValue"].notna().all()
    for name in ("objective.png", "parallel.png", "curves.png", "report.html"):
        assert (out / name).stat().st_size > 0
