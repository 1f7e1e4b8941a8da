"""The Backend conformance suite against the sagemaker backend on moto's server.

moto completes a training job the moment it is created and never runs its script, so the
checks that need the script to run or a job to stay running are skipped (named in
``lacks``); the Stubber tests in test_sagemaker_stubbed.py cover running jobs."""

from __future__ import annotations

from pathlib import Path

import pytest

from sagescale.backends.sagemaker import SageMakerBackend
from sagescale.testing.backends import (
    LACKS_EXECUTION,
    LACKS_STOP_RUNNING,
    BackendCase,
    BackendConformance,
    write_scripts,
)


@pytest.fixture
def backend_case(backend: SageMakerBackend, tmp_path: Path) -> BackendCase:
    return BackendCase(
        backend,
        scripts=write_scripts(tmp_path / "scripts"),
        lacks=frozenset({LACKS_EXECUTION, LACKS_STOP_RUNNING}),
        wait_timeout=30.0,
    )


class TestSageMakerBackendOnMoto(BackendConformance):
    pass
