"""SageMaker-style search expressions over trial components.

``{"Filters": [{"Name": "Parameters.lr", "Operator": "GreaterThan", "Value": "0.01"}],
"SubExpressions": [...], "Operator": "And" | "Or"}``. Filter names: ``TrialComponentName``,
``DisplayName``, ``Source.SourceArn``, ``Status.PrimaryStatus``, ``CreationTime``,
``StartTime``, ``EndTime``, ``Parameters.<name>``,
``Metrics.<name>.<Min|Max|Avg|StdDev|Last|Count>``,
``Tags.<key>``, ``Parents.TrialName``, ``Parents.ExperimentName``,
``InputArtifacts.<name>.Value``, ``OutputArtifacts.<name>.Value``.

For the SQLite store an expression compiles to a WHERE clause whose values are bound
parameters (never pasted into SQL); for other stores it is evaluated on the records.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sagescale.errors import SpecError
from sagescale.tracking._model import TrialComponentRecord

__all__ = ["Filter", "compile_sql", "matches", "parse_expression"]

OPERATORS = (
    "Equals",
    "NotEquals",
    "GreaterThan",
    "GreaterThanOrEqualTo",
    "LessThan",
    "LessThanOrEqualTo",
    "Contains",
    "Exists",
    "NotExists",
    "In",
)
_SQL_OP = {
    "Equals": "=",
    "NotEquals": "!=",
    "GreaterThan": ">",
    "GreaterThanOrEqualTo": ">=",
    "LessThan": "<",
    "LessThanOrEqualTo": "<=",
}
_PY_OP: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": operator.eq,
    "NotEquals": operator.ne,
    "GreaterThan": operator.gt,
    "GreaterThanOrEqualTo": operator.ge,
    "LessThan": operator.lt,
    "LessThanOrEqualTo": operator.le,
}
_COLUMNS = {
    "TrialComponentName": "name",
    "DisplayName": "display_name",
    "Source.SourceArn": "source_arn",
    "SourceArn": "source_arn",
    "Status.PrimaryStatus": "status",
    "CreationTime": "created",
    "StartTime": "start_time",
    "EndTime": "end_time",
    "LastModifiedTime": "modified",
}
_TIMES = {"created", "start_time", "end_time", "modified"}
_STATS = {
    "Min": "min",
    "Max": "max",
    # the rule of sagescale.tracking._model.summary_from_parts: an infinite point makes Avg
    # that infinity (NULL, i.e. NaN, with both signs) and StdDev NaN
    "Avg": "(CASE WHEN count = finite THEN mean WHEN min = -9e999 AND max = 9e999 THEN NULL "
    "WHEN max = 9e999 THEN max ELSE min END)",
    "StdDev": "(CASE WHEN count = finite THEN sqrt(m2 / finite) END)",
    "Last": "last",
    "Count": "count",
}


@dataclass(frozen=True)
class Filter:
    kind: str  # column | param | metric | tag | trial | experiment | input | output
    key: str  # column name / parameter / metric / tag key / artifact name
    stat: str | None
    op: str
    value: str | None


@dataclass(frozen=True)
class Expression:
    filters: tuple[Filter, ...]
    subexpressions: tuple[Expression, ...]
    conjunction: str  # "And" | "Or"


def parse_expression(expr: Mapping[str, Any]) -> Expression:
    """Validate a search expression; SpecError names the offending part."""
    if not isinstance(expr, Mapping):
        raise SpecError("search_expression must be a mapping", field="search_expression")
    unknown = set(expr) - {"Filters", "SubExpressions", "Operator"}
    if unknown:
        raise SpecError(
            f"search_expression has unsupported keys {sorted(unknown)}",
            field="search_expression",
        )
    conj = expr.get("Operator", "And")
    if conj not in ("And", "Or"):
        raise SpecError(
            f"search_expression.Operator={conj!r} must be 'And' or 'Or'", field="Operator"
        )
    filters = tuple(_parse_filter(_filter_mapping(f)) for f in _list(expr, "Filters"))
    subs = tuple(parse_expression(e) for e in _list(expr, "SubExpressions"))
    return Expression(filters, subs, conj)


def _list(expr: Mapping[str, Any], key: str) -> Sequence[Any]:
    items = expr.get(key, ())
    if isinstance(items, str | bytes | Mapping) or not isinstance(items, Sequence):
        raise SpecError(f"search_expression.{key}={items!r} must be a list", field=key, value=items)
    return items


def _filter_mapping(f: object) -> Mapping[str, Any]:
    if not isinstance(f, Mapping):
        raise SpecError(
            f"filter {f!r} must be a mapping with Name, Operator and Value",
            field="Filters",
            value=f,
        )
    return f


def _parse_filter(f: Mapping[str, Any]) -> Filter:
    name, op = f.get("Name"), f.get("Operator", "Equals")
    if op not in OPERATORS:
        raise SpecError(f"filter Operator={op!r} must be one of {OPERATORS}", field="Operator")
    value = f.get("Value")
    if op not in ("Exists", "NotExists") and value is None:
        raise SpecError(f"filter {name!r} with {op} needs a Value", field="Value")
    if not isinstance(name, str):
        raise SpecError(f"filter Name={name!r} must be a string", field="Name")
    val = None if value is None else str(value)
    if name in _COLUMNS:
        return Filter("column", _COLUMNS[name], None, op, val)
    if name == "Parents.TrialName":
        return Filter("trial", "", None, op, val)
    if name == "Parents.ExperimentName":
        return Filter("experiment", "", None, op, val)
    head, _, rest = name.partition(".")
    if head == "Parameters" and rest:
        return Filter("param", rest, None, op, val)
    if head == "Tags" and rest:
        return Filter("tag", rest, None, op, val)
    if head == "Metrics" and "." in rest:
        metric, _, stat = rest.rpartition(".")
        if stat in _STATS:
            return Filter("metric", metric, stat, op, val)
    if head in ("InputArtifacts", "OutputArtifacts") and rest.endswith(".Value"):
        return Filter("input" if head[0] == "I" else "output", rest[:-6], None, op, val)
    raise SpecError(
        f"filter Name={name!r} is not searchable: use TrialComponentName, DisplayName, "
        f"Source.SourceArn, Status.PrimaryStatus, CreationTime, StartTime, EndTime, "
        f"Parameters.<name>, Metrics.<name>.<Min|Max|Avg|StdDev|Last|Count>, Tags.<key>, "
        f"Parents.TrialName, Parents.ExperimentName, (Input|Output)Artifacts.<name>.Value",
        field="Name",
        value=name,
    )


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _time(value: str | None) -> float | None:
    number = _number(value)
    if number is not None or value is None:
        return number
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise SpecError(
            f"time filter value {value!r} must be epoch seconds or ISO 8601", field="Value"
        ) from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()


# SQL ----------------------------------------------------------------------------------------
def compile_sql(expr: Expression) -> tuple[str, list[object]]:
    """A WHERE clause over ``tracking_components c`` and its bound parameters."""
    parts: list[str] = []
    params: list[object] = []
    for f in expr.filters:
        sql, p = _filter_sql(f)
        parts.append(sql)
        params.extend(p)
    for sub in expr.subexpressions:
        sql, p = compile_sql(sub)
        parts.append(f"({sql})")
        params.extend(p)
    if not parts:
        return "1=1", []
    return f" {expr.conjunction.upper()} ".join(parts), params


def _compare(column: str, f: Filter, value: object) -> tuple[str, list[object]]:
    if f.op == "Contains":
        return f"instr({column}, ?) > 0", [str(f.value)]
    if f.op == "In":
        items = [v.strip() for v in str(f.value).split(",")]
        return f"{column} IN ({','.join('?' * len(items))})", list(items)
    return f"{column} {_SQL_OP[f.op]} ?", [value]


_SUBQUERY = {
    "param": ("tracking_parameters", "name = ?"),
    "tag": ("tracking_tags", "kind = 'component' AND key = ?"),
    "input": ("tracking_artifacts", "direction = 'input' AND name = ?"),
    "output": ("tracking_artifacts", "direction = 'output' AND name = ?"),
    "metric": ("tracking_metric_summaries", "name = ?"),
}


def _filter_sql(f: Filter) -> tuple[str, list[object]]:
    if f.kind == "column":
        value: object = _time(f.value) if f.key in _TIMES else f.value
        if f.op in ("Exists", "NotExists"):
            return f"c.{f.key} IS {'NOT ' if f.op == 'Exists' else ''}NULL", []
        return _compare(f"c.{f.key}", f, value)
    if f.kind in ("trial", "experiment"):
        col = "t.name" if f.kind == "trial" else "e.name"
        cond, p = ("1=1", []) if f.op in ("Exists", "NotExists") else _compare(col, f, f.value)
        neg = "NOT " if f.op == "NotExists" else ""
        return (
            f"c.id {neg}IN (SELECT tc.component_id FROM tracking_trial_components tc "
            "JOIN tracking_trials t ON t.id = tc.trial_id JOIN tracking_experiments e "
            f"ON e.id = t.experiment_id WHERE {cond})",
            p,
        )
    table, key_cond = _SUBQUERY[f.kind]
    owner = "owner_id" if f.kind == "tag" else "component_id"
    if f.op in ("Exists", "NotExists"):
        neg = "NOT " if f.op == "NotExists" else ""
        return f"c.id {neg}IN (SELECT {owner} FROM {table} WHERE {key_cond})", [f.key]
    if f.kind == "param" and f.op in ("Equals", "NotEquals", "In"):
        cond, p = _param_equality(f)
    else:
        column, value = _value_column(f)
        cond, p = _compare(column, f, value)
    return f"c.id IN (SELECT {owner} FROM {table} WHERE {key_cond} AND {cond})", [f.key, *p]


def _param_equality(f: Filter) -> tuple[str, list[object]]:
    """Equals / NotEquals / In on a parameter: a value that reads as a number matches the
    number (``"6"`` matches 6.0), and every value matches the text as given."""
    items = [v.strip() for v in str(f.value).split(",")] if f.op == "In" else [str(f.value)]
    numbers = [n for n in (_number(v) for v in items) if n is not None]
    texts = ",".join("?" * len(items))
    cond = f"coalesce(text_value IN ({texts}), 0)"
    if numbers:
        cond += f" OR coalesce(number_value IN ({','.join('?' * len(numbers))}), 0)"
    return (f"NOT ({cond})" if f.op == "NotEquals" else f"({cond})"), [*items, *numbers]


def _value_column(f: Filter) -> tuple[str, object]:
    if f.kind == "metric":
        return _STATS[str(f.stat)], _number(f.value)
    if f.kind == "param":
        number = _number(f.value)
        numeric = number is not None and f.op in _SQL_OP and f.op not in ("Equals", "NotEquals")
        if numeric:
            return "number_value", number
        return "coalesce(text_value, CAST(number_value AS TEXT))", f.value
    return "value", f.value


# records ------------------------------------------------------------------------------------
def matches(record: TrialComponentRecord, expr: Expression) -> bool:
    results = [_filter_match(record, f) for f in expr.filters]
    results += [matches(record, sub) for sub in expr.subexpressions]
    if not results:
        return True
    return all(results) if expr.conjunction == "And" else any(results)


def _record_values(record: TrialComponentRecord, f: Filter) -> Sequence[object]:
    if f.kind == "column":
        attr = {"created": "creation_time", "modified": "creation_time"}.get(f.key, f.key)
        value = getattr(record, attr)
        if isinstance(value, datetime):
            value = value.timestamp()
        return [] if value is None else [value]
    if f.kind in ("trial", "experiment"):
        return list(record.trial_names if f.kind == "trial" else record.experiment_names)
    if f.kind == "param":
        return [record.parameters[f.key]] if f.key in record.parameters else []
    if f.kind == "tag":
        return [record.tags[f.key]] if f.key in record.tags else []
    if f.kind == "metric":
        summary = record.metrics.get(f.key)
        if summary is None:
            return []
        attr = {"StdDev": "std_dev", "Avg": "avg"}.get(str(f.stat), str(f.stat).lower())
        return [getattr(summary, attr)]
    side = record.input_artifacts if f.kind == "input" else record.output_artifacts
    return [side[f.key].value] if f.key in side else []


def _filter_match(record: TrialComponentRecord, f: Filter) -> bool:
    values = _record_values(record, f)
    if f.op in ("Exists", "NotExists"):
        return bool(values) == (f.op == "Exists")
    return any(_value_match(v, f) for v in values)


def _value_match(actual: object, f: Filter) -> bool:
    if f.op == "Contains":
        return str(f.value) in str(actual)
    if f.kind == "param" and f.op in ("Equals", "NotEquals", "In"):
        items = [v.strip() for v in str(f.value).split(",")] if f.op == "In" else [str(f.value)]
        found = any(_param_equals(actual, item) for item in items)
        return not found if f.op == "NotEquals" else found
    if f.op == "In":
        return str(actual) in [v.strip() for v in str(f.value).split(",")]
    expected: object = f.value
    if isinstance(actual, float | int):
        expected = _time(f.value) if f.key in _TIMES else _number(f.value)
        if expected is None:
            return False
    elif f.op not in ("Equals", "NotEquals") and _number(str(actual)) is not None:
        actual, expected = _number(str(actual)), _number(f.value)
        if expected is None:
            return False
    return _PY_OP[f.op](actual, expected)


def _param_equals(actual: object, item: str) -> bool:
    """The rule of :func:`_param_equality`: the same text, or the same number."""
    if isinstance(actual, str) and actual == item:
        return True
    number = actual if isinstance(actual, float | int) else _number(str(actual))
    return number is not None and number == _number(item)
