"""Loading specs from YAML/JSON files and saving them back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml

from sagescale.errors import SpecError
from sagescale.specs._base import SpecModel
from sagescale.specs._training import TrainingJob
from sagescale.specs._tuning import TuningJob

__all__ = [
    "SpecKindError",
    "dump_spec",
    "load_spec",
    "load_training_job",
    "load_tuning_job",
    "spec_kind",
]

SpecKind = Literal["training", "tuning"]
_TUNING_MARKERS = ("objective_metric_name", "training_job", "training_jobs")

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
    return any(key in data for key in _TUNING_MARKERS)


def _clues(data: dict[str, Any]) -> tuple[SpecKind | None, list[str]]:
    """The kind of spec ``data`` looks like and the fields that say so: a tuning spec has
    one of ``_TUNING_MARKERS``; a training job spec has none of them and a field only a
    training job has."""
    tuning = [key for key in _TUNING_MARKERS if key in data]
    if tuning:
        return "tuning", tuning
    training = [
        key for key in data if key in TrainingJob.model_fields and key not in TuningJob.model_fields
    ]
    return ("training", training) if training else (None, [])


class SpecKindError(SpecError):
    """A training job spec file loaded as a tuning spec, or the other way round.

    ``found`` is the kind the file looks like, ``expected`` the kind asked for, ``clues``
    the fields that give it away and ``reason`` the message without the advice on what to
    call instead.
    """

    def __init__(
        self, file: Path, found: SpecKind, expected: SpecKind, clues: list[str], advice: str
    ) -> None:
        shown = ", ".join(clues[:4]) + (", ..." if len(clues) > 4 else "")
        self.reason = (
            f"{file} looks like a {found} job spec, not a {expected} job spec (it has {shown})"
        )
        super().__init__(f"{self.reason}: {advice}", field=str(file), value=found)
        self.found = found
        self.expected = expected
        self.clues = clues


def spec_kind(path: str | Path) -> SpecKind | None:
    """``"tuning"`` or ``"training"``: the kind of spec a YAML/JSON file holds, judged by its
    fields (``None`` when they say neither)."""
    return _clues(_read(path))[0]


def load_spec(path: str | Path) -> TrainingJob | TuningJob:
    """A :class:`TrainingJob` or :class:`TuningJob` from a YAML/JSON file.

    A file with ``objective_metric_name``, ``training_job`` or ``training_jobs`` is a tuning
    spec; anything else is a training job spec.
    """
    data = _read(path)
    model: type[TrainingJob] | type[TuningJob] = TuningJob if _is_tuning(data) else TrainingJob
    return model.model_validate(data)


def _load_as(path: str | Path, model: type[M], expected: SpecKind) -> M:
    data = _read(path)
    found, clues = _clues(data)
    if found is not None and found != expected:
        raise SpecKindError(
            Path(path), found, expected, clues, f"load it with load_{found}_job() or load_spec()"
        )
    return model.model_validate(data)


def load_training_job(path: str | Path) -> TrainingJob:
    """A :class:`TrainingJob` from a YAML/JSON file; a file that looks like a tuning spec is
    a :class:`SpecKindError`."""
    return _load_as(path, TrainingJob, "training")


def load_tuning_job(path: str | Path) -> TuningJob:
    """A :class:`TuningJob` from a YAML/JSON file; a file that looks like a training job spec
    is a :class:`SpecKindError`."""
    return _load_as(path, TuningJob, "tuning")


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
