"""The local search loop: start training jobs on a backend, read their objective, decide.

Rules (documented in docs/tuning.md):

- At most ``max_parallel_jobs`` training jobs run at once; at most ``max_jobs`` start.
- A training job's objective curve is read from ``Backend.metrics`` (metric definitions and
  the runtime's structured records); its final objective is the last value reported.
- A job that fails, or completes without reporting the objective (or with a NaN final
  objective), is recorded and the search goes on; the tuning job fails once
  :func:`max_failed_jobs` jobs failed.
- Every step is written to the workspace before it happens, so a tuning job whose
  orchestrating process died can be resumed: finished jobs are replayed, never re-run.
"""

from __future__ import annotations

import contextlib
import math
import signal
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import FrameType

from sagescale._imports import optional_import
from sagescale.backends import Backend, JobDescription, MetricPoint
from sagescale.errors import BackendError, NotFoundError, SpecError, TuningError
from sagescale.specs import MetricDefinition, TrainingJob, TuningJob
from sagescale.tuning._criteria import completion_reason
from sagescale.tuning._search import Searcher, Suggestion
from sagescale.tuning._service import TrainingJobSummary, TuningJobDescription
from sagescale.tuning._store import TuningStore
from sagescale.tuning._track import track_tuning_job
from sagescale.tuning._warm import apply_warm_start

__all__ = [
    "EPOCHS_HYPERPARAMETER",
    "TuningRunner",
    "check_runnable",
    "curve_from_points",
    "max_failed_jobs",
]

EPOCHS_HYPERPARAMETER = "epochs"
MAX_JOBS_REACHED = "MaxNumberOfTrainingJobsReached"
MAX_RUNTIME_REACHED = "MaxRuntimeInSecondsReached"
GRID_EXHAUSTED = "AllGridCombinationsTried"


