"""``HyperparameterTuner``: SageMaker's tuner, run locally or handed to SageMaker AMT."""

from __future__ import annotations

import contextlib
import logging
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from sagescale._workspace import Workspace
from sagescale.backends import Backend, get_backend
from sagescale.backends._base import check_timeout, poll_sleep
from sagescale.errors import BackendError, NotFoundError, SpecError, TuningError
from sagescale.specs import (
    CompletionCriteria,
    HyperbandConfig,
    MetricDefinition,
    TrainingJob,
    TuningJob,
    WarmStartConfig,
    check_tuning_job_name,
    unique_name,
)
from sagescale.tuning._analytics import TuningJobAnalytics
from sagescale.tuning._lock import TuningLock
from sagescale.tuning._runner import TuningRunner, best_of, check_runnable, curve_from_points
from sagescale.tuning._service import TrainingJobSummary, TuningJobDescription, TuningService
from sagescale.tuning._store import TuningStore
from sagescale.tuning._warm import check_warm_start

__all__ = ["HyperparameterTuner"]

_log = logging.getLogger("sagescale.tuning")

Inputs = str | Mapping[str, str] | None
MetricDefs = Sequence[MetricDefinition | Mapping[str, str]]
SAGEMAKER_POLL_SECONDS = 30.0


def _mapping(value: object, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SpecError(
            f"{field}={value!r} must be a mapping, not {type(value).__name__}",
            field=field,
            value=value,
        )
    return value


def _metric_defs(value: MetricDefs | None) -> list[MetricDefinition] | None:
    if value is None:
        return None
    if isinstance(value, str | bytes) or not isinstance(value, Sequence):
        raise SpecError(
            f"metric_definitions={value!r} must be a list of MetricDefinition or "
            "{'name': ..., 'regex': ...}",
            field="metric_definitions",
            value=value,
        )
    return [
        m
        if isinstance(m, MetricDefinition)
        else MetricDefinition(**_mapping(m, "metric_definitions"))
        for m in value
    ]


def _inputs(inputs: Inputs) -> dict[str, str]:
    if inputs is None:
        return {}
    if isinstance(inputs, str):
        return {"training": inputs}
    channels = _mapping(inputs, "inputs")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in channels.items()):
        raise SpecError(
            f"inputs={inputs!r} must map channel names to URIs (strings)",
            field="inputs",
            value=inputs,
        )
    return dict(channels)


def _check_name(job_name: str) -> None:
    try:
        check_tuning_job_name(job_name)
    except ValueError as exc:
        message = f"job_name = {job_name!r}: {exc}"
        raise SpecError(message, field="job_name", value=job_name) from None


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _check_keys(
    value: Mapping[str, Any], jobs: Mapping[str, TrainingJob], field: str, *, same: bool
) -> None:
    """As the SageMaker SDK's ``HyperparameterTuner.create``: the ranges and objectives name
    every training job definition, the metric definitions only some; none names another."""
    unknown = sorted(set(value) - set(jobs))
    missing = sorted(set(jobs) - set(value)) if same else []
    problems = [f"names unknown training job definitions {unknown}"] if unknown else []
    problems += [f"has no entry for training job definitions {missing}"] if missing else []
    if problems:
        raise SpecError(
            f"{field} {' and '.join(problems)} (the definitions are {sorted(jobs)})",
            field=field,
            value=sorted(value),
        )


def _multi_definitions(
    jobs: Mapping[str, TrainingJob],
    objective: str | Mapping[str, str],
    ranges: Mapping[str, Any],
    metrics: MetricDefs | Mapping[str, MetricDefs] | None,
) -> dict[str, Any]:
    ranges = _mapping(ranges, "hyperparameter_ranges")
    _check_keys(ranges, jobs, "hyperparameter_ranges", same=True)
    if isinstance(objective, Mapping):
        _check_keys(objective, jobs, "objective_metric_name", same=True)
    if isinstance(metrics, Mapping):
        _check_keys(metrics, jobs, "metric_definitions", same=False)
    out: dict[str, Any] = {}
    for name, job in jobs.items():
        definition: dict[str, Any] = {"training_job": job, "hyperparameter_ranges": ranges[name]}
        if isinstance(objective, Mapping):
            definition["objective_metric_name"] = objective.get(name)
        if isinstance(metrics, Mapping):
            definition["metric_definitions"] = _metric_defs(metrics.get(name))
        out[name] = definition
    return out


