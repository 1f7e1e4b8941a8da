"""The local backend passes the Backend conformance suite of sagescale.testing.backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagescale.backends.local import LocalBackend
from sagescale.testing.backends import BackendCase, BackendConformance


@pytest.fixture
def backend_case(backend: LocalBackend, scripts: Path) -> BackendCase:
    return BackendCase(backend, scripts)


class TestLocalBackendConformance(BackendConformance):
    pass
