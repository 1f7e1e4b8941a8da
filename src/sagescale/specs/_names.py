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
