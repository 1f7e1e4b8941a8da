"""CloudWatch Logs of training jobs (``/aws/sagemaker/TrainingJobs``) and metrics from them."""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sagescale.backends._base import MetricPoint
from sagescale.errors import NotFoundError

if TYPE_CHECKING:
    from sagescale.backends.sagemaker._aws import AwsContext

__all__ = ["LOG_GROUP", "LogCursor", "LogLine", "metrics_from_lines"]

LOG_GROUP = "/aws/sagemaker/TrainingJobs"


@dataclass(frozen=True)
class LogLine:
    """One log event: its host (``algo-1``), epoch-milliseconds timestamp and message."""

    host: str
    timestamp_ms: int
    message: str

    def render(self) -> str:
        return f"[{self.host}] {self.message}"


def _host(stream: str) -> str:
    # streams are "<job-name>/algo-1-1700000000"; the host is "algo-1"
    tail = stream.rsplit("/", 1)[-1]
    match = re.fullmatch(r"(algo-\d+)(?:-\d+)?", tail)
    return match.group(1) if match else tail


@dataclass
class LogCursor:
    """Reads a job's log streams incrementally: each ``read`` returns only new lines."""

    aws: AwsContext
    job_name: str
    _tokens: dict[str, str] = field(default_factory=dict)

    def _streams(self) -> list[str]:
        try:
            streams = self.aws.pages(
                "logs",
                "DescribeLogStreams",
                "logStreams",
                self.job_name,
                logGroupName=LOG_GROUP,
                logStreamNamePrefix=f"{self.job_name}/",
            )
        except NotFoundError:  # the log group appears with the first job of the account
            return []
        return sorted(str(s["logStreamName"]) for s in streams)

    def _read_stream(self, stream: str) -> list[LogLine]:
        lines: list[LogLine] = []
        host = _host(stream)
        while True:
            request: dict[str, Any] = {
                "logGroupName": LOG_GROUP,
                "logStreamName": stream,
                "startFromHead": True,
            }
            if stream in self._tokens:
                request["nextToken"] = self._tokens[stream]
            page = self.aws.call("logs", "GetLogEvents", self.job_name, **request)
            events = page.get("events", [])
            lines.extend(LogLine(host, int(e["timestamp"]), str(e["message"])) for e in events)
            token = page.get("nextForwardToken")
            previous = self._tokens.get(stream)
            if token:
                self._tokens[stream] = str(token)
            # the end of a stream is the token coming back unchanged: a page can be empty
            # while more events follow (GetLogEvents' documented behaviour)
            if token is None or token == previous:
                return lines

    def read(self) -> list[LogLine]:
        """New lines of every stream since the last call, in time order."""
        lines = [line for stream in self._streams() for line in self._read_stream(stream)]
        return sorted(lines, key=lambda line: line.timestamp_ms)


def metrics_from_lines(
    lines: Sequence[LogLine],
    definitions: Sequence[tuple[str, str]],
    names: Sequence[str] | None = None,
) -> list[MetricPoint]:
    """Match every line against every ``(name, regex)``, as SageMaker does: first group =
    value; ``step`` counts the values of one metric (0, 1, ...).

    On a job of several instances each metric is read from one host, the first that reports
    it (``algo-1`` normally): every host printing its loss would otherwise interleave into
    one series with twice the steps."""
    compiled = [(n, re.compile(r)) for n, r in definitions if names is None or n in names]
    hosts: dict[str, list[LogLine]] = {}
    for line in lines:
        hosts.setdefault(line.host, []).append(line)
    order = sorted(hosts, key=_host_order)
    points: list[MetricPoint] = []
    for name, regex in compiled:
        for host in order:
            found = _matches(hosts[host], name, regex)
            if found:
                points.extend(found)
                break
    return sorted(points, key=lambda p: p.timestamp)  # stable: steps stay in order


def _host_order(host: str) -> tuple[int, str]:
    match = re.fullmatch(r"algo-(\d+)", host)
    return (int(match.group(1)), host) if match else (sys.maxsize, host)


def _matches(lines: Sequence[LogLine], name: str, regex: re.Pattern[str]) -> list[MetricPoint]:
    points: list[MetricPoint] = []
    for line in lines:
        for match in regex.finditer(line.message):
            try:
                value = float(match.group(1))
            except (TypeError, ValueError, IndexError):
                continue
            points.append(MetricPoint(name, value, line.timestamp_ms / 1000.0, len(points)))
    return points
