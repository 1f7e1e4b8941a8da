"""Packing a job's source as ``sourcedir.tar.gz``, with ``sagescale.runtime`` when it is used.

SageMaker's framework containers unpack ``sagemaker_submit_directory`` into
``/opt/ml/code``, put it on ``sys.path`` and run the entry point from there. The container
has torch but not sagescale, so when any ``.py`` file of the source imports
``sagescale.runtime`` the tarball also carries ``sagescale/runtime/``, the few sagescale
modules it imports (found by reading their imports), and a stub ``sagescale/__init__.py``
that imports nothing — so ``import sagescale.runtime`` works with torch and the standard
library only.
"""

from __future__ import annotations

import ast
import io
import tarfile
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from sagescale.errors import SpecError

__all__ = ["PackedSource", "imports_sagescale", "pack_source", "runtime_files"]

_SKIP_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".mypy_cache", ".pytest_cache"})
_STUB_INIT = (
    '"""sagescale as packed into a training job by the sagemaker backend: only\n'
    'sagescale.runtime (and what it imports) is available here."""\n'
)


@dataclass(frozen=True)
class PackedSource:
    """What went into a ``sourcedir.tar.gz``."""

    data: bytes
    files: list[str] = field(default_factory=list)
    includes_runtime: bool = False


def source_files(source_dir: Path) -> list[Path]:
    """Files under ``source_dir`` (sorted; caches and VCS folders left out)."""
    out = []
    for path in sorted(source_dir.rglob("*")):
        rel = path.relative_to(source_dir)
        if any(part in _SKIP_DIRS for part in rel.parts[:-1]) or not path.is_file():
            continue
        if path.suffix == ".pyc":
            continue
        out.append(path)
    return out


def _imported_modules(source: str, module: str, is_package: bool) -> set[str]:
    """Absolute names of every module ``source`` imports (relative imports resolved)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return set()
    package = module if is_package else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def imports_sagescale(source: str) -> bool:
    """True when ``source`` imports ``sagescale.runtime`` (in any spelling)."""
    return any(
        name == "sagescale.runtime" or name.startswith("sagescale.runtime.")
        for name in _imported_modules(source, "__main__", False)
    )


def _module_file(root: Path, module: str) -> tuple[Path, bool] | None:
    rel = Path(*module.split(".")[1:])
    package = root / rel / "__init__.py"
    if package.is_file():
        return package, True
    plain = (root / rel).with_suffix(".py")
    return (plain, False) if rel.parts and plain.is_file() else None


def runtime_files() -> dict[str, bytes]:
    """``arcname → content`` of ``sagescale/runtime/**`` and the sagescale modules it needs."""
    root = Path(str(resources.files("sagescale")))
    files: dict[str, bytes] = {"sagescale/__init__.py": _STUB_INIT.encode()}
    pending = ["sagescale.runtime"]
    runtime_dir = root / "runtime"
    for path in source_files(runtime_dir):
        if path.suffix == ".py":
            rel = path.relative_to(runtime_dir).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            pending.append(".".join(["sagescale.runtime", *parts]))
    seen: set[str] = set()
    while pending:
        module = pending.pop()
        if module in seen or module == "sagescale":
            continue
        seen.add(module)
        found = _module_file(root, module)
        if found is None:
            continue
        path, is_package = found
        text = path.read_text(encoding="utf-8")
        files[path.relative_to(root.parent).as_posix()] = text.encode()
        pending.extend(
            name
            for name in _imported_modules(text, module, is_package)
            if name.startswith("sagescale.")
        )
    for path in source_files(runtime_dir):  # data files next to the runtime modules
        arcname = path.relative_to(root.parent).as_posix()
        if path.suffix != ".py" and arcname not in files:
            files[arcname] = path.read_bytes()
    return files


def _add(tar: tarfile.TarFile, arcname: str, data: bytes) -> None:
    info = tarfile.TarInfo(arcname)
    info.size = len(data)
    info.mode = 0o644
    tar.addfile(info, io.BytesIO(data))


def pack_source(
    source_dir: Path, entry_point: str, *, only_entry_point: bool = False
) -> PackedSource:
    """Pack ``source_dir`` (or just the entry point) and, when imported, the runtime."""
    entry = source_dir / entry_point
    if not entry.is_file():
        raise SpecError(
            f"entry_point = {entry_point!r}: no such file in source_dir {str(source_dir)!r}",
            field="entry_point",
            value=entry_point,
        )
    paths = [entry] if only_entry_point else source_files(source_dir)
    contents = {p.relative_to(source_dir).as_posix(): p.read_bytes() for p in paths}
    uses_runtime = any(
        name.endswith(".py") and imports_sagescale(data.decode("utf-8", "replace"))
        for name, data in contents.items()
    )
    ships_own = any(name.startswith("sagescale/") for name in contents)
    include_runtime = uses_runtime and not ships_own
    if include_runtime:
        contents.update(runtime_files())
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in sorted(contents):
            _add(tar, name, contents[name])
    return PackedSource(buffer.getvalue(), sorted(contents), include_runtime)
