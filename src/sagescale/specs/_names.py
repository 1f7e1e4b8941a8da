"""Name rules of the SageMaker API, shared by every spec."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timezone

from sagescale.errors import SpecError

__all__ = [
    "JOB_NAME_PATTERN",
    "check_experiment_name",
    "check_job_name",
    "check_s3_uri",
    "check_tuning_job_name",
    "checked_name",
    "unique_name",
]

JOB_NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}$"
_JOB_NAME = re.compile(JOB_NAME_PATTERN)
_TUNING_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,31}$")
_EXPERIMENT_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}$")


def _check(value: str, pattern: re.Pattern[str], what: str, limit: int) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(
            f"{what} must be 1-{limit} characters of letters, digits and hyphens, "
            f"start with a letter or digit and not end with a hyphen "
            f"(pattern {pattern.pattern})"
        )
    return value


def check_job_name(value: str) -> str:
    return _check(value, _JOB_NAME, "a training job name", 63)


def check_tuning_job_name(value: str) -> str:
    return _check(value, _TUNING_NAME, "a tuning job name", 32)


def check_experiment_name(value: str) -> str:
    return _check(value, _EXPERIMENT_NAME, "an experiment name", 120)


#: S3's rules for bucket names (general purpose buckets), checked in every spec field that
#: takes an ``s3://`` URI.
S3_BUCKET_RULE = (
    "an S3 bucket name is 3-63 characters of lowercase letters, digits, dots and hyphens, "
    "begins and ends with a letter or digit, has no two dots in a row and is not an IP address"
)
_S3_BUCKET_CHARS = re.compile(r"[a-z0-9.\-]+")
_IP_ADDRESS = re.compile(r"\d{1,3}(\.\d{1,3}){3}")


def _bucket_problem(bucket: str) -> str | None:
    if not 3 <= len(bucket) <= 63:
        return f"is {len(bucket)} characters long"
    if not _S3_BUCKET_CHARS.fullmatch(bucket):
        bad = next(c for c in bucket if not _S3_BUCKET_CHARS.fullmatch(c))
        return f"holds {bad!r}"
    if not (bucket[0].isalnum() and bucket[-1].isalnum()):
        return "does not begin and end with a letter or digit"
    if ".." in bucket:
        return "has two dots in a row"
    if _IP_ADDRESS.fullmatch(bucket):
        return "is an IP address"
    return None


def check_s3_uri(value: str) -> str:
    """``value`` unchanged; an ``s3://`` URI (any case of the scheme) must name a bucket that
    follows S3's bucket naming rules. Anything else (a local path, ``file://``) passes."""
    if value[:5].lower() != "s3://":
        return value
    bucket = value[5:].partition("/")[0]
    if not bucket:
        raise ValueError(f"an s3:// URI must name a bucket (s3://<bucket>/<key>); {S3_BUCKET_RULE}")
    problem = _bucket_problem(bucket)
    if problem is not None:
        raise ValueError(f"bucket {bucket!r} {problem}: {S3_BUCKET_RULE}")
    return value


def checked_name(check: Callable[[str], str], value: str, field: str) -> str:
    """``check(value)``, its ``ValueError`` raised as a :class:`SpecError` naming ``field``."""
    if not isinstance(value, str):
        raise SpecError(f"{field} = {value!r}: must be a string", field=field, value=value)
    try:
        return check(value)
    except ValueError as exc:
        raise SpecError(f"{field} = {value!r}: {exc}", field=field, value=value) from None


def unique_name(base: str, *, limit: int = 63, now: datetime | None = None) -> str:
    """``<base>-<yyyy-mm-dd-HH-MM-SS-mmm>``, with ``base`` cut to fit ``limit``.

    The same rule as the SageMaker SDK's ``name_from_base``; tuning jobs use a shorter
    ``<base>-<yymmdd-HHMM-SS-mmm>``-style suffix via ``limit=32``.
    """
    now = now or datetime.now(timezone.utc)
    if limit <= 32:
        suffix = now.strftime("%y%m%d-%H%M%S") + f"-{now.microsecond // 1000:03d}"
    else:
        suffix = now.strftime("%Y-%m-%d-%H-%M-%S") + f"-{now.microsecond // 1000:03d}"
    room = limit - len(suffix) - 1
    trimmed = base[:room].rstrip("-") or "job"
    return f"{trimmed}-{suffix}"
