"""Calls moto does not implement (StopTrainingJob, jobs in progress, AWS errors), with
botocore's Stubber: requests and responses are still validated against the service model."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from botocore.stub import Stubber

from sagescale.backends import JobStatus
from sagescale.backends.sagemaker import RETRY_CONFIG, SageMakerBackend
from sagescale.errors import BackendError, JobFailedError, NotFoundError
from sagescale.specs import TrainingJob

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=timezone.utc)


def describe_response(
    name: str, status: str, secondary: str, transitions: list[tuple[str, str]], **extra: Any
) -> dict[str, Any]:
    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:us-east-1:123456789012:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": f"s3://b/{name}/output/model.tar.gz"},
        "TrainingJobStatus": status,
        "SecondaryStatus": secondary,
        "AlgorithmSpecification": {"TrainingImage": "img:1", "TrainingInputMode": "File"},
        "ResourceConfig": {
            "InstanceType": "ml.m5.xlarge",
            "InstanceCount": 1,
            "VolumeSizeInGB": 30,
        },
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": T0,
        "SecondaryStatusTransitions": [
            {"Status": s, "StartTime": T0 + timedelta(minutes=i), "StatusMessage": m}
            for i, (s, m) in enumerate(transitions)
        ],
        **extra,
    }


@pytest.fixture
def stub(backend: SageMakerBackend) -> Iterator[Stubber]:
    stubber = Stubber(backend.aws.client("sagemaker"))
    with stubber:
        yield stubber
    stubber.assert_no_pending_responses()


STARTING = ("Starting", "Preparing the instances for training")
TRAINING = ("Training", "Training image download completed. Training in progress.")


def test_wait_shows_each_transition_once(
    backend: SageMakerBackend, stub: Stubber, capsys: pytest.CaptureFixture[str]
) -> None:
    params = {"TrainingJobName": "job-1"}
    stub.add_response(
        "describe_training_job",
        describe_response("job-1", "InProgress", "Starting", [STARTING]),
        params,
    )
    stub.add_response(
        "describe_training_job",
        describe_response("job-1", "InProgress", "Starting", [STARTING]),
        params,
    )
    stub.add_response(
        "describe_training_job",
        describe_response("job-1", "InProgress", "Training", [STARTING, TRAINING]),
        params,
    )
    done = describe_response(
        "job-1",
        "Completed",
        "Completed",
        [STARTING, TRAINING],
        TrainingStartTime=T0,
        TrainingEndTime=T0 + timedelta(minutes=5),
        BillableTimeInSeconds=300,
        FinalMetricDataList=[{"MetricName": "loss", "Value": 0.25, "Timestamp": T0}],
    )
    stub.add_response("describe_training_job", done, params)
    description = backend.wait("job-1")
    out = capsys.readouterr().out
    assert out.count("Starting - Preparing the instances for training") == 1
    assert out.count("Training - Training image download completed") == 1
    assert description.status is JobStatus.COMPLETED
    assert description.final_metrics == {"loss": 0.25}
    assert description.elapsed_seconds == 300


def test_wait_raises_on_failure_only_when_asked(backend: SageMakerBackend, stub: Stubber) -> None:
    failed = describe_response(
        "job-2", "Failed", "Failed", [STARTING], FailureReason="AlgorithmError: boom"
    )
    stub.add_response("describe_training_job", failed)
    assert backend.wait("job-2").failure_reason == "AlgorithmError: boom"
    stub.add_response("describe_training_job", failed)
    with pytest.raises(JobFailedError, match="boom") as info:
        backend.wait("job-2", raise_on_failure=True)
    assert info.value.job_name == "job-2" and info.value.status == "Failed"


def test_wait_times_out(backend: SageMakerBackend, stub: Stubber) -> None:
    for _ in range(3):
        stub.add_response(
            "describe_training_job", describe_response("job-3", "InProgress", "Starting", [])
        )
    backend.poll_interval = 0.05
    with pytest.raises(BackendError, match=r"wait \[job-3\]: timed out"):
        backend.wait("job-3", timeout=0.08)
    while stub._queue:  # the test ends before every response is used
        stub._queue.popleft()


def test_wait_never_sleeps_past_its_timeout(
    backend: SageMakerBackend, stub: Stubber, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A poll interval longer than the timeout is cut to the deadline (was: a full poll)."""
    for _ in range(2):
        stub.add_response(
            "describe_training_job", describe_response("job-4", "InProgress", "Starting", [])
        )
    slept: list[float] = []
    real_sleep = time.sleep
    monkeypatch.setattr(time, "sleep", lambda s: (slept.append(s), real_sleep(s))[1])
    backend.poll_interval = 30.0
    with pytest.raises(BackendError, match=r"wait \[job-4\]: timed out"):
        backend.wait("job-4", timeout=0.2)
    assert slept and all(0 <= s <= 0.2 for s in slept), slept


def test_stop_a_running_job(backend: SageMakerBackend, stub: Stubber) -> None:
    stub.add_response(
        "describe_training_job",
        describe_response("job-4", "InProgress", "Training", [STARTING, TRAINING]),
    )
    stub.add_response("stop_training_job", {}, {"TrainingJobName": "job-4"})
    backend.stop("job-4")
    stub.add_response(
        "describe_training_job", describe_response("job-4", "Stopping", "Stopping", [])
    )
    backend.stop("job-4")  # already stopping: no second call


