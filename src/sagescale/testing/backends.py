"""Conformance suite for :class:`sagescale.backends.Backend` implementations.

Usage (see ``tests/backends/local/test_conformance.py``)::

    from sagescale.testing.backends import BackendCase, BackendConformance

    @pytest.fixture
    def backend_case(tmp_path) -> BackendCase:
        return BackendCase(MyBackend(...), scripts=write_scripts(tmp_path / "src"))

    class TestMyBackend(BackendConformance):
        pass

A :class:`BackendCase` names what a backend under test cannot do (``lacks``): a backend on
a fake service that never runs the training script lacks :data:`LACKS_EXECUTION`; those
checks are skipped with the reason instead of weakened. Every test uses fresh job names.
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sagescale.backends import TERMINAL_STATUSES, Backend, JobStatus
from sagescale.errors import BackendError, JobFailedError, NotFoundError, SpecError
from sagescale.specs import TrainingJob

__all__ = [
    "LACKS_EXECUTION",
    "LACKS_STOP_RUNNING",
    "SCRIPTS",
    "BackendCase",
    "BackendConformance",
    "write_scripts",
]

LACKS_EXECUTION = "running the training script (logs, metrics, exit codes)"
LACKS_STOP_RUNNING = "stopping a job while its script runs"

#: Scripts every backend under test can run (stdlib only).
SCRIPTS = {
    "train.py": """\
import argparse
import os

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=2)
args, _ = parser.parse_known_args()
for epoch in range(args.epochs):
    print(f"epoch={epoch} loss={1.0 / (epoch + 1)}", flush=True)
model_dir = os.environ.get("SM_MODEL_DIR", ".")
with open(os.path.join(model_dir, "model.txt"), "w") as fh:
    fh.write("weights")
""",
    "fail.py": """\
import sys

print("about to fail", flush=True)
print("ValueError: the data is bad", file=sys.stderr, flush=True)
sys.exit(3)
""",
    "sleep.py": """\
import time

print("sleeping", flush=True)
time.sleep(120)
""",
}

LOSS_DEFINITION = {"name": "loss", "regex": r"loss=([0-9.eE+-]+)"}


def write_scripts(directory: Path) -> Path:
    """Write :data:`SCRIPTS` into ``directory`` (created) and return it."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in SCRIPTS.items():
        (directory / name).write_text(text)
    return directory


@dataclass
class BackendCase:
    """A backend under test, the folder holding :data:`SCRIPTS`, and what it lacks."""

    backend: Backend
    scripts: Path
    lacks: frozenset[str] = field(default_factory=frozenset)
    job_options: dict[str, Any] = field(default_factory=dict)
    wait_timeout: float = 120.0

    def need(self, feature: str) -> None:
        if feature in self.lacks:
            pytest.skip(f"{self.backend.name} backend under test lacks {feature}")

    def job(self, script: str = "train.py", **options: Any) -> TrainingJob:
        values: dict[str, Any] = {
            "entry_point": script,
            "source_dir": str(self.scripts),
            "metric_definitions": [LOSS_DEFINITION],
            "max_run_seconds": 600,
            **self.job_options,
            **options,
        }
        return TrainingJob(**values)

    def name(self) -> str:
        return f"conf-{uuid.uuid4().hex[:12]}"

    def wait(self, job_name: str, **options: Any) -> Any:
        return self.backend.wait(job_name, timeout=self.wait_timeout, **options)


