"""Loading specs from YAML/JSON files and saving them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, TypeVar

import yaml

from sagescale.errors import SpecError
from sagescale.specs._base import SpecModel
from sagescale.specs._training import TrainingJob
from sagescale.specs._tuning import TuningJob

__all__ = ["dump_spec", "load_spec", "load_training_job", "load_tuning_job"]

M = TypeVar("M", bound=SpecModel)
# libyaml's safe loader and dumper when PyYAML was built with it (the same YAML, faster)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


class _UniqueKeyLoader(_SAFE_LOADER):  # type: ignore[misc]
    """The safe loader, refusing a key given twice in one mapping (YAML forbids it; PyYAML
    would silently keep the last value)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> Any:
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                key = (key_node.tag, key_node.value)
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        "while constructing a mapping",
                        node.start_mark,
                        f"found duplicate key {key_node.value!r}",
                        key_node.start_mark,
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)


_LOADER = _UniqueKeyLoader


def _unique_pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r}")
        out[key] = value
    return out


def _read(path: str | Path) -> dict[str, Any]:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise SpecError(f"cannot read spec file {file}: {exc.strerror}", field=str(file)) from None
    except UnicodeDecodeError as exc:
        raise SpecError(
            f"{file} is not a UTF-8 text file (byte {exc.start}: {exc.reason})", field=str(file)
        ) from None
    try:
        if file.suffix == ".json":
            data = json.loads(text, object_pairs_hook=_unique_pairs)
        else:
            data = yaml.load(text, Loader=_LOADER)
    except (yaml.YAMLError, ValueError) as exc:
        raise SpecError(f"{file} is not valid YAML/JSON: {exc}", field=str(file)) from None
    if not isinstance(data, dict):
        raise SpecError(f"{file} must hold a mapping of spec fields", field=str(file))
    return data


def _is_tuning(data: dict[str, Any]) -> bool:
    return "objective_metric_name" in data or "training_jobs" in data or "training_job" in data


def load_spec(path: str | Path) -> TrainingJob | TuningJob:
    """A :class:`TrainingJob` or :class:`TuningJob` from a YAML/JSON file.

    A file with ``objective_metric_name``, ``training_job`` or ``training_jobs`` is a tuning
    spec; anything else is a training job spec.
    """
    data = _read(path)
    model: type[TrainingJob] | type[TuningJob] = TuningJob if _is_tuning(data) else TrainingJob
    return model.model_validate(data)


def _load_as(path: str | Path, model: type[M]) -> M:
    return model.model_validate(_read(path))


def load_training_job(path: str | Path) -> TrainingJob:
    return _load_as(path, TrainingJob)


def load_tuning_job(path: str | Path) -> TuningJob:
    return _load_as(path, TuningJob)


def dump_spec(spec: SpecModel, path: str | Path | None = None) -> str:
    """The spec as YAML (or JSON for a ``.json`` path); written to ``path`` when given."""
    data = spec.to_dict()
    as_json = path is not None and Path(path).suffix == ".json"
    text = (
        json.dumps(data, indent=2)
        if as_json
        else yaml.dump(data, Dumper=_DUMPER, sort_keys=False, allow_unicode=True)
    )
    if path is not None:
        Path(path).write_text(text)
    return text
