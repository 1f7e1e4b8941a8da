"""Fixtures for the local backend: a backend on a fresh workspace and tiny scripts."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagescale.backends.local import LocalBackend
from sagescale.testing.backends import write_scripts


@pytest.fixture
def scripts(tmp_path: Path) -> Path:
    return write_scripts(tmp_path / "src")


@pytest.fixture
def backend(workspace: Path) -> LocalBackend:
    return LocalBackend(workspace, stop_grace_seconds=2.0, poll_interval=0.05)
