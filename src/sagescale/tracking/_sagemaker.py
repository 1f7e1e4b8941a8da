"""SageMaker Experiments through boto3.

Every request is validated by botocore against the SageMaker service model before it is
sent (:func:`botocore.validate.validate_parameters`); metrics go through
``sagemaker-metrics:BatchPutMetrics`` in batches of 10 points inside its time window. Its
``Value`` is a JSON number, so NaN and infinite values are skipped with a
:class:`~sagescale.tracking.MetricValueWarning`, as the SageMaker SDK's ``Run`` skips them.

The SageMaker API has no field for a component's source when the component is created
through the API (SageMaker sets ``Source`` for its own jobs), so this store keeps
``source_arn``/``source_type`` in the tags ``sagescale:source-arn``/``sagescale:source-type``
and prefers the service's ``Source`` when present.

A display name must be a SageMaker entity name here (the ``DisplayName`` pattern of
``CreateExperiment``/``CreateTrial``/``CreateTrialComponent`` in the service model), where
the SQLite and MLflow stores take any text: another one is a
:class:`~sagescale.errors.SpecError` raised before any request.
"""

from __future__ import annotations

import math
import re
import threading
import time
import warnings
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sagescale.errors import NotFoundError, SpecError, TrackingError
from sagescale.tracking._model import (
    Artifact,
    ExperimentRecord,
    MetricPoint,
    MetricSummary,
    MetricValueWarning,
    ParameterValue,
    TrialComponentRecord,
    TrialRecord,
)
from sagescale.tracking._store import ExperimentStore, _options

__all__ = ["BATCH_SIZE", "METRIC_WINDOW", "SageMakerStore"]

BATCH_SIZE = 10
#: seconds into the past / future that sagescale sends to BatchPutMetrics
METRIC_WINDOW = (14 * 24 * 3600.0, 2 * 3600.0)
#: how many times BatchPutMetrics is asked again for the points it failed with a transient
#: error (the accepted ones are never resent)
PARTIAL_RETRIES = 3
_PARTIAL_BACKOFF = 0.05
_TRANSIENT_METRIC_ERRORS = ("INTERNAL_ERROR", "CONFLICT_ERROR")
SOURCE_ARN_TAG = "sagescale:source-arn"
SOURCE_TYPE_TAG = "sagescale:source-type"
_NOT_FOUND_HINTS = ("not found", "does not exist", "could not find", "cannot find")
#: Describe operation -> (Search resource, name property): how a Describe* that failed with
#: a server error is told apart from a missing record (moto answers DescribeExperiment of a
#: missing name with HTTP 500; SageMaker answers 500 for a transient fault)
_SEARCHABLE = {
    "DescribeExperiment": ("Experiment", "ExperimentName"),
    "DescribeTrial": ("ExperimentTrial", "TrialName"),
    "DescribeTrialComponent": ("ExperimentTrialComponent", "TrialComponentName"),
}


def _tags(tags: Mapping[str, str] | None) -> list[dict[str, str]]:
    return [{"Key": str(k), "Value": str(v)} for k, v in (tags or {}).items()]


def _param(value: ParameterValue) -> dict[str, Any]:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return {"NumberValue": float(value)}
    return {"StringValue": str(value)}


def _artifact(a: Artifact) -> dict[str, str]:
    return {"Value": a.value} | ({"MediaType": a.media_type} if a.media_type else {})


