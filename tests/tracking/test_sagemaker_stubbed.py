"""SageMakerStore requests the moto server cannot check: botocore's Stubber, no network.

Stubber validates each request against the service model too; every response is shaped
like the real service's (display names, descriptions, tags, Source, BatchGetMetrics).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any

import boto3
import pytest
from botocore.stub import ANY, Stubber

from sagescale._botocore import string_rule
from sagescale.errors import NotFoundError, SpecError, TrackingError
from sagescale.tracking import NAME_PATTERN, Artifact, MetricPoint, MetricValueWarning
from sagescale.tracking._sagemaker import SageMakerStore

ARN = "arn:aws:sagemaker:us-east-1:111122223333"
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def stubbed() -> Iterator[tuple[SageMakerStore, Stubber, Stubber]]:
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    sm = session.client("sagemaker")
    metrics = session.client("sagemaker-metrics")
    store = SageMakerStore(client=sm, metrics_client=metrics)
    with Stubber(sm) as s1, Stubber(metrics) as s2:
        yield store, s1, s2
        s1.assert_no_pending_responses()
        s2.assert_no_pending_responses()


def _not_found(stub: Stubber, operation: str, params: dict[str, Any]) -> None:
    stub.add_client_error(
        operation,
        service_error_code="ResourceNotFound",
        service_message="not found",
        http_status_code=400,
        expected_params=params,
    )


def test_experiment_fields_are_sent_and_read(stubbed: Any) -> None:
    store, sm, _ = stubbed
    _not_found(sm, "describe_experiment", {"ExperimentName": "churn"})
    sm.add_response(
        "create_experiment",
        {"ExperimentArn": f"{ARN}:experiment/churn"},
        {
            "ExperimentName": "churn",
            "DisplayName": "Churn",
            "Description": "predict churn",
            "Tags": [{"Key": "team", "Value": "ml"}],
        },
    )
    sm.add_response(
        "describe_experiment",
        {
            "ExperimentName": "churn",
            "ExperimentArn": f"{ARN}:experiment/churn",
            "DisplayName": "Churn",
            "Description": "predict churn",
            "CreationTime": NOW,
        },
        {"ExperimentName": "churn"},
    )
    sm.add_response(
        "list_tags",
        {"Tags": [{"Key": "team", "Value": "ml"}]},
        {"ResourceArn": f"{ARN}:experiment/churn"},
    )
    rec = store.create_experiment(
        "churn", display_name="Churn", description="predict churn", tags={"team": "ml"}
    )
    assert (rec.display_name, rec.description, dict(rec.tags)) == (
        "Churn",
        "predict churn",
        {"team": "ml"},
    )
    assert rec.creation_time == NOW


def _known(store: SageMakerStore, name: str) -> None:
    store._known_components.add(name)


def test_metrics_go_in_batches_of_ten(stubbed: Any) -> None:
    store, _, metrics = stubbed
    _known(store, "tc")
    now = time.time()
    points = [MetricPoint("loss", float(i), i if i % 2 else None, now) for i in range(25)]
    for _ in range(3):
        metrics.add_response(
            "batch_put_metrics", {}, {"TrialComponentName": "tc", "MetricData": ANY}
        )
    sent: list[list[dict[str, Any]]] = []
    store.metrics_client.meta.events.register(
        "provide-client-params.sagemaker-metrics.BatchPutMetrics",
        lambda params, **_: sent.append(params["MetricData"]),
    )
    store.log_metrics("tc", points)
    assert [len(batch) for batch in sent] == [10, 10, 5]
    assert "Step" not in sent[0][0] and sent[0][1]["Step"] == 1


def test_non_finite_values_are_skipped_with_a_warning_before_sending(stubbed: Any) -> None:
    """BatchPutMetrics takes JSON numbers: NaN/inf points are left out of the request (as the
    SageMaker SDK's Run does), with a warning counting them per metric."""
    store, _, metrics = stubbed
    _known(store, "tc")
    now = time.time()
    values = [1.0, float("nan"), float("inf"), 2.0, float("-inf")]
    points = [MetricPoint("loss", v, i, now) for i, v in enumerate(values)]
    points.append(MetricPoint("acc", float("nan"), 0, now))
    metrics.add_response("batch_put_metrics", {}, {"TrialComponentName": "tc", "MetricData": ANY})
    sent: list[list[dict[str, Any]]] = []
    store.metrics_client.meta.events.register(
        "provide-client-params.sagemaker-metrics.BatchPutMetrics",
        lambda params, **_: sent.append(params["MetricData"]),
    )
    with pytest.warns(MetricValueWarning) as caught:
        store.log_metrics("tc", points)
    assert [str(w.message) for w in caught] == [
        "trial component 'tc': skipped 3 points of metric 'loss', 1 point of metric 'acc' "
        "with a NaN or infinite value (SageMaker's BatchPutMetrics takes only finite numbers)"
    ]
    assert [[(d["MetricName"], d["Value"], d["Step"]) for d in b] for b in sent] == [
        [("loss", 1.0, 0), ("loss", 2.0, 3)]
    ]
    with pytest.warns(MetricValueWarning, match="1 point of metric 'loss'"):
        store.log_metrics("tc", [MetricPoint("loss", float("nan"), 9, now)])  # nothing sent
    assert len(sent) == 1


def test_points_outside_the_time_window_are_refused_before_sending(stubbed: Any) -> None:
    store, _, _ = stubbed
    _known(store, "tc")
    old = time.time() - 15 * 24 * 3600
    with pytest.raises(TrackingError, match="outside the window"):
        store.log_metrics("tc", [MetricPoint("loss", 1.0, 0, old)])
    with pytest.raises(TrackingError, match="outside the window"):
        store.log_metrics("tc", [MetricPoint("loss", 1.0, 0, time.time() + 3 * 3600)])


def test_rejected_points_raise(stubbed: Any) -> None:
    store, _, metrics = stubbed
    _known(store, "tc")
    metrics.add_response(
        "batch_put_metrics",
        {"Errors": [{"Code": "METRIC_LIMIT_EXCEEDED", "MetricIndex": 0}]},
        {"TrialComponentName": "tc", "MetricData": ANY},
    )
    with pytest.raises(TrackingError, match="METRIC_LIMIT_EXCEEDED"):
        store.log_metrics("tc", [MetricPoint("loss", 1.0, 0, time.time())])


def test_invalid_requests_never_leave_the_process(stubbed: Any) -> None:
    store, _, _ = stubbed
    _known(store, "tc")
    with pytest.raises(TrackingError, match="invalid request"):
        store._call("UpdateTrialComponent", TrialComponentName="tc", Status={"Primary": "x"})
    with pytest.raises(TrackingError, match="invalid request"):
        store._call("CreateTrial", TrialName="t")  # ExperimentName is required


def test_metric_series_through_batch_get_metrics(stubbed: Any) -> None:
    store, sm, metrics = stubbed
    arn = f"{ARN}:experiment-trial-component/tc"
    sm.add_response(
        "describe_trial_component",
        {"TrialComponentName": "tc", "TrialComponentArn": arn},
        {"TrialComponentName": "tc"},
    )
    metrics.add_response(
        "batch_get_metrics",
        {
            "MetricQueryResults": [
                {"Status": "Complete", "XAxisValues": [0, 1], "MetricValues": [0.5, 0.25]}
            ]
        },
        {
            "MetricQueries": [
                {
                    "MetricName": "loss",
                    "ResourceArn": arn,
                    "MetricStat": "Last",
                    "Period": "IterationNumber",
                    "XAxisType": "IterationNumber",
                }
            ]
        },
    )
    series = store.metric_series("tc", "loss")
    assert [(p.step, p.value) for p in series] == [(0, 0.5), (1, 0.25)]


def test_component_record_prefers_the_service_source(stubbed: Any) -> None:
    store, sm, _ = stubbed
    arn = f"{ARN}:experiment-trial-component/job-aws-training-job"
    sm.add_response(
        "describe_trial_component",
        {
            "TrialComponentName": "job-aws-training-job",
            "TrialComponentArn": arn,
            "DisplayName": "job",
            "Source": {
                "SourceArn": f"{ARN}:training-job/job",
                "SourceType": "SageMakerTrainingJob",
            },
            "Status": {"PrimaryStatus": "Failed", "Message": "OOM"},
            "Parameters": {"lr": {"NumberValue": 0.1}, "opt": {"StringValue": "adam"}},
            "InputArtifacts": {"train": {"Value": "s3://b/train", "MediaType": "text/csv"}},
            "Metrics": [
                {
                    "MetricName": "loss",
                    "Count": 2,
                    "Min": 0.1,
                    "Max": 0.5,
                    "Avg": 0.3,
                    "StdDev": 0.2,
                    "Last": 0.1,
                }
            ],
        },
        {"TrialComponentName": "job-aws-training-job"},
    )
    sm.add_response(
        "list_tags",
        {"Tags": [{"Key": "sagescale:source-arn", "Value": "ignored"}, {"Key": "k", "Value": "v"}]},
        {"ResourceArn": arn},
    )
    sm.add_response(
        "list_trials",
        {"TrialSummaries": []},
        {
            "TrialComponentName": "job-aws-training-job",
            "SortBy": "CreationTime",
            "SortOrder": "Ascending",
        },
    )
    rec = store.describe_trial_component("job-aws-training-job")
    assert rec.source_arn == f"{ARN}:training-job/job"
    assert (rec.status, rec.status_message) == ("Failed", "OOM")
    assert rec.parameters == {"lr": 0.1, "opt": "adam"}
    assert rec.input_artifacts == {"train": Artifact("s3://b/train", "text/csv")}
    assert rec.metrics["loss"].std_dev == 0.2 and dict(rec.tags) == {"k": "v"}


def test_missing_names_become_not_found(stubbed: Any) -> None:
    store, sm, _ = stubbed
    _not_found(sm, "describe_trial", {"TrialName": "t"})
    with pytest.raises(NotFoundError):
        store.describe_trial("t")
    sm.add_client_error(
        "describe_trial",
        service_error_code="ThrottlingException",
        http_status_code=400,
        expected_params={"TrialName": "t"},
    )
    with pytest.raises(TrackingError, match="ThrottlingException"):
        store.describe_trial("t")


def _server_error(stub: Stubber, operation: str, params: dict[str, Any]) -> None:
    stub.add_client_error(
        operation,
        service_error_code="InternalFailure",
        service_message="We encountered an internal error. Please try again.",
        http_status_code=500,
        expected_params=params,
    )


def _search(stub: Stubber, resource: str, key: str, name: str, results: list[Any]) -> None:
    stub.add_response(
        "search",
        {"Results": results},
        {
            "Resource": resource,
            "SearchExpression": {"Filters": [{"Name": key, "Operator": "Equals", "Value": name}]},
        },
    )


def test_a_server_error_on_a_record_that_exists_is_not_not_found(stubbed: Any) -> None:
    """A transient HTTP 500 from Describe* was reported as a missing record (a rule written
    for moto's KeyError), so callers created it again or gave up on it: not found now needs
    Search to list no such record."""
    store, sm, _ = stubbed
    _server_error(sm, "describe_experiment", {"ExperimentName": "churn"})
    _search(
        sm, "Experiment", "ExperimentName", "churn", [{"Experiment": {"ExperimentName": "churn"}}]
    )
    with pytest.raises(TrackingError, match="InternalFailure") as info:
        store.describe_experiment("churn")
    assert not isinstance(info.value, NotFoundError)
    _server_error(sm, "describe_trial_component", {"TrialComponentName": "tc"})
    _search(sm, "ExperimentTrialComponent", "TrialComponentName", "tc", [{"TrialComponent": {}}])
    with pytest.raises(TrackingError, match="InternalFailure"):
        store.describe_trial_component("tc")
    # Search failing as well cannot rule the record out
    _server_error(sm, "describe_trial", {"TrialName": "t"})
    sm.add_client_error("search", service_error_code="InternalFailure", http_status_code=500)
    with pytest.raises(TrackingError, match="DescribeTrial failed: InternalFailure") as info:
        store.describe_trial("t")
    assert not isinstance(info.value, NotFoundError)


def test_a_server_error_on_a_record_search_does_not_list_is_not_found(stubbed: Any) -> None:
    store, sm, _ = stubbed
    _server_error(sm, "describe_experiment", {"ExperimentName": "gone"})
    _search(sm, "Experiment", "ExperimentName", "gone", [])
    with pytest.raises(NotFoundError, match="Search lists no such record"):
        store.describe_experiment("gone")


def test_artifact_files_need_a_bucket(stubbed: Any, tmp_path: Any) -> None:
    store, _, _ = stubbed
    path = tmp_path / "f.txt"
    path.write_text("x")
    with pytest.raises(TrackingError, match="bucket"):
        store.store_artifact_file("tc", path, "f.txt")


def test_search_goes_to_the_search_api_page_by_page(stubbed: Any) -> None:
    store, sm, _ = stubbed
    expr = {"Filters": [{"Name": "Metrics.loss.Min", "Operator": "LessThan", "Value": "0.1"}]}
    base = {"Resource": "ExperimentTrialComponent", "SearchExpression": expr}
    sm.add_response("search", {"Results": [], "NextToken": "page-2"}, base)
    sm.add_response(
        "search",
        {"Results": [{"Trial": {"TrialName": "ignored"}}]},
        {**base, "NextToken": "page-2"},
    )
    assert store.search_trial_components(expr) == []


@pytest.mark.parametrize(
    "create",
    [
        lambda s: s.create_experiment("churn", display_name="Churn model (v2)"),
        lambda s: s.create_trial("t", experiment_name="churn", display_name="trial_1"),
        lambda s: s.create_trial_component("tc", display_name="-leading-hyphen"),
        lambda s: s.create_trial_component("tc", display_name="x" * 121),
    ],
)
def test_a_display_name_sagemaker_refuses_is_a_spec_error_before_any_call(
    stubbed: Any, create: Any
) -> None:
    """SageMaker's DisplayName follows the entity-name pattern of the service model (botocore
    does not check patterns, so the service refused it, after the existence checks ran)."""
    store, _, _ = stubbed  # nothing queued: any request would fail the Stubber
    with pytest.raises(SpecError, match="display_name=") as info:
        create(store)
    assert info.value.field == "display_name"
    _, _, pattern = string_rule("CreateTrialComponent", "DisplayName")
    assert pattern is not None and pattern in str(info.value)


def test_display_name_rule_is_botocores_entity_name_rule() -> None:
    for operation in ("CreateExperiment", "CreateTrial", "CreateTrialComponent"):
        assert string_rule(operation, "DisplayName") == (1, 120, NAME_PATTERN.strip("^$"))
