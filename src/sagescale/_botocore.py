"""Validation of rendered requests against botocore's own SageMaker service model."""

from __future__ import annotations

from functools import cache
from typing import Any

__all__ = ["enum_values", "string_rule", "validate_request"]


@cache
def _service_model(service: str) -> Any:
    import botocore.session

    return botocore.session.get_session().get_service_model(service)


def validate_request(
    operation: str, request: dict[str, Any], *, service: str = "sagemaker"
) -> None:
    """Raise ``botocore.exceptions.ParamValidationError`` if ``request`` breaks the model."""
    from botocore.validate import validate_parameters

    shape = _service_model(service).operation_model(operation).input_shape
    validate_parameters(request, shape)


@cache
def string_rule(
    operation: str, member: str, *, service: str = "sagemaker"
) -> tuple[int | None, int | None, str | None]:
    """``(min, max, pattern)`` of a string member of an operation's request, from the
    service model (botocore checks the lengths, never the pattern)."""
    shape = _service_model(service).operation_model(operation).input_shape.members[member]
    meta = shape.metadata
    return meta.get("min"), meta.get("max"), meta.get("pattern")


@cache
def enum_values(shape: str, *, service: str = "sagemaker") -> frozenset[str]:
    """The values an enum shape of the service model allows (botocore does not check them)."""
    return frozenset(_service_model(service).shape_for(shape).enum)
