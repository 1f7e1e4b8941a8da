"""The base of every spec model: strict pydantic, errors as :class:`SpecError`."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from sagescale.errors import SpecError

__all__ = ["SpecModel", "SpecRule", "SpecWarning", "spec_error", "warn_spec"]


class SpecWarning(UserWarning):
    """A spec is valid but goes against SageMaker's best practices."""


def warn_spec(message: str) -> None:
    warnings.warn(message, SpecWarning, stacklevel=3)


# Union-member tags pydantic puts in an error's location: not user fields.
_UNION_TAGS = frozenset(
    {"str", "int", "float", "bool", "Channel"}
    | {"data_parallel", "model_parallel", "torch_distributed"}
    | {"integer", "continuous", "categorical"}
)
# Fields whose value (``1``) or whose dict values (``2``) are unions pydantic tags.
_UNION_FIELDS = {"distribution": 1, "hyperparameters": 2, "inputs": 2, "hyperparameter_ranges": 2}


class SpecRule(ValueError):
    """A rule broken inside a validator, naming the field (relative to where it is raised).

    ``field`` is appended to the location pydantic reports (``""`` = that location itself);
    ``value`` replaces the input pydantic reports when given.
    """

    _NO_VALUE: ClassVar[object] = object()

    def __init__(self, rule: str, *, field: str = "", value: object = _NO_VALUE) -> None:
        super().__init__(rule)
        self.rule = rule
        self.field = field
        self.value = value


def _is_tag(loc: tuple[int | str, ...], index: int) -> bool:
    item = loc[index]
    if not isinstance(item, str):
        return False
    if "[" in item or item.startswith("function-"):
        return True
    if item not in _UNION_TAGS or index == 0:
        return False
    before = loc[index - 1]
    if isinstance(before, int) or _UNION_FIELDS.get(str(before)) == 1:
        return True
    return index >= 2 and _UNION_FIELDS.get(str(loc[index - 2])) == 2


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for index, item in enumerate(loc):
        if _is_tag(loc, index):
            continue  # pydantic's union-branch tags, not user fields
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + (item or "''"))
    return "".join(parts)


def _join(location: str, field: str) -> str:
    if not location or not field:
        return location or field
    return location + field if field.startswith("[") else f"{location}.{field}"


def _show(value: object) -> str:
    shown = "{...}" if isinstance(value, dict) else repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _one_error(err: Any, model: str) -> tuple[str, object, str]:
    """(field, value, line) for one pydantic error."""
    location = _location(tuple(err["loc"]))
    cause = (err.get("ctx") or {}).get("error")
    if isinstance(cause, SpecRule):
        field = _join(location, cause.field)
        value = err.get("input") if cause.value is SpecRule._NO_VALUE else cause.value
        return field, value, f"{field} = {_show(value)}: {cause.rule}"
    msg = str(err["msg"]).removeprefix("Value error, ")
    value = err.get("input")
    if not err["loc"] and err["type"] == "json_invalid":
        return model, value, f"{model} is not valid JSON: {msg}"
    if not err["loc"]:
        what = type(value).__name__
        return model, value, f"{model} must be a mapping of field names to values, got {what}"
    return location, value, f"{location} = {_show(value)}: {msg}"


def spec_error(exc: ValidationError, model: str) -> SpecError:
    """One :class:`SpecError` naming every broken field, its value and the rule."""
    found: list[tuple[str, object, str]] = []
    for err in exc.errors(include_url=False):
        field, value, line = _one_error(err, model)
        if found and found[-1][0] == field:  # one value that fits no member of a union
            found[-1] = (field, value, found[-1][2] + " | " + line.split(": ", 1)[-1])
        else:
            found.append((field, value, line))
    lines = [line for _, _, line in found]
    head = f"invalid {model}: " if len(lines) == 1 else f"invalid {model} ({len(lines)} errors): "
    field, value, _ = found[0]
    return SpecError(head + "; ".join(lines), field=field, value=value)


class SpecModel(BaseModel):
    """Strict, frozen pydantic model whose validation errors are :class:`SpecError`."""

    model_config: ClassVar[ConfigDict] = ConfigDict(
        extra="forbid", frozen=True, validate_default=True, populate_by_name=True
    )

    def __init__(self, /, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise spec_error(exc, type(self).__name__) from None

    # Nested models are validated by pydantic's own machinery, not through this __init__, so
    # one error lists every broken field with its full location (what pydantic-settings does).
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, obj: Any, **options: Any) -> Self:
        try:
            return super().model_validate(obj, **options)
        except ValidationError as exc:
            raise spec_error(exc, cls.__name__) from None

    @classmethod
    def model_validate_json(cls, json_data: str | bytes | bytearray, **options: Any) -> Self:
        try:
            return super().model_validate_json(json_data, **options)
        except ValidationError as exc:
            raise spec_error(exc, cls.__name__) from None

    @classmethod
    def model_validate_strings(cls, obj: Any, **options: Any) -> Self:
        try:
            return super().model_validate_strings(obj, **options)
        except ValidationError as exc:
            raise spec_error(exc, cls.__name__) from None

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, with the same field names as YAML/JSON."""
        return self.model_dump(mode="json", exclude_none=True)