def max_failed_jobs(max_jobs: int) -> int:
    """Failed training jobs after which the tuning job fails: ``max(3, max_jobs // 2)``."""
    return max(3, max_jobs // 2)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def check_runnable(spec: TuningJob) -> None:
    """What the local search loop needs, checked before a tuning job is recorded: the torch
    extra for ``Bayesian`` (:class:`MissingExtraError`), and for ``Hyperband`` a maximum
    number of epochs for every definition (:class:`SpecError`)."""
    if spec.strategy == "Bayesian":
        optional_import("torch", purpose="strategy Bayesian (Gaussian-process sampler)")
        optional_import("scipy", purpose="strategy Bayesian (Gaussian-process sampler)")
    if spec.strategy != "Hyperband" or spec.hyperband is not None:
        return
    for definition, algorithm in spec.definitions().items():
        value = algorithm.training_job.hyperparameters.get(EPOCHS_HYPERPARAMETER)
        try:
            int(value)  # type: ignore[arg-type]
        except (ValueError, TypeError):
            where = "the training job" if definition is None else f"definition {definition!r}"
            raise SpecError(
                f"strategy Hyperband needs hyperband.max_resource, or an integer 'epochs' "
                f"hyperparameter in {where} (it has epochs={value!r})",
                field="hyperband.max_resource",
                value=value,
            ) from None


def curve_from_points(points: Sequence[MetricPoint]) -> dict[int, float]:
    """Epoch (1-based) → value. Points with a ``step`` are ordered and de-duplicated by it;
    without steps, the n-th point is epoch n."""
    stepped = [p for p in points if p.step is not None]
    if stepped:
        by_step = {int(p.step): p.value for p in stepped if p.step is not None}
        return {i + 1: by_step[s] for i, s in enumerate(sorted(by_step))}
    return {i + 1: p.value for i, p in enumerate(points)}


@contextlib.contextmanager
def _sigint_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) in the main thread waits until the block ends, then raises
    :class:`KeyboardInterrupt`: a training job is recorded and submitted, or neither."""
    if (
        threading.current_thread() is not threading.main_thread()
        or signal.getsignal(signal.SIGINT) is not signal.default_int_handler
    ):
        yield
        return
    received: list[int] = []

    def defer(signum: int, frame: FrameType | None) -> None:
        received.append(signum)

    signal.signal(signal.SIGINT, defer)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    if received:
        raise KeyboardInterrupt


def _merged_metrics(
    job: TrainingJob, extra: Sequence[MetricDefinition] | None
) -> list[MetricDefinition]:
    merged = {m.name: m for m in job.metric_definitions}
    merged.update({m.name: m for m in extra or []})
    return list(merged.values())


@dataclass
class _Running:
    suggestion: Suggestion
    summary: TrainingJobSummary


@dataclass
class TuningRunner:
    """Runs (or resumes) one local tuning job to its end."""

    spec: TuningJob
    name: str
    backend: Backend
    store: TuningStore
    inputs: dict[str, str] = field(default_factory=dict)
    poll_interval: float = 0.2
    on_job_end: Callable[[TrainingJobSummary], None] | None = None
    _stop: threading.Event = field(default_factory=threading.Event)
    _detach: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self.searcher = Searcher(self.spec)
        self.maximize = self.spec.objective_type == "Maximize"
        self.jobs: list[TrainingJobSummary] = []
        self.running: dict[str, _Running] = {}
        self.finished: list[float] = []
        self.failed = 0
        self.unsubmitted: list[_Running] = []  # recorded, never submitted (resume submits them)
        self._ending = False  # stopping every running job: none of them is early-stopped

    # ---- public ------------------------------------------------------------------------
    def request_stop(self) -> None:
        self._stop.set()

    def request_detach(self) -> None:
        """End the loop at its next safe point (never within a submit) and leave the tuning
        job ``InProgress``, its running training jobs going on (Ctrl-C of ``sagescale tune``)."""
        self._detach.set()

    def run(self) -> TuningJobDescription:
        """Replay what the workspace holds, then search until the tuning job ends."""
        desc = self.store.get(self.name)
        self._created = desc.creation_time
        apply_warm_start(self.spec, self.searcher, self.store)
        self._replay()
        self.searcher.resumed()
        ended = [j.job_name for j in self.jobs if j.end_time is not None]
        if ended:  # idempotent: a job whose process died before tracking it is tracked now
            track_tuning_job(self.store.workspace.root, self.name, ended, backend=self.backend)
        try:
            reason = self._loop()
        except TuningError as exc:
            return self._fail(desc, str(exc))
        if reason is None:  # detached: the tuning job goes on, resume() continues it
            return self.store.get(self.name)
        return self._finish(desc, reason)

    # ---- replay (resume) ---------------------------------------------------------------
    def _replay(self) -> None:
        recorded = self.store.jobs(self.name)
        for summary in recorded:
            self.jobs.append(summary)
            if summary.status == "InProgress" or summary.status == "Stopping":
                self._reattach(summary)
            else:
                self._replay_finished(summary)
        done = [j for j in recorded if j.end_time is not None and j.objective_status == "Succeeded"]
        done.sort(key=lambda j: j.end_time or _now())
        self.finished = [j.final_objective for j in done if j.final_objective is not None]

    def _replay_finished(self, summary: TrainingJobSummary) -> None:
        value = summary.final_objective if summary.objective_status == "Succeeded" else None
        if value is None:
            self.failed += 1
        self.searcher.add_finished(
            summary.definition_name, summary.hyperparameters, value, summary.curve
        )

    def _reattach(self, summary: TrainingJobSummary) -> None:
        try:
            self.backend.describe(summary.job_name)
        except NotFoundError:
            # recorded, then the orchestrator died before submitting it: it is submitted now
            # under its recorded name and values (a grid combination is not used up)
            suggestion = self.searcher.ask_fixed(summary.definition_name, summary.hyperparameters)
            self.unsubmitted.append(_Running(suggestion, summary))
            return
        suggestion = self.searcher.ask_fixed(summary.definition_name, summary.hyperparameters)
        if summary.curve:
            self.searcher.report(suggestion, summary.curve)
        self.running[summary.job_name] = _Running(suggestion, summary)

    # ---- the loop ----------------------------------------------------------------------
    def _loop(self) -> str | None:
        max_jobs = self.spec.effective_max_jobs()
        while True:
            if self._detach.is_set():
                return None
            if self._stop.is_set() or self._stop_requested_elsewhere():
                self._stop_all(early=False)
                return "Stopped"
            reason = (
                completion_reason(
                    self.spec.completion_criteria, self.finished, maximize=self.maximize
                )
                or self._out_of_time()
            )
            if reason is not None:
                self._stop_all(early=False)
                return reason
            if self.failed >= max_failed_jobs(max_jobs):
                self._stop_all(early=False)
                raise TuningError(
                    f"tuning job {self.name}: {self.failed} training jobs failed "
                    f"(the limit is {max_failed_jobs(max_jobs)})"
                )
            self._fill(max_jobs)
            if self._detach.is_set():
                return None
            if not self.running:
                return GRID_EXHAUSTED if self.searcher.exhausted() else MAX_JOBS_REACHED
            self._poll_all()
            if self.running:
                self._stop.wait(self.poll_interval)

    def _out_of_time(self) -> str | None:
        limit = self.spec.max_runtime_seconds
        if limit is not None and (_now() - self._created).total_seconds() > limit:
            return MAX_RUNTIME_REACHED
        return None

    def _stop_requested_elsewhere(self) -> bool:
        return self.store.get(self.name).status == "Stopping"

    def _fill(self, max_jobs: int) -> None:
        while self.unsubmitted and len(self.running) < self.spec.max_parallel_jobs:
            if self._detach.is_set():
                return
            item = self.unsubmitted.pop(0)
            with _sigint_deferred():
                self._submit(item.suggestion, item.summary)
        while (
            not self.unsubmitted
            and not self._detach.is_set()
            and len(self.running) < self.spec.max_parallel_jobs
            and len(self.jobs) < max_jobs
            and self.failed < max_failed_jobs(max_jobs)  # jobs rejected at submit count too
        ):
            suggestion = self.searcher.ask()
            if suggestion is None:
                return
            with _sigint_deferred():
                self._launch(suggestion)

    def _training_job(self, definition: str | None) -> tuple[TrainingJob, dict[str, object]]:
        algorithm = self.spec.definitions()[definition]
        extra = algorithm.metric_definitions or self.spec.metric_definitions
        job = algorithm.training_job
        job = job.model_copy(update={"metric_definitions": _merged_metrics(job, extra)})
        static: dict[str, object] = {}
        if self.spec.strategy == "Hyperband":
            static[EPOCHS_HYPERPARAMETER] = self._max_resource(job)
        return job, static

    def _max_resource(self, job: TrainingJob) -> int:
        if self.spec.hyperband is not None:
            return self.spec.hyperband.max_resource
        try:
            return int(job.hyperparameters[EPOCHS_HYPERPARAMETER])
        except (KeyError, ValueError, TypeError):
            raise TuningError(
                "strategy Hyperband needs hyperband.max_resource or an integer 'epochs' "
                "hyperparameter in the training job"
            ) from None

    def _launch(self, suggestion: Suggestion) -> None:
        position = len(self.jobs)
        job_name = f"{self.name}-{position + 1:03d}-{uuid.uuid4().hex[:8]}"
        summary = TrainingJobSummary(
            job_name=job_name,
            status="InProgress",
            hyperparameters=dict(suggestion.values),
            definition_name=suggestion.definition,
            start_time=_now(),
            position=position,
        )
        self.jobs.append(summary)
        self.store.save_job(self.name, summary)  # recorded before it exists: resume-safe
        self._submit(suggestion, summary)

    def _submit(self, suggestion: Suggestion, summary: TrainingJobSummary) -> None:
        job_name = summary.job_name
        job, static = self._training_job(suggestion.definition)
        overrides = {**static, **suggestion.values}
        try:
            self.backend.submit(
                job,
                job_name=job_name,
                hyperparameters=overrides,  # type: ignore[arg-type]
                tuning_job_name=self.name,
            )
        except (BackendError, SpecError) as exc:  # this job fails; the search goes on
            self._end(_Running(suggestion, summary), None, failure=str(exc))
            return
        self.running[job_name] = _Running(suggestion, summary)

    def _poll_all(self) -> None:
        for job_name in list(self.running):
            self._poll(self.running[job_name])

    def _objective_name(self, definition: str | None) -> str:
        algorithm = self.spec.definitions()[definition]
        return algorithm.objective_metric_name or self.spec.objective_metric_name

    def _poll(self, item: _Running) -> None:
        summary = item.summary
        desc = self.backend.describe(summary.job_name)
        points = self.backend.metrics(
            summary.job_name, [self._objective_name(summary.definition_name)]
        )
        curve = curve_from_points(points)
        if curve != summary.curve:
            summary.curve = curve
            stop = self.searcher.report(item.suggestion, curve)
            if stop and not desc.done and not summary.early_stopped and not self._ending:
                summary.early_stopped = True
                self.backend.stop(summary.job_name)
            if not desc.done:
                self.store.save_job(self.name, summary)
        if desc.done:
            self._end(item, desc)

    def _end(self, item: _Running, desc: JobDescription | None, failure: str | None = None) -> None:
        summary = item.summary
        self.running.pop(summary.job_name, None)
        summary.end_time = (desc.end_time if desc else None) or _now()
        if desc is not None and desc.start_time is not None:
            summary.start_time = desc.start_time
        summary.status = desc.status.value if desc else "Failed"
        summary.failure_reason = failure or (desc.failure_reason if desc else None)
        value = self._final_objective(summary, desc)
        if value is not None and math.isnan(value):  # a diverged job: no objective value
            value = None
            summary.failure_reason = summary.failure_reason or (
                f"objective metric {self._objective_name(summary.definition_name)!r} "
                "was NaN at the end"
            )
        if value is None:
            self.failed += 1
            summary.objective_status = "Failed"
            if summary.failure_reason is None:
                summary.failure_reason = (
                    f"objective metric {self._objective_name(summary.definition_name)!r} "
                    "was never reported"
                )
        else:
            summary.final_objective = value
            summary.objective_status = "Succeeded"
            self.finished.append(value)
        self.searcher.tell(item.suggestion, value)
        self.store.save_job(self.name, summary)
        if self.on_job_end is not None:
            self.on_job_end(summary)
        track_tuning_job(
            self.store.workspace.root, self.name, [summary.job_name], backend=self.backend
        )

    def _final_objective(
        self, summary: TrainingJobSummary, desc: JobDescription | None
    ) -> float | None:
        if desc is None or desc.status.value == "Failed":
            return None
        if summary.curve:
            return summary.curve[max(summary.curve)]
        return desc.final_metrics.get(self._objective_name(summary.definition_name))

    def _stop_all(self, *, early: bool) -> None:
        # the tuning job is ending (stopped by the user, a criterion, the failure limit): its
        # running jobs end Stopped, but the rule did not stop them, even if a point they
        # report while stopping is one it would have stopped
        self._ending = True
        for item in self.unsubmitted:  # recorded, never submitted: they never start now
            self._end(
                item, None, failure="the training job never started (the tuner stopped first)"
            )
        self.unsubmitted.clear()
        for job_name, item in list(self.running.items()):
            item.summary.early_stopped = item.summary.early_stopped or early
            self.backend.stop(job_name)
        while self.running:
            self._poll_all()
            if self.running:
                time.sleep(self.poll_interval)

    # ---- the end -----------------------------------------------------------------------
    def best(self) -> TrainingJobSummary | None:
        return best_of(self.jobs, maximize=self.maximize)

    def _fail(self, desc: TuningJobDescription, reason: str) -> TuningJobDescription:
        best = self.best()
        desc.end_time = _now()
        desc.best_training_job = best.job_name if best else None
        desc.status = "Failed"
        desc.failure_reason = reason
        self.store.update(desc)
        return desc

    def _finish(self, desc: TuningJobDescription, reason: str) -> TuningJobDescription:
        best = self.best()
        desc.end_time = _now()
        desc.best_training_job = best.job_name if best else None
        if reason == "Stopped":
            desc.status = "Stopped"
        elif best is None:
            desc.status = "Failed"
            desc.failure_reason = "no training job reported the objective metric"
        else:
            desc.status = "Completed"
            desc.completion_reason = reason
        self.store.update(desc)
        return desc


def best_of(jobs: Sequence[TrainingJobSummary], *, maximize: bool) -> TrainingJobSummary | None:
    """The job with the best final objective (ties: the earliest)."""
    scored = [
        j for j in jobs if j.objective_status == "Succeeded" and j.final_objective is not None
    ]
    if not scored:
        return None
    sign = -1.0 if maximize else 1.0
    return min(scored, key=lambda j: (sign * (j.final_objective or 0.0), j.position))
