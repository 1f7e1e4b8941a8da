"""Tuning on SageMaker Automatic Model Tuning (the :class:`TuningService` of the backend),
and associating a tuning job's training jobs with an experiment and trial."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from sagescale._botocore import validate_request
from sagescale.backends.sagemaker._describe import name_of_arn
from sagescale.backends.sagemaker._tuning_spec import spec_from_response, typed_value
from sagescale.errors import BackendError, NotFoundError, SpecError
from sagescale.specs import ExperimentConfig, TrainingJob, TuningJob, check_tuning_job_name
from sagescale.tuning._analytics import TuningJobAnalytics
from sagescale.tuning._service import (
    TUNING_TERMINAL_STATUSES,
    TrainingJobSummary,
    TuningJobDescription,
    TuningService,
)

if TYPE_CHECKING:
    import pandas as pd

    from sagescale.backends.sagemaker._aws import AwsContext
    from sagescale.backends.sagemaker._staging import StagePlan, Stager

_log = logging.getLogger("sagescale.backends.sagemaker")

__all__ = ["EXPERIMENT_TAG", "TRIAL_TAG", "TuningMixin", "trial_component_name"]

EXPERIMENT_TAG = "sagescale:experiment"
TRIAL_TAG = "sagescale:trial"
CREATED_BY_TAG = "sagescale:created-by"
STOP_REQUESTED_TAG = "sagescale:stop-requested-at"
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


def trial_component_name(training_job_name: str) -> str:
    """The trial component SageMaker creates for a training job."""
    return f"{training_job_name}-aws-training-job"


def _with_inputs(job: TrainingJob, inputs: Mapping[str, str] | None) -> TrainingJob:
    if not inputs:
        return job
    return job.model_copy(update={"inputs": {**job.inputs, **dict(inputs)}})


def _patch_definition(definition: dict[str, Any], plan: StagePlan) -> None:
    static = definition.get("StaticHyperParameters", {})
    if plan.submit_directory is not None and "sagemaker_submit_directory" in static:
        static["sagemaker_submit_directory"] = json.dumps(plan.submit_directory)
    if plan.job.entry_point is not None and "sagemaker_program" in static:
        static["sagemaker_program"] = json.dumps(plan.job.entry_point)
    for channel in definition.get("InputDataConfig", []):
        uri = plan.inputs.get(channel["ChannelName"])
        if uri is not None:
            channel["DataSource"]["S3DataSource"]["S3Uri"] = uri


class TuningMixin(TuningService):
    """Tuning jobs for :class:`SageMakerBackend` (which supplies ``aws``, ``stager``,
    ``role`` and ``poll_interval``)."""

    aws: AwsContext
    stager: Stager
    role: str | None
    poll_interval: float

    def _init_tuning(self) -> None:
        self._tuning_lock = threading.Lock()
        self._tuning_specs: dict[str, TuningJob] = {}
        self._tuning_inputs: dict[str, dict[str, str]] = {}
        self._associated: dict[str, set[str]] = {}
        self._tuning_experiments: dict[str, ExperimentConfig | None] = {}
        self._finished: set[str] = set()
        self._stop_requested: dict[str, datetime] = {}

    # ---- create ------------------------------------------------------------------------
    def _tuning_role(self, spec: TuningJob) -> str | None:
        jobs = [d.training_job for d in spec.definitions().values()]
        if all(job.role is not None for job in jobs):
            return None
        if self.role is None:
            raise SpecError(
                "role is required on SageMaker: set role in every training job of the tuning "
                "spec or pass SageMakerBackend(role=...)",
                field="role",
            )
        return self.role

    def render_tuning_job(
        self,
        spec: TuningJob,
        name: str,
        *,
        inputs: Mapping[str, str] | None = None,
        experiment_config: ExperimentConfig | None = None,
    ) -> tuple[dict[str, Any], list[StagePlan]]:
        """The validated ``CreateHyperParameterTuningJob`` request and its staging plans."""
        from botocore.exceptions import ParamValidationError

        from sagescale.backends.sagemaker._backend import request_error

        try:
            check_tuning_job_name(name)
        except ValueError as exc:
            raise SpecError(f"name = {name!r}: {exc}", field="name", value=name) from None
        role = self._tuning_role(spec)
        plans = []
        for key, definition in spec.definitions().items():
            job = _with_inputs(definition.training_job, inputs)
            plans.append(self.stager.plan(job, f"{name}/{key}" if key else name))
        merged = {k: v for plan in reversed(plans) for k, v in plan.inputs.items()}
        request = spec.to_request(
            tuning_job_name=name,
            region=self.aws.region,
            role=role,
            default_bucket=self.stager.bucket,
            inputs=merged,
        )
        definitions = request.get("TrainingJobDefinitions") or [request["TrainingJobDefinition"]]
        for definition, plan in zip(definitions, plans, strict=True):
            _patch_definition(definition, plan)
        tags = request.setdefault("Tags", [])
        tags.append({"Key": CREATED_BY_TAG, "Value": "sagescale"})
        if experiment_config is not None:
            tags.extend(_experiment_tags(experiment_config, name))
        try:
            validate_request("CreateHyperParameterTuningJob", request)
        except ParamValidationError as exc:
            raise request_error("CreateHyperParameterTuningJob", exc) from None
        return request, plans

    def create_tuning_job(
        self,
        spec: TuningJob,
        name: str,
        *,
        inputs: Mapping[str, str] | None = None,
        experiment_config: ExperimentConfig | None = None,
    ) -> None:
        """Stage sources and inputs, then ``CreateHyperParameterTuningJob``. The job is tagged
        with ``experiment_config`` (default: an experiment and a trial named after the tuning
        job, as on the local backend) so that, once it ends, :meth:`describe_tuning_job` (from
        any process) associates its training jobs with that experiment and trial."""
        if experiment_config is None:
            experiment_config = ExperimentConfig(experiment_name=name, trial_name=name)
        request, plans = self.render_tuning_job(
            spec, name, inputs=inputs, experiment_config=experiment_config
        )
        for plan in plans:
            self.stager.upload(plan, name)
        self.aws.call("sagemaker", "CreateHyperParameterTuningJob", name, **request)
        with self._tuning_lock:
            self._tuning_specs[name] = spec
            self._tuning_inputs[name] = {k: v for p in plans for k, v in p.inputs.items()}
            self._tuning_experiments[name] = experiment_config

    # ---- read --------------------------------------------------------------------------
    def _describe_raw(self, name: str) -> dict[str, Any]:
        return self.aws.call(
            "sagemaker",
            "DescribeHyperParameterTuningJob",
            name,
            HyperParameterTuningJobName=name,
        )

    def _spec(self, name: str, raw: dict[str, Any] | None = None) -> TuningJob:
        with self._tuning_lock:
            spec = self._tuning_specs.get(name)
        if spec is not None:
            return spec
        raw = raw or self._describe_raw(name)
        try:
            spec = spec_from_response(raw)
        except (KeyError, TypeError, ValueError) as exc:
            raise BackendError(
                f"cannot rebuild the tuning spec from the description: {exc}",
                call="DescribeHyperParameterTuningJob",
                job_name=name,
            ) from exc
        with self._tuning_lock:
            self._tuning_specs[name] = spec
        return spec

    def describe_tuning_job(self, name: str) -> TuningJobDescription:
        """``DescribeHyperParameterTuningJob`` as a :class:`TuningJobDescription`. The first
        description that finds the job terminal associates its training jobs' trial
        components with the experiment the job was created with (if any)."""
        raw = self._describe_raw(name)
        # this job's best, as the SDK's best_training_job() and local tuning; not
        # OverallBestTrainingJob, which may be a warm-start parent's training job
        best = raw.get("BestTrainingJob") or {}
        details = raw.get("TuningJobCompletionDetails") or {}
        reason = None
        if details.get("ConvergenceDetectedTime"):
            reason = "ConvergenceDetected"
        with self._tuning_lock:
            inputs = dict(self._tuning_inputs.get(name, {}))
        description = TuningJobDescription(
            name=name,
            spec=self._spec(name, raw),
            backend="sagemaker",
            status=str(raw["HyperParameterTuningJobStatus"]),
            creation_time=raw.get("CreationTime", _EPOCH),
            end_time=raw.get("HyperParameterTuningEndTime"),
            completion_reason=reason,
            failure_reason=raw.get("FailureReason") or None,
            best_training_job=best.get("TrainingJobName"),
            inputs=inputs,
        )
        if description.done:
            self._on_terminal(name)
        return description

    def _on_terminal(self, name: str) -> None:
        """Once per process and job: associate its training jobs with its experiment."""
        with self._tuning_lock:
            if name in self._finished:
                return
            self._finished.add(name)
        if self._tagged_experiment(name) is None:
            return
        try:
            self.associate_tuning_job_trials(name)
        except BackendError as exc:  # tracking never fails the tuning job it records
            _log.warning("tuning job %s: associating its training jobs failed: %s", name, exc)

    def attach_tuning_job(self, name: str) -> TuningJobDescription:
        """An existing tuning job (``NotFoundError`` when there is none)."""
        return self.describe_tuning_job(name)

    def best_training_job(self, name: str) -> str | None:
        """The name of the best training job so far (``None`` before the first objective)."""
        return self.describe_tuning_job(name).best_training_job

    def _stop_requested_at(self, name: str, raw: dict[str, Any]) -> datetime | None:
        """When the user asked tuning job ``name`` (described as ``raw``) to stop: recorded by
        :meth:`stop_tuning_job` (in this process, else its tag), else, while it is still
        ``Stopping``, the time of that status change. ``None`` when unknown."""
        with self._tuning_lock:
            known = self._stop_requested.get(name)
        if known is not None:
            return known
        arn = raw.get("HyperParameterTuningJobArn")
        if arn:
            try:
                tags = self.aws.pages("sagemaker", "ListTags", "Tags", name, ResourceArn=arn)
            except BackendError as exc:
                _log.warning("tuning job %s: reading its tags failed: %s", name, exc)
                tags = []
            for tag in tags:
                if tag["Key"] == STOP_REQUESTED_TAG:
                    try:
                        at = datetime.fromisoformat(tag["Value"])
                    except ValueError:
                        break
                    with self._tuning_lock:
                        self._stop_requested[name] = at
                    return at
        if raw["HyperParameterTuningJobStatus"] == "Stopping":
            modified = raw.get("LastModifiedTime")
            return modified if isinstance(modified, datetime) else None
        return None

    def _summary(
        self,
        spec: TuningJob,
        raw: dict[str, Any],
        position: int,
        *,
        user_stop: tuple[datetime | None] | None = None,
    ) -> TrainingJobSummary:
        definition = raw.get("TrainingJobDefinitionName") if spec.training_jobs else None
        ranges = spec.ranges_by_definition().get(definition, {})
        tuned = {
            key: typed_value(ranges.get(key), str(value))
            for key, value in raw.get("TunedHyperParameters", {}).items()
        }
        objective = raw.get("FinalHyperParameterTuningJobObjectiveMetric") or {}
        status = str(raw["TrainingJobStatus"])
        end_time = raw.get("TrainingEndTime")
        early_stopped = status == "Stopped" and spec.early_stopping_type == "Auto"
        if early_stopped and user_stop is not None:
            # the user stopped the tuning job: a job that ended at or after that request (or
            # whose end is unknown, or when the request time is unknown) was stopped by it
            stop_at = user_stop[0]
            early_stopped = stop_at is not None and end_time is not None and end_time < stop_at
        return TrainingJobSummary(
            job_name=str(raw["TrainingJobName"]),
            status=status,
            hyperparameters=tuned,
            definition_name=definition,
            final_objective=float(objective["Value"]) if "Value" in objective else None,
            objective_status=str(raw.get("ObjectiveStatus", "Pending")),
            start_time=raw.get("TrainingStartTime"),
            end_time=end_time,
            failure_reason=raw.get("FailureReason") or None,
            early_stopped=early_stopped,
            position=position,
        )

    def list_training_jobs_for_tuning_job(self, name: str) -> list[TrainingJobSummary]:
        """``ListTrainingJobsForHyperParameterTuningJob``, oldest first, values typed."""
        spec = self._spec(name)
        items = self.aws.pages(
            "sagemaker",
            "ListTrainingJobsForHyperParameterTuningJob",
            "TrainingJobSummaries",
            name,
            HyperParameterTuningJobName=name,
            SortBy="CreationTime",
            SortOrder="Ascending",
        )
        items.sort(key=lambda item: item.get("CreationTime") or _EPOCH)
        user_stop: tuple[datetime | None] | None = None
        if spec.early_stopping_type == "Auto" and any(
            item.get("TrainingJobStatus") == "Stopped" for item in items
        ):
            raw = self._describe_raw(name)
            if raw["HyperParameterTuningJobStatus"] in ("Stopping", "Stopped"):
                user_stop = (self._stop_requested_at(name, raw),)
        return [self._summary(spec, item, i, user_stop=user_stop) for i, item in enumerate(items)]

    def tuning_analytics(self, name: str) -> TuningJobAnalytics:
        """The same analytics object local tuning gives (``dataframe()``, ``curves()``)."""
        spec = self._spec(name)
        return TuningJobAnalytics(
            name,
            lambda: self.list_training_jobs_for_tuning_job(name),
            multi_algorithm=spec.training_jobs is not None,
            objective_type=spec.objective_type,
        )

    def tuning_dataframe(self, name: str) -> pd.DataFrame:
        """SageMaker's ``HyperparameterTuningJobAnalytics.dataframe()`` columns."""
        return self.tuning_analytics(name).dataframe()

    # ---- stop / wait -------------------------------------------------------------------
    def stop_tuning_job(self, name: str) -> None:
        """``StopHyperParameterTuningJob``; a no-op for a finished or stopping job."""
        raw = self._describe_raw(name)
        if raw["HyperParameterTuningJobStatus"] in (*TUNING_TERMINAL_STATUSES, "Stopping"):
            return
        requested = datetime.now(timezone.utc)
        try:
            self.aws.call(
                "sagemaker", "StopHyperParameterTuningJob", name, HyperParameterTuningJobName=name
            )
        except BackendError:  # it may have ended (or begun stopping) in between
            status = self._describe_raw(name)["HyperParameterTuningJobStatus"]
            if status not in (*TUNING_TERMINAL_STATUSES, "Stopping"):
                raise
            return
        # when the stop was asked for, so that jobs it stops are not counted early-stopped
        with self._tuning_lock:
            self._stop_requested[name] = requested
        try:
            self.aws.call(
                "sagemaker",
                "AddTags",
                name,
                ResourceArn=raw["HyperParameterTuningJobArn"],
                Tags=[{"Key": STOP_REQUESTED_TAG, "Value": requested.isoformat()}],
            )
        except BackendError as exc:  # the record is best-effort; the stop has happened
            _log.warning("tuning job %s: tagging its stop request failed: %s", name, exc)

    def wait_tuning_job(self, name: str, *, timeout: float | None = None) -> TuningJobDescription:
        """Poll until the tuning job is terminal (``describe_tuning_job`` then associates its
        training jobs with the experiment it was created with, once)."""
        from sagescale.backends._base import check_timeout, poll_sleep

        timeout = check_timeout(timeout)
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            description = self.describe_tuning_job(name)
            if description.done:
                break
            if deadline is not None and time.monotonic() >= deadline:
                raise BackendError(
                    f"timed out after {timeout} s; the tuning job is still {description.status}",
                    call="wait_tuning_job",
                    job_name=name,
                )
            poll_sleep(self.poll_interval, deadline)
        return description

    # ---- experiments -------------------------------------------------------------------
    def _tagged_experiment(self, name: str) -> ExperimentConfig | None:
        """The experiment the job was created with (this process, else its tags)."""
        with self._tuning_lock:
            if name in self._tuning_experiments:
                return self._tuning_experiments[name]
        arn = self._describe_raw(name)["HyperParameterTuningJobArn"]
        tags = self.aws.pages("sagemaker", "ListTags", "Tags", name, ResourceArn=arn)
        values = {t["Key"]: t["Value"] for t in tags}
        config = None
        if EXPERIMENT_TAG in values:
            config = ExperimentConfig(
                experiment_name=values[EXPERIMENT_TAG], trial_name=values.get(TRIAL_TAG)
            )
        with self._tuning_lock:
            self._tuning_experiments[name] = config
        return config

    def _create_if_missing(self, operation: str, name: str, **request: str) -> None:
        try:
            self.aws.call("sagemaker", operation, name, **request)
        except BackendError as exc:  # exists already: fine (Describe* of a missing one
            reason = exc.reason.lower()  # is not reliable on every endpoint)
            if "already exists" not in reason and not reason.startswith("resourceinuse"):
                raise

    def _ensure_trial(self, config: ExperimentConfig, trial: str, name: str) -> None:
        experiment = config.experiment_name
        self._create_if_missing("CreateExperiment", name, ExperimentName=experiment)
        self._create_if_missing("CreateTrial", name, TrialName=trial, ExperimentName=experiment)

    def associate_tuning_job_trials(
        self, name: str, experiment_config: ExperimentConfig | None = None
    ) -> list[str]:
        """Associate the trial component of every training job of tuning job ``name``
        (``<job>-aws-training-job``) with the experiment's trial (default trial: the tuning
        job's name), creating the experiment and trial when missing. The API cannot put an
        ``ExperimentConfig`` on a tuning job (sagemaker-python-sdk #1503). Returns the
        components associated by this call; ones SageMaker has not created are skipped."""
        config = experiment_config or self._tagged_experiment(name)
        if config is None:
            raise SpecError(
                f"tuning job {name!r} was not created with an experiment_config: pass one",
                field="experiment_config",
            )
        trial = config.trial_name or name
        self._ensure_trial(config, trial, name)
        with self._tuning_lock:
            done = self._associated.setdefault(f"{name}/{trial}", set())
        associated = []
        for job in self.list_training_jobs_for_tuning_job(name):
            component = trial_component_name(job.job_name)
            if component in done:
                continue
            try:
                self.aws.call(
                    "sagemaker",
                    "AssociateTrialComponent",
                    job.job_name,
                    TrialComponentName=component,
                    TrialName=trial,
                )
            except NotFoundError:
                continue
            with self._tuning_lock:
                done.add(component)
            associated.append(component)
        return associated


def _experiment_tags(config: ExperimentConfig, name: str) -> list[dict[str, str]]:
    return [
        {"Key": EXPERIMENT_TAG, "Value": config.experiment_name},
        {"Key": TRIAL_TAG, "Value": config.trial_name or name},
    ]


def tuning_job_of(description: dict[str, Any]) -> str | None:
    """The tuning job that started a training job (from ``DescribeTrainingJob``)."""
    return name_of_arn(description.get("TuningJobArn"))