def _single_definition(
    job: TrainingJob,
    objective: str | Mapping[str, str],
    ranges: Mapping[str, Any],
    metrics: MetricDefs | Mapping[str, MetricDefs] | None,
) -> dict[str, Any]:
    if not isinstance(objective, str | Mapping):
        raise SpecError(
            f"objective_metric_name={objective!r} must be a metric name (a string)",
            field="objective_metric_name",
            value=objective,
        )
    if not isinstance(objective, str) or isinstance(metrics, Mapping):
        raise SpecError(
            "objective_metric_name and metric_definitions take mappings only with several "
            "training job definitions",
            field="objective_metric_name",
            value=objective,
        )
    return {
        "training_job": job,
        "objective_metric_name": objective,
        "hyperparameter_ranges": dict(_mapping(ranges, "hyperparameter_ranges")),
        "metric_definitions": _metric_defs(metrics),
    }


class HyperparameterTuner:
    """Searches hyperparameters of one training job, or of several (multi-algorithm).

    ``training_job`` is a :class:`TrainingJob` or ``{definition name: TrainingJob}``; for
    several definitions ``hyperparameter_ranges`` is ``{definition name: {name: range}}`` and
    ``objective_metric_name`` / ``metric_definitions`` may be mappings by definition name.
    ``backend`` is ``None`` (``SAGESCALE_BACKEND``, else local), ``"local"``,
    ``"sagemaker"`` or a :class:`~sagescale.backends.Backend`. A backend that is also a
    :class:`TuningService` runs the whole tuning job itself (SageMaker AMT).
    """

    def __init__(
        self,
        training_job: TrainingJob | Mapping[str, TrainingJob],
        *,
        objective_metric_name: str | Mapping[str, str],
        hyperparameter_ranges: Mapping[str, Any],
        metric_definitions: MetricDefs | Mapping[str, MetricDefs] | None = None,
        strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = "Bayesian",
        objective_type: Literal["Maximize", "Minimize"] = "Maximize",
        max_jobs: int | None = None,
        max_parallel_jobs: int = 1,
        max_runtime_seconds: int | None = None,
        early_stopping_type: Literal["Off", "Auto"] = "Off",
        warm_start_config: WarmStartConfig | None = None,
        completion_criteria: CompletionCriteria | None = None,
        hyperband: HyperbandConfig | None = None,
        random_seed: int | None = None,
        base_tuning_job_name: str | None = None,
        tags: Mapping[str, str] | None = None,
        backend: str | Backend | None = None,
        workspace: str | os.PathLike[str] | None = None,
    ) -> None:
        fields: dict[str, Any] = {
            "objective_type": objective_type,
            "strategy": strategy,
            "max_jobs": max_jobs,
            "max_parallel_jobs": max_parallel_jobs,
            "max_runtime_seconds": max_runtime_seconds,
            "early_stopping_type": early_stopping_type,
            "warm_start_config": warm_start_config,
            "completion_criteria": completion_criteria,
            "hyperband": hyperband,
            "random_seed": random_seed,
            "base_tuning_job_name": base_tuning_job_name,
            "tags": dict(_mapping(tags or {}, "tags")),
        }
        if isinstance(training_job, Mapping):
            fields["training_jobs"] = _multi_definitions(
                training_job, objective_metric_name, hyperparameter_ranges, metric_definitions
            )
            fields["objective_metric_name"] = (
                next(iter(objective_metric_name.values()), "")
                if isinstance(objective_metric_name, Mapping)
                else objective_metric_name
            )
        else:
            fields.update(
                _single_definition(
                    training_job, objective_metric_name, hyperparameter_ranges, metric_definitions
                )
            )
        spec = TuningJob(**{k: v for k, v in fields.items() if v is not None})
        self._init(spec, backend=backend, workspace=workspace)

    def _init(
        self,
        spec: TuningJob,
        *,
        backend: str | Backend | None,
        workspace: str | os.PathLike[str] | None,
    ) -> None:
        self.spec = spec
        self._backend_arg = backend
        self._backend: Backend | None = None
        self.workspace = Workspace.open(workspace)
        self._workspace_arg = workspace
        self.store = TuningStore(self.workspace)
        self.latest_tuning_job: str | None = None
        self._runner: TuningRunner | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        #: seconds between status checks of local training jobs
        self.poll_interval = 0.2
        #: seconds between ``describe_tuning_job`` calls on a remote tuning service
        self.service_poll_interval = SAGEMAKER_POLL_SECONDS

    @classmethod
    def from_spec(
        cls,
        spec: TuningJob,
        *,
        backend: str | Backend | None = None,
        workspace: str | os.PathLike[str] | None = None,
    ) -> HyperparameterTuner:
        """A tuner for a validated :class:`TuningJob` (e.g. loaded from YAML)."""
        tuner = cls.__new__(cls)
        tuner._init(spec, backend=backend, workspace=workspace)
        return tuner

    @classmethod
    def attach(
        cls,
        name: str,
        *,
        backend: str | Backend | None = None,
        workspace: str | os.PathLike[str] | None = None,
    ) -> HyperparameterTuner:
        """The tuner of tuning job ``name`` recorded in the workspace.

        With a backend that runs tuning jobs itself (``"sagemaker"``), a tuning job this
        workspace has not seen (created elsewhere, e.g. with the SageMaker SDK) is described
        by the service and recorded here first, as the SageMaker SDK's ``attach`` does.
        """
        store = TuningStore(Workspace.open(workspace))
        try:
            desc = store.get(name)
        except NotFoundError:
            if backend is None:
                raise
            tuner = cls._attach_remote(name, backend=backend, workspace=workspace)
        else:
            backend = backend or desc.backend
            tuner = cls.from_spec(desc.spec, backend=backend, workspace=workspace)
        tuner.latest_tuning_job = name
        return tuner

    @classmethod
    def _attach_remote(
        cls,
        name: str,
        *,
        backend: str | Backend,
        workspace: str | os.PathLike[str] | None,
    ) -> HyperparameterTuner:
        ws = Workspace.open(workspace)
        options: dict[str, Any] = {} if workspace is None else {"workspace": ws.root}
        resolved = backend if isinstance(backend, Backend) else get_backend(backend, **options)
        if not isinstance(resolved, TuningService):
            raise NotFoundError(f"no tuning job named {name!r} in {ws.root}")
        desc = resolved.describe_tuning_job(name)
        TuningStore(ws).create(desc)
        return cls.from_spec(desc.spec, backend=resolved, workspace=workspace)

    # ---- backend -----------------------------------------------------------------------
    @property
    def backend(self) -> Backend:
        if self._backend is None:
            options: dict[str, Any] = {}
            if self._workspace_arg is not None and not isinstance(self._backend_arg, Backend):
                options["workspace"] = self.workspace.root
            self._backend = get_backend(self._backend_arg, **options)
        return self._backend

    def _service(self) -> TuningService | None:
        backend = self.backend
        return backend if isinstance(backend, TuningService) else None

    def _name(self) -> str:
        if self.latest_tuning_job is None:
            raise TuningError("no tuning job yet: call fit() or attach(name) first")
        return self.latest_tuning_job

    def _base_name(self) -> str:
        if self.spec.base_tuning_job_name:
            return self.spec.base_tuning_job_name
        job = next(iter(self.spec.definitions().values())).training_job
        if job.base_job_name:
            return job.base_job_name
        if job.entry_point:
            return Path(job.entry_point).stem.replace("_", "-") or "tuning"
        return "tuning"

    # ---- running -----------------------------------------------------------------------
    def fit(
        self, inputs: Inputs = None, *, wait: bool = True, job_name: str | None = None
    ) -> TuningJobDescription:
        """Start a tuning job; with ``wait`` return when it has ended."""
        if job_name is not None:
            _check_name(job_name)
            self._check_unused(job_name)
        name = job_name or unique_name(self._base_name(), limit=32)
        channels = _inputs(inputs)
        service = self._service()
        if service is None:
            check_runnable(self.spec)
            check_warm_start(self.spec, self.store)
        desc = TuningJobDescription(
            name=name,
            spec=self.spec,
            backend="sagemaker" if service is not None else self.backend.name,
            status="InProgress",
            creation_time=_now(),
            inputs=channels,
        )
        if service is not None:
            service.create_tuning_job(self.spec, name, inputs=channels)
        self.store.create(desc)
        self.latest_tuning_job = name
        return self._run(wait=wait)

    def _check_unused(self, job_name: str) -> None:
        try:
            self.store.get(job_name)
        except NotFoundError:
            return
        raise SpecError(
            f"job_name = {job_name!r}: a tuning job of that name exists already in "
            f"{self.workspace.root} (names are used once; attach(name) reaches it)",
            field="job_name",
            value=job_name,
        )

    def resume(self, *, wait: bool = True) -> TuningJobDescription:
        """Continue the attached tuning job after its orchestrating process died.

        Finished training jobs are replayed, never re-run; running ones are watched again.
        A tuning job that has ended is returned as it is. Raises :class:`TuningError` if
        another process is driving this tuning job (it holds the job's lock).
        """
        desc = self.store.get(self._name())
        if desc.done:
            return desc
        return self._run(wait=wait)

    def _run(self, *, wait: bool) -> TuningJobDescription:
        name = self._name()
        if self._service() is not None:
            return self.wait() if wait else self.describe()
        lock = TuningLock(self.workspace.root, name)
        lock.acquire()  # one orchestrating process per tuning job
        try:
            return self._run_locked(name, lock, wait=wait)
        except BaseException:
            lock.release()
            raise

    def _run_locked(self, name: str, lock: TuningLock, *, wait: bool) -> TuningJobDescription:
        desc = self.store.get(name)
        if desc.done:  # it ended while another process held the lock
            lock.release()
            return desc
        self.spec = desc.spec
        runner = TuningRunner(
            self.spec,
            name,
            self.backend,
            self.store,
            inputs=desc.inputs,
            poll_interval=self.poll_interval,
        )
        self._runner = runner
        if wait:
            try:
                return runner.run()
            finally:
                lock.release()
        self._thread = threading.Thread(
            target=self._background, args=(runner, lock), name=f"tuning-{name}"
        )
        self._thread.daemon = True
        self._thread.start()
        return self.store.get(name)

    def _background(self, runner: TuningRunner, lock: TuningLock) -> None:
        try:
            runner.run()
        except BaseException as exc:  # surfaced by wait()
            self._error = exc
        finally:
            lock.release()

    def _detach_runner(self) -> None:
        """End this process's search loop at a safe point (never within a submit) and wait for
        it: the tuning job stays ``InProgress``, its running jobs go on, resume() continues."""
        if self._runner is not None:
            self._runner.request_detach()
        if self._thread is not None:
            self._thread.join()

    def wait(self, *, timeout: float | None = None) -> TuningJobDescription:
        """Block until the tuning job has ended."""
        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        service = self._service()
        if service is not None:
            return self._wait_service(service, deadline)
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise TuningError(f"tuning job {self._name()} still running after {timeout}s")
            if self._error is not None:
                raise self._error
        desc = self.store.get(self._name())
        if not desc.done and self._thread is None:
            raise TuningError(
                f"tuning job {desc.name} is {desc.status} but not run by this process: "
                "resume() continues it if its process died"
            )
        return desc

    def _wait_service(self, service: TuningService, deadline: float | None) -> TuningJobDescription:
        while True:
            desc = service.describe_tuning_job(self._name())
            if desc.done:
                self._cache_service_result(service, desc)
                return desc
            if deadline is not None and time.monotonic() > deadline:
                raise TuningError(f"tuning job {desc.name} still {desc.status} at the timeout")
            poll_sleep(self.service_poll_interval, deadline)

    def _cache_service_result(self, service: TuningService, desc: TuningJobDescription) -> None:
        local = self.store.get(desc.name)
        local.status, local.end_time = desc.status, desc.end_time
        local.completion_reason, local.failure_reason = desc.completion_reason, desc.failure_reason
        local.best_training_job = desc.best_training_job
        self.store.update(local)
        for position, job in enumerate(self._service_jobs(service, strict=False)):
            job.position = position
            self.store.save_job(desc.name, job)

    def stop(self) -> None:
        """Stop the tuning job: no new training job starts, running ones are stopped.

        Works from any process: the tuning job is marked ``Stopping`` and its orchestrator
        stops its jobs. If no orchestrator is alive (its process died), this call stops the
        running training jobs itself and ends the tuning job ``Stopped``.
        """
        name = self._name()
        service = self._service()
        if service is not None:
            service.stop_tuning_job(name)
            return
        self.store.request_stop(name)
        if self._runner is not None:
            self._runner.request_stop()
            return
        if self.store.get(name).status == "Stopping":
            # its orchestrator, if alive, holds the lock and stops the jobs itself
            with contextlib.suppress(TuningError):
                self._run(wait=True)

    # ---- results -----------------------------------------------------------------------
    def describe(self) -> TuningJobDescription:
        service = self._service() if self.store.get(self._name()).backend == "sagemaker" else None
        if service is not None:
            return service.describe_tuning_job(self._name())
        desc = self.store.get(self._name())
        if desc.best_training_job is None:
            best = best_of(self.training_jobs(), maximize=self.spec.objective_type == "Maximize")
            desc.best_training_job = best.job_name if best else None
        return desc

    def training_jobs(self) -> list[TrainingJobSummary]:
        """Every training job started so far, oldest first."""
        return self._training_jobs(curves=True)

    def _training_jobs(self, *, curves: bool) -> list[TrainingJobSummary]:
        """On a tuning service, ``curves=False`` skips reading every job's metrics (one
        ``DescribeTrainingJob`` and CloudWatch Logs reads per job): the list call has the
        final objectives."""
        name = self._name()
        if self.store.get(name).backend == "sagemaker":
            service = self._service()
            if service is not None:
                return self._service_jobs(service, curves=curves)
        return self.store.jobs(name)

    def _service_jobs(
        self, service: TuningService, *, curves: bool = True, strict: bool = True
    ) -> list[TrainingJobSummary]:
        """``strict=False``: a curve that cannot be read (no CloudWatch Logs access, say)
        stays empty, with a logged warning, instead of failing the whole call."""
        jobs = service.list_training_jobs_for_tuning_job(self._name())
        for job in jobs if curves else ():
            if not job.curve:
                definition = self.spec.definitions().get(job.definition_name)
                objective = (
                    definition.objective_metric_name if definition else None
                ) or self.spec.objective_metric_name
                try:
                    points = self.backend.metrics(job.job_name, [objective])
                except (BackendError, NotFoundError) as exc:
                    if strict:
                        raise
                    _log.warning("training job %s: its curve is not read: %s", job.job_name, exc)
                    continue
                job.curve = curve_from_points(points)
        return jobs

    def best_training_job(self) -> str:
        """The name of the training job with the best final objective."""
        best = best_of(
            self._training_jobs(curves=False), maximize=self.spec.objective_type == "Maximize"
        )
        if best is None:
            raise TuningError(f"tuning job {self._name()} has no training job with an objective")
        return best.job_name

    def analytics(self) -> TuningJobAnalytics:
        """Results as DataFrames (``dataframe()``, ``curves()``)."""
        return TuningJobAnalytics(
            self._name(),
            lambda: self._training_jobs(curves=False),
            fetch_curves=self.training_jobs,
            multi_algorithm=self.spec.training_jobs is not None,
            objective_type=self.spec.objective_type,
            objective_name=self.spec.objective_metric_name,
        )