class BackendConformance:
    """The contract of :class:`~sagescale.backends.Backend`; needs a ``backend_case`` fixture."""

    # -- submit / describe ----------------------------------------------------------------------
    def test_submit_returns_the_name_and_describe_knows_the_job(
        self, backend_case: BackendCase
    ) -> None:
        name = backend_case.name()
        job = backend_case.job(hyperparameters={"epochs": 2})
        assert backend_case.backend.submit(job, job_name=name) == name
        desc = backend_case.backend.describe(name)
        assert desc.job_name == name
        assert desc.backend == backend_case.backend.name
        assert isinstance(desc.status, JobStatus)
        assert desc.creation_time.tzinfo is not None
        assert desc.spec is not None and desc.spec.entry_point == "train.py"
        assert desc.hyperparameters["epochs"] == "2"
        backend_case.wait(name)

    def test_generated_names_are_unique_across_threads(self, backend_case: BackendCase) -> None:
        job = backend_case.job(base_job_name="conf-threads")
        names: list[str] = []
        errors: list[BaseException] = []

        def submit() -> None:
            try:
                names.append(backend_case.backend.submit(job))
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)

        threads = [threading.Thread(target=submit) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors
        assert len(set(names)) == 3
        assert all(n.startswith("conf-threads-") for n in names)
        for name in names:
            backend_case.wait(name)

    def test_hyperparameter_overrides_win(self, backend_case: BackendCase) -> None:
        name = backend_case.name()
        job = backend_case.job(hyperparameters={"epochs": 5})
        backend_case.backend.submit(
            job, job_name=name, hyperparameters={"epochs": 1}, tuning_job_name="conf-tuning"
        )
        desc = backend_case.wait(name)
        assert desc.hyperparameters["epochs"] == "1"
        assert desc.tuning_job_name == "conf-tuning"

    # -- bad input -----------------------------------------------------------------------------
    def test_bad_job_name_is_a_spec_error(self, backend_case: BackendCase) -> None:
        with pytest.raises(SpecError):
            backend_case.backend.submit(backend_case.job(), job_name="not a valid name!")

    def test_a_job_name_is_used_once(self, backend_case: BackendCase) -> None:
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job(), job_name=name)
        with pytest.raises(SpecError):
            backend_case.backend.submit(backend_case.job(), job_name=name)
        backend_case.wait(name)

    @pytest.mark.parametrize(
        ("arguments", "field"),
        [
            ({"job_name": 123}, "job_name"),
            ({"hyperparameters": [("epochs", 1)]}, "hyperparameters"),
            ({"hyperparameters": {"epochs": None}}, "hyperparameters.epochs"),
            ({"hyperparameters": {"": 1}}, "hyperparameters"),
            ({"hyperparameters": {"big": "v" * 2501}}, "hyperparameters.big"),
            ({"experiment_config": "my-experiment"}, "experiment_config"),
            (
                {"experiment_config": {"ExperimentName": "not valid!"}},
                "experiment_config.ExperimentName",
            ),
            ({"tuning_job_name": 5}, "tuning_job_name"),
        ],
    )
    def test_bad_submit_arguments_are_spec_errors_and_start_nothing(
        self, backend_case: BackendCase, arguments: dict[str, Any], field: str
    ) -> None:
        backend = backend_case.backend
        name = backend_case.name()
        with pytest.raises(SpecError) as info:
            backend.submit(backend_case.job(), **{"job_name": name, **arguments})
        assert info.value.field == field, str(info.value)
        assert field.rsplit(".", 1)[-1] in str(info.value)
        with pytest.raises(SpecError) as info:
            backend.submit("train.py", job_name=name)  # type: ignore[arg-type]
        assert info.value.field == "job"
        with pytest.raises(NotFoundError):
            backend.describe(name)

    @pytest.mark.parametrize(
        ("arguments", "field"),
        [
            ({"max_results": "ten"}, "max_results"),
            ({"max_results": 0}, "max_results"),
            ({"created_after": "yesterday"}, "created_after"),
            ({"created_before": 1700000000}, "created_before"),
            ({"name_contains": 5}, "name_contains"),
        ],
    )
    def test_bad_list_filters_are_spec_errors(
        self, backend_case: BackendCase, arguments: dict[str, Any], field: str
    ) -> None:
        with pytest.raises(SpecError) as info:
            backend_case.backend.list_jobs(**arguments)
        assert info.value.field == field

    @pytest.mark.parametrize("timeout", ["60", -1, float("nan")])
    def test_bad_wait_timeout_is_a_spec_error(
        self, backend_case: BackendCase, timeout: object
    ) -> None:
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job(), job_name=name)
        with pytest.raises(SpecError) as info:
            backend_case.backend.wait(name, timeout=timeout)  # type: ignore[arg-type]
        assert info.value.field == "timeout"
        backend_case.wait(name)

    def test_download_into_a_file_is_a_spec_error(
        self, backend_case: BackendCase, tmp_path: Path
    ) -> None:
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job(), job_name=name)
        backend_case.wait(name)
        a_file = tmp_path / "model.tar.gz"
        a_file.write_text("not a folder")
        with pytest.raises(SpecError) as info:
            backend_case.backend.download_model(name, a_file)
        assert info.value.field == "destination"
        assert a_file.read_text() == "not a folder"

    def test_unknown_job_names_raise_not_found(self, backend_case: BackendCase) -> None:
        backend = backend_case.backend
        missing = backend_case.name()
        for call in (backend.describe, backend.logs, backend.metrics, backend.stop):
            with pytest.raises(NotFoundError):
                call(missing)

    # -- terminal states -------------------------------------------------------------------------
    def test_a_terminal_job_never_changes(self, backend_case: BackendCase) -> None:
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job(), job_name=name)
        first = backend_case.wait(name)
        assert first.status in TERMINAL_STATUSES and first.done
        backend_case.backend.stop(name)  # a no-op on a finished job
        again = backend_case.backend.describe(name)
        for attr in ("status", "end_time", "failure_reason", "final_metrics", "model_artifacts"):
            assert getattr(again, attr) == getattr(first, attr), attr

    def test_a_completed_job_has_times_metrics_logs_and_a_model(
        self, backend_case: BackendCase, tmp_path: Path
    ) -> None:
        backend_case.need(LACKS_EXECUTION)
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job(hyperparameters={"epochs": 3}), job_name=name)
        desc = backend_case.wait(name, raise_on_failure=True)
        assert desc.status is JobStatus.COMPLETED
        assert desc.start_time is not None and desc.end_time is not None
        assert desc.end_time >= desc.start_time
        assert desc.final_metrics["loss"] == pytest.approx(1 / 3)
        points = backend_case.backend.metrics(name, ["loss"])
        assert [p.value for p in points] == pytest.approx([1.0, 0.5, 1 / 3])
        assert all(p.timestamp > 0 for p in points)
        assert "epoch=2" in backend_case.backend.logs(name)
        model = backend_case.backend.download_model(name, tmp_path / "dl")
        assert model.is_file() and model.name == "model.tar.gz"

    def test_a_failed_job_is_data(self, backend_case: BackendCase, tmp_path: Path) -> None:
        backend_case.need(LACKS_EXECUTION)
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job("fail.py"), job_name=name)
        desc = backend_case.wait(name)
        assert desc.status is JobStatus.FAILED
        assert desc.failure_reason and "the data is bad" in desc.failure_reason
        assert desc.model_artifacts is None
        assert "about to fail" in backend_case.backend.logs(name)
        with pytest.raises(BackendError):
            backend_case.backend.download_model(name, tmp_path / "none")
        with pytest.raises(JobFailedError) as info:
            backend_case.wait(name, raise_on_failure=True)
        assert info.value.job_name == name

    # -- running jobs ----------------------------------------------------------------------------
    def test_wait_times_out_with_a_backend_error(self, backend_case: BackendCase) -> None:
        backend_case.need(LACKS_STOP_RUNNING)
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job("sleep.py"), job_name=name)
        try:
            with pytest.raises(BackendError):
                backend_case.backend.wait(name, timeout=0.05)
        finally:
            backend_case.backend.stop(name)
        backend_case.wait(name)

    def test_stop_returns_at_once_and_the_job_ends_stopped(self, backend_case: BackendCase) -> None:
        backend_case.need(LACKS_STOP_RUNNING)
        name = backend_case.name()
        backend_case.backend.submit(backend_case.job("sleep.py"), job_name=name)
        _wait_for_log(backend_case, name, "sleeping")
        backend_case.backend.stop(name)
        assert backend_case.backend.describe(name).status in (
            JobStatus.STOPPING,
            JobStatus.STOPPED,
        )
        desc = backend_case.wait(name)
        assert desc.status is JobStatus.STOPPED
        backend_case.backend.stop(name)
        assert backend_case.backend.describe(name).status is JobStatus.STOPPED

    # -- list ------------------------------------------------------------------------------------
    def test_list_jobs_newest_first_with_filters(self, backend_case: BackendCase) -> None:
        tag = uuid.uuid4().hex[:8]
        before = datetime.now(timezone.utc) - timedelta(seconds=1)
        first = backend_case.backend.submit(backend_case.job(), job_name=f"a-{tag}-1")
        time.sleep(0.01)
        second = backend_case.backend.submit(backend_case.job(), job_name=f"a-{tag}-2")
        for name in (first, second):
            backend_case.wait(name)
        listed = [d.job_name for d in backend_case.backend.list_jobs(name_contains=tag)]
        assert listed == [second, first]
        assert backend_case.backend.list_jobs(name_contains=tag, max_results=1)[0].job_name == (
            second
        )
        after = backend_case.backend.list_jobs(name_contains=tag, created_after=before)
        assert len(after) == 2
        assert backend_case.backend.list_jobs(name_contains=tag, created_before=before) == []
        later = datetime.now(timezone.utc) + timedelta(hours=1)
        assert backend_case.backend.list_jobs(name_contains=tag, created_after=later) == []
        earlier = backend_case.backend.list_jobs(name_contains=tag, created_before=later)
        assert [d.job_name for d in earlier] == [second, first]
        status = backend_case.backend.describe(first).status
        same = backend_case.backend.list_jobs(name_contains=tag, status=status)
        assert first in [d.job_name for d in same]
        with pytest.raises(SpecError):
            backend_case.backend.list_jobs(status="Sleeping")


def _wait_for_log(case: BackendCase, name: str, text: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while text not in case.backend.logs(name):
        if time.monotonic() > deadline:
            raise AssertionError(f"{text!r} never appeared in the logs of {name}")
        time.sleep(0.05)
