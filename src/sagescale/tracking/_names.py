"""Name rules of SageMaker Experiments (stdlib only: importable inside a training job)."""

from __future__ import annotations

import re
import secrets
from datetime import datetime, timezone

from sagescale.errors import SpecError

__all__ = ["NAME_MAX", "NAME_PATTERN", "check_name", "generate_name", "sanitize_name"]

NAME_MAX = 120
NAME_PATTERN = r"^[a-zA-Z0-9](-*[a-zA-Z0-9]){0,119}$"
_NAME = re.compile(NAME_PATTERN)
_BAD = re.compile(r"[^a-zA-Z0-9-]+")


def check_name(value: object, *, field: str = "name") -> str:
    """Return ``value`` if it is a valid experiment/trial/component name, else raise SpecError."""
    if not isinstance(value, str):
        raise SpecError(
            f"{field} must be a string, got {type(value).__name__} {value!r}",
            field=field,
            value=value,
        )
    if len(value) > NAME_MAX or not _NAME.fullmatch(value):
        raise SpecError(
            f"{field}={value!r} is not a valid name: 1-{NAME_MAX} characters of letters, "
            f"digits and hyphens, starting with a letter or digit, no trailing hyphen "
            f"(pattern {NAME_PATTERN})",
            field=field,
            value=value,
        )
    return value


def sanitize_name(value: str, *, limit: int = NAME_MAX) -> str:
    """Turn free text (a base job name) into a valid name: bad runs become one hyphen."""
    cleaned = _BAD.sub("-", value).strip("-")[:limit].strip("-")
    return cleaned or "default"


def generate_name(prefix: str) -> str:
    """``<prefix>-YYYY-mm-dd-HHMMSS-<hex>``, valid and unique enough for auto-created names."""
    now = datetime.now(timezone.utc).strftime("%Y-%m-%d-%H%M%S")
    suffix = f"{now}-{secrets.token_hex(3)}"
    base = sanitize_name(prefix, limit=NAME_MAX - len(suffix) - 1)
    return f"{base}-{suffix}"
