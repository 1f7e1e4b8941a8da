"""Real in-process fakes: a backend that runs Python functions in threads as training jobs,
and a tuning service that returns canned SageMaker-shaped results."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sagescale.backends import Backend, JobDescription, JobStatus, MetricPoint
from sagescale.errors import NotFoundError
from sagescale.specs import ExperimentConfig, TrainingJob, TuningJob
from sagescale.tuning import TrainingJobSummary, TuningJobDescription, TuningService


class JobContext:
    """What a fake training function sees: its hyperparameters, a metric logger, stop flag."""

    def __init__(self, hps: dict[str, Any]) -> None:
        self.hps = hps
        self.points: list[MetricPoint] = []
        self.stop_event = threading.Event()
        self.gate = threading.Event()
        self.gate.set()

    def log(self, name: str, value: float) -> None:
        self.points.append(MetricPoint(name, float(value), 0.0, len(self.points)))

    @property
    def stopped(self) -> bool:
        return self.stop_event.is_set()


Function = Callable[[JobContext], None]


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ThreadBackend(Backend):
    """Each training job runs ``functions[job.entry_point](ctx)`` in a thread."""

    name = "fake"

    def __init__(self, functions: Mapping[str, Function]) -> None:
        self.functions = dict(functions)
        self.jobs: dict[str, JobDescription] = {}
        self.contexts: dict[str, JobContext] = {}
        self.submitted: list[str] = []
        self.lock = threading.Lock()
        self.running = 0
        self.max_running = 0

    def submit(
        self,
        job: TrainingJob,
        *,
        job_name: str | None = None,
        hyperparameters: Mapping[str, str | int | float | bool] | None = None,
        experiment_config: ExperimentConfig | None = None,
        tuning_job_name: str | None = None,
    ) -> str:
        assert job_name is not None and job_name not in self.jobs
        hps = {**job.hyperparameters, **dict(hyperparameters or {})}
        ctx = JobContext(hps)
        desc = JobDescription(
            job_name=job_name,
            backend=self.name,
            status=JobStatus.IN_PROGRESS,
            secondary_status="Training",
            creation_time=_now(),
            spec=job,
            hyperparameters={k: str(v) for k, v in hps.items()},
            start_time=_now(),
            tuning_job_name=tuning_job_name,
        )
        with self.lock:
            self.jobs[job_name] = desc
            self.contexts[job_name] = ctx
            self.submitted.append(job_name)
        function = self.functions[job.entry_point or ""]
        threading.Thread(target=self._run, args=(desc, ctx, function), daemon=True).start()
        return job_name

    def _run(self, desc: JobDescription, ctx: JobContext, function: Function) -> None:
        reason: str | None
        with self.lock:
            self.running += 1
            self.max_running = max(self.max_running, self.running)
        try:
            function(ctx)
        except Exception as exc:
            status = JobStatus.FAILED
            reason = f"{type(exc).__name__}: {exc}"
        else:
            status = JobStatus.STOPPED if ctx.stopped else JobStatus.COMPLETED
            reason = None
        with self.lock:
            self.running -= 1
            desc.failure_reason = reason
            desc.end_time = _now()
            desc.status = status

    def _get(self, job_name: str) -> JobDescription:
        with self.lock:
            if job_name not in self.jobs:
                raise NotFoundError(job_name)
            return self.jobs[job_name]

    def describe(self, job_name: str) -> JobDescription:
        return self._get(job_name)

    def wait(
        self,
        job_name: str,
        *,
        timeout: float | None = None,
        raise_on_failure: bool = False,
        logs: bool = False,
    ) -> JobDescription:
        raise NotImplementedError

    def stop(self, job_name: str) -> None:
        self._get(job_name)
        self.contexts[job_name].stop_event.set()

    def list_jobs(self, **kwargs: Any) -> list[JobDescription]:
        return list(self.jobs.values())

    def logs(self, job_name: str) -> str:
        return ""

    def metrics(self, job_name: str, names: Sequence[str] | None = None) -> list[MetricPoint]:
        self._get(job_name)
        points = list(self.contexts[job_name].points)
        return [p for p in points if names is None or p.name in names]

    def download_model(self, job_name: str, destination: str | Path) -> Path:
        raise NotImplementedError


class FakeAmt(ThreadBackend, TuningService):
    """A backend that runs whole tuning jobs itself, like SageMaker AMT (canned results)."""

    name = "sagemaker"

    def __init__(self, results: Sequence[TrainingJobSummary]) -> None:
        super().__init__({})
        self.results = list(results)
        self.created: dict[str, TuningJob] = {}
        self.stopped: list[str] = []

    def create_tuning_job(
        self, spec: TuningJob, name: str, *, inputs: Mapping[str, str] | None = None
    ) -> None:
        self.created[name] = spec

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        if name not in self.created:
            raise NotFoundError(name)
        return TuningJobDescription(
            name=name,
            spec=self.created[name],
            backend="sagemaker",
            status="Completed",
            creation_time=_now(),
            end_time=_now(),
            best_training_job=self.results[0].job_name,
        )

    def list_training_jobs_for_tuning_job(self, name: str) -> list[TrainingJobSummary]:
        return list(self.results)

    def stop_tuning_job(self, name: str) -> None:
        self.stopped.append(name)

    def metrics(self, job_name: str, names: Sequence[str] | None = None) -> list[MetricPoint]:
        return [MetricPoint("acc", v, 0.0, i) for i, v in enumerate((0.1, 0.5))]
