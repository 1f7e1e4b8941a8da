"""The base of every spec model: strict pydantic, errors as :class:`SpecError`."""

from __future__ import annotations

import warnings
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, ValidationError
from typing_extensions import Self

from sagescale.errors import SpecError

__all__ = ["SpecModel", "SpecWarning", "spec_error", "warn_spec"]


class SpecWarning(UserWarning):
    """A spec is valid but goes against SageMaker's best practices."""


def warn_spec(message: str) -> None:
    warnings.warn(message, SpecWarning, stacklevel=3)


def _location(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif "[" in item or "-" in item or item.startswith("function-"):
            continue  # pydantic's union-branch tags, not user fields
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def spec_error(exc: ValidationError, model: str) -> SpecError:
    """One :class:`SpecError` naming every broken field, its value and the rule."""
    lines = []
    first_field: str | None = None
    first_value: object = None
    for err in exc.errors(include_url=False):
        field = _location(tuple(err["loc"]))
        msg = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        if not field:  # a rule across fields: its message starts with the field it names
            lines.append(msg)
            field = msg.split(" ", 1)[0].strip("(:,")
            value = None
        else:
            shown = repr(value) if not isinstance(value, dict) else "{...}"
            if len(shown) > 80:
                shown = shown[:77] + "..."
            lines.append(f"{field} = {shown}: {msg}")
        if first_field is None:
            first_field, first_value = field, value
    head = f"invalid {model}: " if len(lines) == 1 else f"invalid {model} ({len(lines)} errors): "
    return SpecError(head + "; ".join(lines), field=first_field, value=first_value)


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

    @classmethod
    def model_validate(
        cls,
        obj: Any,
        *,
        strict: bool | None = None,
        extra: Any = None,
        from_attributes: bool | None = None,
        context: Any | None = None,
        by_alias: bool | None = None,
        by_name: bool | None = None,
    ) -> Self:
        try:
            return super().model_validate(
                obj,
                strict=strict,
                from_attributes=from_attributes,
                context=context,
                by_alias=by_alias,
                by_name=by_name,
            )
        except ValidationError as exc:
            raise spec_error(exc, cls.__name__) from None

    def to_dict(self) -> dict[str, Any]:
        """The spec as plain data, with the same field names as YAML/JSON."""
        return self.model_dump(mode="json", exclude_none=True)