def test_stop_races_with_the_end_of_the_job(backend: SageMakerBackend, stub: Stubber) -> None:
    stub.add_response(
        "describe_training_job", describe_response("job-5", "InProgress", "Training", [])
    )
    stub.add_client_error("stop_training_job", "ValidationException", "The job is not in progress")
    stub.add_response(
        "describe_training_job", describe_response("job-5", "Completed", "Completed", [])
    )
    backend.stop("job-5")


def test_aws_errors_name_the_call_and_the_job(
    backend: SageMakerBackend, stub: Stubber, source_dir: Path
) -> None:
    stub.add_client_error(
        "describe_training_job", "ValidationException", "Requested resource not found."
    )
    stub.add_client_error(
        "create_training_job", "ResourceLimitExceeded", "The account-level service limit is 0"
    )
    job = TrainingJob(entry_point="train.py", source_dir=str(source_dir))
    with pytest.raises(BackendError) as info:
        backend.submit(job, job_name="job-6")
    assert info.value.call == "CreateTrainingJob" and info.value.job_name == "job-6"
    assert str(info.value) == (
        "CreateTrainingJob [job-6]: ResourceLimitExceeded: The account-level service limit is 0"
    )
    stub.add_client_error("describe_training_job", "AccessDeniedException", "not authorized")
    with pytest.raises(BackendError, match=r"DescribeTrainingJob \[job-7\]: AccessDenied"):
        backend.describe("job-7")
    stub.add_client_error(
        "describe_training_job", "ValidationException", "Requested resource not found."
    )
    with pytest.raises(NotFoundError):
        backend.describe("job-8")
    # on a create call the same words name something the request refers to: a failed call
    # with its name and job, not a missing job
    stub.add_client_error(
        "describe_training_job", "ValidationException", "Requested resource not found."
    )
    stub.add_client_error(
        "create_training_job",
        "ValidationException",
        "Could not find role arn:aws:iam::123456789012:role/missing",
    )
    with pytest.raises(BackendError) as created:
        backend.submit(job, job_name="job-9")
    assert not isinstance(created.value, NotFoundError)
    assert created.value.call == "CreateTrainingJob" and created.value.job_name == "job-9"
    assert "Could not find role" in str(created.value)


def test_adaptive_retries(backend: SageMakerBackend) -> None:
    for service in ("sagemaker", "s3", "logs", "sts"):
        retries = backend.aws.client(service).meta.config.retries
        assert retries["mode"] == "adaptive"
    assert RETRY_CONFIG["mode"] == "adaptive"


class _Raw:
    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield self._body


def test_throttling_is_retried(backend: SageMakerBackend, job: TrainingJob, name: str) -> None:
    """The first two DescribeTrainingJob calls are throttled on the wire; adaptive retries
    get the answer from moto on the third."""
    from botocore.awsrequest import AWSResponse

    backend.submit(job, job_name=name)
    client = backend.aws.client("sagemaker")
    throttled: list[str] = []

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if len(throttled) >= 2:
            return None
        throttled.append(request.url)
        body = b'{"__type": "ThrottlingException", "message": "Rate exceeded"}'
        headers = {"Content-Type": "application/x-amz-json-1.1"}
        return AWSResponse(request.url, 400, headers, _Raw(body))

    client.meta.events.register("before-send.sagemaker.DescribeTrainingJob", throttle)
    try:
        assert backend.describe(name).job_name == name
    finally:
        client.meta.events.unregister("before-send.sagemaker.DescribeTrainingJob", throttle)
    assert len(throttled) == 2


def test_logs_follow_the_token_past_an_empty_page(backend: SageMakerBackend, stub: Stubber) -> None:
    """GetLogEvents may answer an empty page while more events follow: the stream ends only
    when nextForwardToken comes back unchanged. Streams of several hosts merge in time order."""
    from sagescale.backends.sagemaker import LOG_GROUP

    stub.add_response(
        "describe_training_job", describe_response("job-9", "Completed", "Completed", [])
    )
    streams = ["job-9/algo-1-1700000000", "job-9/algo-2-1700000000"]
    with Stubber(backend.aws.client("logs")) as logs:
        logs.add_response(
            "describe_log_streams",
            {"logStreams": [{"logStreamName": s} for s in streams]},
            {"logGroupName": LOG_GROUP, "logStreamNamePrefix": "job-9/"},
        )

        def page(stream: str, token: str | None, events: list[tuple[int, str]], nxt: str) -> None:
            request: dict[str, Any] = {
                "logGroupName": LOG_GROUP,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if token is not None:
                request["nextToken"] = token
            response = {
                "events": [{"timestamp": t, "message": m} for t, m in events],
                "nextForwardToken": nxt,
                "nextBackwardToken": "b/0",
            }
            logs.add_response("get_log_events", response, request)

        page(streams[0], None, [], "f/1")  # empty, yet more follows
        page(streams[0], "f/1", [(1000, "epoch=0"), (3000, "epoch=1")], "f/2")
        page(streams[0], "f/2", [], "f/2")  # the same token: the end
        page(streams[1], None, [(2000, "worker up")], "f/a")
        page(streams[1], "f/a", [], "f/a")
        text = backend.logs("job-9")
        logs.assert_no_pending_responses()
    assert text == "[algo-1] epoch=0\n[algo-2] worker up\n[algo-1] epoch=1"
