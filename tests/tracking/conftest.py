"""Fixtures of the tracking tests: one StoreCase per store mode."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from sagescale.testing.stores import STORE_MODES, StoreCase, build_store


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # MLflow's SQLAlchemy layer uses a loader strategy SQLAlchemy 2.1 deprecates.
    for item in items:
        if "tests/tracking" in str(item.fspath):
            item.add_marker(
                pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SADeprecationWarning")
            )


@pytest.fixture(scope="session")
def mlflow_case(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreCase]:
    """One MLflow database for the session (creating one runs MLflow's migrations: ~3 s)."""
    with build_store("mlflow", tmp_path_factory.mktemp("mlflow")) as case:
        yield case


@pytest.fixture(scope="session")
def sagemaker_case(
    moto_endpoint: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StoreCase]:
    with build_store(
        "sagemaker", tmp_path_factory.mktemp("sm"), moto_endpoint=moto_endpoint
    ) as case:
        yield case


@pytest.fixture(params=STORE_MODES)
def store_case(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[StoreCase]:
    mode = request.param
    if mode == "sqlite":
        with build_store("sqlite", tmp_path) as case:
            yield case
    else:
        yield request.getfixturevalue(f"{mode}_case")
