"""Packing sourcedir.tar.gz, and sagescale.runtime importable from it alone."""

from __future__ import annotations

import io
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from sagescale.backends.sagemaker import pack_source
from sagescale.backends.sagemaker._source import imports_sagescale, runtime_files
from sagescale.errors import SpecError


@pytest.mark.parametrize(
    "line",
    [
        "import sagescale.runtime",
        "import sagescale.runtime.dist as dist",
        "from sagescale.runtime import dist",
        "from sagescale import runtime",
        "from sagescale.runtime.dist import DistributedDataParallel as DDP",
        "def main():\n    import sagescale.runtime.smp as smp",
    ],
)
def test_runtime_imports_are_detected(line: str) -> None:
    assert imports_sagescale(line)


@pytest.mark.parametrize(
    "line", ["import sagescale_other", "import torch", "# import sagescale.runtime", "x = ("]
)
def test_other_imports_are_not(line: str) -> None:
    assert not imports_sagescale(line)


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        return tar.getnames()


def test_runtime_is_packed_only_when_imported(source_dir: Path) -> None:
    packed = pack_source(source_dir, "train.py")
    assert packed.includes_runtime
    assert {"train.py", "util.py", "sagescale/__init__.py", "sagescale/errors.py"} <= set(
        packed.files
    )
    assert _names(packed.data) == packed.files
    (source_dir / "train.py").write_text("print('plain')\n")
    plain = pack_source(source_dir, "train.py")
    assert not plain.includes_runtime
    assert plain.files == ["train.py", "util.py"]


def test_a_source_that_ships_sagescale_keeps_its_own(source_dir: Path) -> None:
    (source_dir / "sagescale").mkdir()
    (source_dir / "sagescale" / "__init__.py").write_text("OWN = 1\n")
    packed = pack_source(source_dir, "train.py")
    assert not packed.includes_runtime
    assert "sagescale/runtime/dist.py" not in packed.files


def test_packed_files_are_what_runtime_needs() -> None:
    files = runtime_files()
    assert files["sagescale/__init__.py"].startswith(b'"""sagescale as packed')
    modules = {name for name in files if not name.startswith("sagescale/runtime/")}
    # only the stub and the modules sagescale.runtime imports, never the facade or specs
    assert "sagescale/specs/__init__.py" not in modules
    assert "sagescale/backends/__init__.py" not in modules
    assert "sagescale/errors.py" in modules


def test_runtime_imports_from_the_tarball_alone(source_dir: Path, tmp_path: Path) -> None:
    packed = pack_source(source_dir, "train.py")
    code = tmp_path / "opt-ml-code"
    with tarfile.open(fileobj=io.BytesIO(packed.data), mode="r:gz") as tar:
        tar.extractall(code, filter="data")
    probe = (
        "import sys\n"
        f"sys.path.insert(0, {str(code)!r})\n"
        "import sagescale, sagescale.runtime, sagescale.runtime.dist\n"
        f"assert sagescale.__file__.startswith({str(code)!r}), sagescale.__file__\n"
        "heavy = {'pydantic', 'boto3', 'botocore', 'pandas', 'optuna', 'yaml', 'rich'}\n"
        "loaded = heavy & set(sys.modules)\n"
        "assert not loaded, loaded\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr


def test_missing_entry_point(source_dir: Path) -> None:
    with pytest.raises(SpecError, match="no such file") as info:
        pack_source(source_dir, "nope.py")
    assert info.value.field == "entry_point"