def _aware(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class SageMakerStore(ExperimentStore):
    """Experiments in SageMaker (``sagemaker://?region=...&bucket=...``)."""

    kind = "sagemaker"

    def __init__(
        self,
        *,
        client: Any = None,
        metrics_client: Any = None,
        s3_client: Any = None,
        bucket: str | None = None,
        prefix: str = "sagescale/artifacts",
        region: str | None = None,
        endpoint_url: str | None = None,
        metrics_endpoint_url: str | None = None,
    ) -> None:
        if client is None or metrics_client is None or (s3_client is None and bucket):
            import boto3

            session = boto3.session.Session(region_name=region)
            client = client or session.client("sagemaker", endpoint_url=endpoint_url)
            metrics_client = metrics_client or session.client(
                "sagemaker-metrics", endpoint_url=metrics_endpoint_url or endpoint_url
            )
            if bucket and s3_client is None:
                s3_client = session.client("s3", endpoint_url=endpoint_url)
        self.client = client
        self.metrics_client = metrics_client
        self.s3_client = s3_client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self._known_components: set[str] = set()
        #: per component, the points a failed log_metrics call got accepted: its retry
        #: skips them (BatchPutMetrics has no idempotency token; a resent point is a duplicate)
        self._accepted: dict[str, set[tuple[str, int | None, float, float]]] = {}
        self._accepted_lock = threading.Lock()

    @classmethod
    def from_uri(cls, uri: str) -> SageMakerStore:
        parts = urlsplit(uri)
        options = _options(parts.query)
        allowed = {"region", "endpoint_url", "metrics_endpoint_url", "bucket", "prefix"}
        unknown = set(options) - allowed
        if unknown:
            raise SpecError(
                f"sagemaker:// store option(s) {sorted(unknown)} unknown; allowed: "
                f"{sorted(allowed)}",
                field="store",
                value=uri,
            )
        return cls(**options)

    def __repr__(self) -> str:
        return f"SageMakerStore(region={self.client.meta.region_name!r})"

    # the one place requests are sent ------------------------------------------------------
    def _call(self, operation: str, *, metrics: bool = False, **params: Any) -> Any:
        from botocore.exceptions import ClientError, ParamValidationError
        from botocore.validate import validate_parameters

        client = self.metrics_client if metrics else self.client
        shape = client.meta.service_model.operation_model(operation).input_shape
        try:
            validate_parameters(params, shape)
        except ParamValidationError as exc:
            raise TrackingError(f"{operation}: invalid request: {exc}") from exc
        method = getattr(client, _snake(operation))
        try:
            return method(**params)
        except ClientError as exc:
            if _server_error(exc) and self._missing(operation, params):
                message = exc.response.get("Error", {}).get("Message", "")
                raise NotFoundError(
                    f"{operation}: not found (a server error, {message[:200]!r}, and Search "
                    "lists no such record)"
                ) from exc
            raise _translate(operation, exc) from exc

    def _missing(self, operation: str, params: Mapping[str, Any]) -> bool:
        """True only when Search confirms that the record a Describe* asked for does not
        exist; a server error on a record that exists (or that Search cannot rule out) is a
        TrackingError, never "not found"."""
        if operation not in _SEARCHABLE:
            return False
        resource, key = _SEARCHABLE[operation]
        expression = {"Filters": [{"Name": key, "Operator": "Equals", "Value": params[key]}]}
        try:
            found = self._call("Search", Resource=resource, SearchExpression=expression)
        except (TrackingError, NotFoundError):
            return False
        return not found.get("Results")

    def _pages(self, operation: str, key: str, **params: Any) -> Iterator[Any]:
        token = None
        while True:
            page = self._call(operation, **params, **({"NextToken": token} if token else {}))
            yield from page.get(key, [])
            token = page.get("NextToken")
            if not token:
                return

    def _tags_of(self, arn: str | None) -> dict[str, str]:
        if not arn:
            return {}
        return {t["Key"]: t["Value"] for t in self._pages("ListTags", "Tags", ResourceArn=arn)}

    def _exists(self, describe: str, key: str, name: str) -> bool:
        try:
            params: dict[str, Any] = {key: name}
            self._call(describe, **params)
        except NotFoundError:
            return False
        return True

    # experiments --------------------------------------------------------------------------
    def create_experiment(
        self,
        name: str,
        *,
        display_name: str | None = None,
        description: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> ExperimentRecord:
        _check_display_name("CreateExperiment", display_name)
        if self._exists("DescribeExperiment", "ExperimentName", name):
            raise TrackingError(f"experiment {name!r} already exists")
        params: dict[str, Any] = {"ExperimentName": name, "DisplayName": display_name or name}
        if description:
            params["Description"] = description
        if tags:
            params["Tags"] = _tags(tags)
        self._call("CreateExperiment", **params)
        return self.describe_experiment(name)

    def describe_experiment(self, name: str) -> ExperimentRecord:
        r = self._call("DescribeExperiment", ExperimentName=name)
        return ExperimentRecord(
            name=r["ExperimentName"],
            display_name=r.get("DisplayName") or r["ExperimentName"],
            description=r.get("Description"),
            tags=self._tags_of(r.get("ExperimentArn")),
            creation_time=_aware(r.get("CreationTime")),
        )

    def list_experiments(self) -> list[ExperimentRecord]:
        summaries = self._pages(
            "ListExperiments", "ExperimentSummaries", SortBy="CreationTime", SortOrder="Ascending"
        )
        return [self.describe_experiment(s["ExperimentName"]) for s in summaries]

    # trials -------------------------------------------------------------------------------
    def create_trial(
        self,
        name: str,
        *,
        experiment_name: str,
        display_name: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialRecord:
        _check_display_name("CreateTrial", display_name)
        self._call("DescribeExperiment", ExperimentName=experiment_name)
        if self._exists("DescribeTrial", "TrialName", name):
            raise TrackingError(f"trial {name!r} already exists")
        params: dict[str, Any] = {
            "TrialName": name,
            "ExperimentName": experiment_name,
            "DisplayName": display_name or name,
        }
        if tags:
            params["Tags"] = _tags(tags)
        self._call("CreateTrial", **params)
        return self.describe_trial(name)

    def describe_trial(self, name: str) -> TrialRecord:
        r = self._call("DescribeTrial", TrialName=name)
        return TrialRecord(
            name=r["TrialName"],
            experiment_name=r["ExperimentName"],
            display_name=r.get("DisplayName") or r["TrialName"],
            tags=self._tags_of(r.get("TrialArn")),
            creation_time=_aware(r.get("CreationTime")),
        )

    def _trial_names(self, **filters: str) -> list[str]:
        names = [
            s["TrialName"]
            for s in self._pages(
                "ListTrials",
                "TrialSummaries",
                SortBy="CreationTime",
                SortOrder="Ascending",
                **filters,
            )
        ]
        return list(dict.fromkeys(names))

    def list_trials(
        self, *, experiment_name: str | None = None, trial_component_name: str | None = None
    ) -> list[TrialRecord]:
        filters = {"ExperimentName": experiment_name, "TrialComponentName": trial_component_name}
        names = self._trial_names(**{k: v for k, v in filters.items() if v is not None})
        return [self.describe_trial(n) for n in names]

    # trial components ---------------------------------------------------------------------
    def create_trial_component(
        self,
        name: str,
        *,
        display_name: str | None = None,
        trial_name: str | None = None,
        status: str | None = None,
        start_time: datetime | None = None,
        source_arn: str | None = None,
        source_type: str | None = None,
        tags: Mapping[str, str] | None = None,
    ) -> TrialComponentRecord:
        _check_display_name("CreateTrialComponent", display_name)
        if trial_name is not None:
            self._call("DescribeTrial", TrialName=trial_name)
        if self._exists("DescribeTrialComponent", "TrialComponentName", name):
            raise TrackingError(f"trial component {name!r} already exists")
        all_tags = dict(tags or {})
        if source_arn:
            all_tags[SOURCE_ARN_TAG] = source_arn
        if source_type:
            all_tags[SOURCE_TYPE_TAG] = source_type
        params: dict[str, Any] = {"TrialComponentName": name, "DisplayName": display_name or name}
        if status:
            params["Status"] = {"PrimaryStatus": status}
        if start_time:
            params["StartTime"] = start_time
        if all_tags:
            params["Tags"] = _tags(all_tags)
        self._call("CreateTrialComponent", **params)
        self._known_components.add(name)
        if trial_name is not None:
            self.associate_trial_component(name, trial_name)
        return self.describe_trial_component(name)

    def update_trial_component(
        self,
        name: str,
        *,
        status: str | None = None,
        status_message: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
        parameters: Mapping[str, ParameterValue] | None = None,
        input_artifacts: Mapping[str, Artifact] | None = None,
        output_artifacts: Mapping[str, Artifact] | None = None,
    ) -> None:
        self._require_component(name)
        params: dict[str, Any] = {"TrialComponentName": name}
        if status:
            params["Status"] = {"PrimaryStatus": status} | (
                {"Message": status_message} if status_message else {}
            )
        if start_time:
            params["StartTime"] = start_time
        if end_time:
            params["EndTime"] = end_time
        if parameters or input_artifacts or output_artifacts:
            params.update(self._merged(name, parameters, input_artifacts, output_artifacts))
        if len(params) > 1:
            self._call("UpdateTrialComponent", **params)

    def _merged(
        self,
        name: str,
        parameters: Mapping[str, ParameterValue] | None,
        inputs: Mapping[str, Artifact] | None,
        outputs: Mapping[str, Artifact] | None,
    ) -> dict[str, Any]:
        """Current maps with the new keys on top: the service documents a per-key merge,
        moto replaces the whole map; sending the merged map is right under both."""
        current = self._call("DescribeTrialComponent", TrialComponentName=name)
        out: dict[str, Any] = {}
        if parameters:
            out["Parameters"] = {k: _param(v) for k, v in parameters.items()}
        for key, new in (("InputArtifacts", inputs), ("OutputArtifacts", outputs)):
            if new:
                out[key] = {k: _artifact(v) for k, v in new.items()}
        return {k: {**(current.get(k) or {}), **v} for k, v in out.items()}

    def _require_component(self, name: str) -> None:
        if name not in self._known_components:
            self._call("DescribeTrialComponent", TrialComponentName=name)
            self._known_components.add(name)

    def describe_trial_component(self, name: str) -> TrialComponentRecord:
        r = self._call("DescribeTrialComponent", TrialComponentName=name)
        self._known_components.add(name)
        tags = self._tags_of(r.get("TrialComponentArn"))
        trials = self._trial_names(TrialComponentName=name)
        experiments = list(dict.fromkeys(self.describe_trial(t).experiment_name for t in trials))
        source = r.get("Source") or {}
        status = r.get("Status") or {}
        return TrialComponentRecord(
            name=r["TrialComponentName"],
            display_name=r.get("DisplayName") or name,
            status=status.get("PrimaryStatus"),
            status_message=status.get("Message"),
            start_time=_aware(r.get("StartTime")),
            end_time=_aware(r.get("EndTime")),
            creation_time=_aware(r.get("CreationTime")),
            source_arn=source.get("SourceArn") or tags.pop(SOURCE_ARN_TAG, None),
            source_type=source.get("SourceType") or tags.pop(SOURCE_TYPE_TAG, None),
            parameters={k: _param_value(v) for k, v in (r.get("Parameters") or {}).items()},
            input_artifacts=_artifact_records(r.get("InputArtifacts")),
            output_artifacts=_artifact_records(r.get("OutputArtifacts")),
            metrics={m["MetricName"]: _summary(m) for m in r.get("Metrics") or []},
            tags={k: v for k, v in tags.items() if k not in (SOURCE_ARN_TAG, SOURCE_TYPE_TAG)},
            trial_names=tuple(trials),
            experiment_names=tuple(experiments),
        )

    def _component_names(self, trial_name: str | None) -> list[str]:
        filters = {} if trial_name is None else {"TrialName": trial_name}
        summaries = self._pages(
            "ListTrialComponents",
            "TrialComponentSummaries",
            SortBy="CreationTime",
            SortOrder="Ascending",
            **filters,
        )
        return [s["TrialComponentName"] for s in summaries]

    def list_trial_components(
        self, *, experiment_name: str | None = None, trial_name: str | None = None
    ) -> list[TrialComponentRecord]:
        if experiment_name is not None:
            trials = (
                [trial_name] if trial_name else self._trial_names(ExperimentName=experiment_name)
            )
            names = [n for t in trials for n in self._component_names(t)]
        else:
            names = self._component_names(trial_name)
        records = [self.describe_trial_component(n) for n in dict.fromkeys(names)]
        if experiment_name is not None:
            records = [r for r in records if experiment_name in r.experiment_names]
        return sorted(
            records, key=lambda r: r.creation_time or datetime.min.replace(tzinfo=timezone.utc)
        )

    def search_trial_components(
        self,
        search_expression: Mapping[str, Any] | None = None,
        *,
        experiment_name: str | None = None,
    ) -> list[TrialComponentRecord]:
        """SageMaker's ``Search`` evaluates the expression (its own semantics); the matching
        components are then described (and restricted to ``experiment_name``)."""
        if search_expression is None:
            return self.list_trial_components(experiment_name=experiment_name)
        params: dict[str, Any] = {
            "Resource": "ExperimentTrialComponent",
            "SearchExpression": dict(search_expression),
        }
        names = [
            r["TrialComponent"]["TrialComponentName"]
            for r in self._pages("Search", "Results", **params)
            if "TrialComponent" in r
        ]
        records = [self.describe_trial_component(n) for n in dict.fromkeys(names)]
        if experiment_name is not None:
            records = [r for r in records if experiment_name in r.experiment_names]
        return records

    def associate_trial_component(self, trial_component_name: str, trial_name: str) -> None:
        self._require_component(trial_component_name)
        if trial_name in self._trial_names(TrialComponentName=trial_component_name):
            return
        self._call(
            "AssociateTrialComponent", TrialComponentName=trial_component_name, TrialName=trial_name
        )

    # metrics ------------------------------------------------------------------------------
    def log_metrics(self, trial_component_name: str, points: Sequence[MetricPoint]) -> None:
        self._require_component(trial_component_name)
        points = _finite(trial_component_name, points)
        now = time.time()
        for p in points:
            if not now - METRIC_WINDOW[0] <= p.timestamp <= now + METRIC_WINDOW[1]:
                raise TrackingError(
                    f"metric {p.name!r} point at timestamp {p.timestamp} is outside the window "
                    f"SageMaker accepts (the last 14 days up to 2 hours ahead)"
                )
        key = self._accepted_key
        with self._accepted_lock:
            accepted = self._accepted.pop(trial_component_name, set())
        points = [p for p in points if key(p) not in accepted]
        try:
            for start in range(0, len(points), BATCH_SIZE):
                self._put_batch(trial_component_name, points[start : start + BATCH_SIZE], accepted)
        except BaseException:
            with self._accepted_lock:  # a retry of this call sends only what was not accepted
                self._accepted.setdefault(trial_component_name, set()).update(accepted)
            raise

    @staticmethod
    def _accepted_key(p: MetricPoint) -> tuple[str, int | None, float, float]:
        return p.name, p.step, float(p.value), float(p.timestamp)

    def _put_batch(self, component: str, batch: Sequence[MetricPoint], accepted: set[Any]) -> None:
        """One BatchPutMetrics; the points it reports with a transient error (INTERNAL_ERROR,
        CONFLICT_ERROR) are sent again on their own, never the ones it accepted."""
        for attempt in range(PARTIAL_RETRIES + 1):
            response = self._call(
                "BatchPutMetrics",
                metrics=True,
                TrialComponentName=component,
                MetricData=[_raw(p) for p in batch],
            )
            errors = response.get("Errors") or []
            failed = {int(e.get("MetricIndex", 0)) for e in errors}
            accepted.update(self._accepted_key(p) for i, p in enumerate(batch) if i not in failed)
            if not errors:
                return
            transient = all(e.get("Code") in _TRANSIENT_METRIC_ERRORS for e in errors)
            if not transient or attempt == PARTIAL_RETRIES:
                raise TrackingError(
                    f"BatchPutMetrics rejected points: {errors} (the points it accepted are "
                    "not sent again when log_metrics is retried)"
                )
            batch = [p for i, p in enumerate(batch) if i in failed]
            time.sleep(_PARTIAL_BACKOFF * 2**attempt)

    def metric_series(self, trial_component_name: str, metric_name: str) -> list[MetricPoint]:
        """Per-step values through ``BatchGetMetrics`` (SageMaker aggregates by step)."""
        arn = self._call("DescribeTrialComponent", TrialComponentName=trial_component_name)[
            "TrialComponentArn"
        ]
        query = {
            "MetricName": metric_name,
            "ResourceArn": arn,
            "MetricStat": "Last",
            "Period": "IterationNumber",
            "XAxisType": "IterationNumber",
        }
        response = self._call("BatchGetMetrics", metrics=True, MetricQueries=[query])
        result = (response.get("MetricQueryResults") or [{}])[0]
        if result.get("Status") not in (None, "Complete"):
            raise TrackingError(f"BatchGetMetrics: {result.get('Message') or result['Status']}")
        return [
            MetricPoint(metric_name, float(v), int(x), float(x))
            for x, v in zip(
                result.get("XAxisValues", []), result.get("MetricValues", []), strict=False
            )
        ]

    # artifacts ----------------------------------------------------------------------------
    def store_artifact_file(self, trial_component_name: str, path: Path, name: str) -> str:
        if not self.bucket or self.s3_client is None:
            raise TrackingError(
                "SageMakerStore needs an S3 bucket for artifact files: "
                "SageMakerStore(bucket=...) or 'sagemaker://?bucket=...'"
            )
        key = f"{self.prefix}/{trial_component_name}/{name}".lstrip("/")
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.s3_client.upload_file(str(path), self.bucket, key)
        except (BotoCoreError, ClientError, OSError) as exc:
            raise TrackingError(
                f"cannot upload {str(path)!r} to s3://{self.bucket}/{key}: {exc}"
            ) from exc
        return f"s3://{self.bucket}/{key}"


def _check_display_name(operation: str, value: str | None) -> None:
    """SpecError unless ``value`` (when given) fits the ``DisplayName`` rule of
    ``operation`` in botocore's service model."""
    if not value:
        return  # the name is sent instead
    from sagescale._botocore import string_rule

    low, high, pattern = string_rule(operation, "DisplayName")
    fits = (low is None or len(value) >= low) and (high is None or len(value) <= high)
    if fits and (pattern is None or re.fullmatch(pattern, value)):
        return
    raise SpecError(
        f"display_name={value!r} is not a valid SageMaker Experiments display name: "
        f"{low}-{high} characters matching {pattern} (letters, digits and hyphens, starting "
        f"and ending with a letter or digit), the rule of {operation}'s DisplayName; only "
        "the SQLite and MLflow stores take free text",
        field="display_name",
        value=value,
    )


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))


def _server_error(exc: Any) -> bool:
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return isinstance(status, int) and status >= 500


def _translate(operation: str, exc: Any) -> Exception:
    error = exc.response.get("Error", {})
    code, message = str(error.get("Code", "")), str(error.get("Message", exc))
    if code in ("ResourceNotFound", "ResourceNotFoundException") or (
        code == "ValidationException" and any(h in message.lower() for h in _NOT_FOUND_HINTS)
    ):
        return NotFoundError(f"{operation}: {message}")
    return TrackingError(f"{operation} failed: {code}: {message}")


def _finite(component: str, points: Sequence[MetricPoint]) -> Sequence[MetricPoint]:
    """``points`` without NaN and infinite values, with a warning saying what was skipped."""
    skipped = Counter(p.name for p in points if not math.isfinite(p.value))
    if not skipped:
        return points
    counts = ", ".join(
        f"{n} point{'s' if n > 1 else ''} of metric {name!r}" for name, n in skipped.items()
    )
    warnings.warn(
        f"trial component {component!r}: skipped {counts} with a NaN or infinite value "
        "(SageMaker's BatchPutMetrics takes only finite numbers)",
        MetricValueWarning,
        stacklevel=3,
    )
    return [p for p in points if math.isfinite(p.value)]


def _raw(p: MetricPoint) -> dict[str, Any]:
    data: dict[str, Any] = {
        "MetricName": p.name,
        "Timestamp": datetime.fromtimestamp(p.timestamp, tz=timezone.utc),
        "Value": p.value,
    }
    if p.step is not None:
        data["Step"] = int(p.step)
    return data


def _param_value(value: Mapping[str, Any]) -> ParameterValue:
    if "NumberValue" in value:
        return float(value["NumberValue"])
    return str(value.get("StringValue", ""))


def _artifact_records(value: Mapping[str, Any] | None) -> dict[str, Artifact]:
    return {k: Artifact(v["Value"], v.get("MediaType")) for k, v in (value or {}).items()}


def _summary(m: Mapping[str, Any]) -> MetricSummary:
    return MetricSummary(
        name=m["MetricName"],
        count=int(m.get("Count", 0)),
        min=float(m.get("Min", "nan")),
        max=float(m.get("Max", "nan")),
        avg=float(m.get("Avg", "nan")),
        std_dev=float(m.get("StdDev", "nan")),
        last=float(m.get("Last", "nan")),
    )
