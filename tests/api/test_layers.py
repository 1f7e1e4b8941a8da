"""Imports only point downwards (docs/concepts.md), with the documented exceptions.

facade (``__init__``, ``session``, ``cli``, every ``*/_cli.py``) → services (``tuning``,
``tracking``, ``planning``, ``reporting``, and ``testing``, the conformance suites) →
backends → specs → runtime. Services may use each other.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "sagescale"
LAYER = {
    "runtime": 0,
    "errors": 0,
    "_imports": 0,
    "specs": 1,
    "_botocore": 1,
    "_workspace": 1,
    "backends": 2,
    "tuning": 3,
    "tracking": 3,
    "planning": 3,
    "reporting": 3,
    "testing": 3,
    "session": 4,
    "cli": 4,
    "__init__": 4,
    "__main__": 4,
}
#: (importing package, imported package): why it is allowed
EXCEPTIONS = {
    ("backends", "tracking"): "every job is tracked automatically: the backends call the "
    "tracking hooks (sagescale.tracking.autotrack), lazily, and a tracking failure never "
    "fails a job",
    ("backends", "tuning"): "the SageMaker backend implements sagescale.tuning.TuningService "
    "(SageMaker AMT runs the whole tuning job)",
}


def _imports(path: Path) -> list[tuple[int, str]]:
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.append((node.lineno, node.module))
        elif isinstance(node, ast.Import):
            out += [(node.lineno, alias.name) for alias in node.names]
    return [(n, m) for n, m in out if m.startswith("sagescale.")]


def _layer(path: Path) -> tuple[str, int]:
    top = path.relative_to(SRC).parts[0].removesuffix(".py")
    return top, 4 if path.name == "_cli.py" else LAYER[top]


def test_imports_point_downwards() -> None:
    wrong = []
    for path in sorted(SRC.rglob("*.py")):
        top, level = _layer(path)
        for line, module in _imports(path):
            other = module.split(".")[1]
            if other not in LAYER:
                wrong.append(f"{path.relative_to(SRC)}:{line} imports unknown {module}")
            elif LAYER[other] > level and (top, other) not in EXCEPTIONS:
                wrong.append(f"{path.relative_to(SRC)}:{line} {top} → {module}")
    assert wrong == []


def test_runtime_imports_nothing_above_it() -> None:
    for path in sorted((SRC / "runtime").rglob("*.py")):
        for line, module in _imports(path):
            assert module.split(".")[1] in ("runtime", "errors"), f"{path}:{line} {module}"
