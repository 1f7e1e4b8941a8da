"""The public API: ``sagescale.__all__`` lists exactly the public names, and each imports."""

from __future__ import annotations

import subprocess
import sys

import sagescale


def test_all_lists_exactly_the_public_names() -> None:
    public = {name for name in dir(sagescale) if not name.startswith("_")}
    public.discard("annotations")  # from __future__
    for module in ("errors", "specs", "session", "backends", "tracking", "runtime", "cli"):
        public.discard(module)  # subpackages become attributes once imported
    public = {n for n in public if not isinstance(getattr(sagescale, n), type(sys))}
    assert public == set(sagescale.__all__) - {"__version__"}


def test_lazy_table_matches_all() -> None:
    eager = {n for n in sagescale.__all__ if n not in sagescale._LAZY}
    assert eager == {n for n in vars(sagescale.errors) if n.endswith("Error")} | {"__version__"}


def test_every_public_name_resolves() -> None:
    for name in sagescale.__all__:
        assert getattr(sagescale, name) is not None, name


def test_import_is_light() -> None:
    """``import sagescale`` (and so ``sagescale.runtime`` in a container) loads no heavy deps."""
    code = (
        "import sys, sagescale; "
        "mods = ('pydantic', 'boto3', 'pandas', 'optuna', 'torch'); "
        "heavy = [m for m in mods if m in sys.modules]; "
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
