"""PyTorch framework image URIs per region and version (data in ``data/pytorch_images.json``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from typing import Any

__all__ = ["pytorch_image_uri", "pytorch_versions"]


@cache
def _data() -> dict[str, Any]:
    text = resources.files("sagescale.specs").joinpath("data/pytorch_images.json").read_text()
    data: dict[str, Any] = json.loads(text)
    return data


def pytorch_versions() -> dict[str, list[str]]:
    """Supported ``framework_version`` values (short and full) → their ``py_version`` values."""
    out: dict[str, list[str]] = {}
    for short, entry in _data()["versions"].items():
        out[short] = list(entry["py"])
        out[entry["full"]] = list(entry["py"])
    return out


def _short(version: str) -> str:
    parts = version.split(".")
    return ".".join(parts[:2])


def pytorch_image_uri(version: str, py_version: str, *, region: str, gpu: bool) -> str:
    """The SageMaker PyTorch training image for ``version`` in ``region``.

    Raises ``ValueError`` naming the supported versions when ``version`` or ``py_version``
    is not in the data file.
    """
    data = _data()
    entry = data["versions"].get(_short(version))
    if entry is None:
        known = ", ".join(sorted(data["versions"]))
        raise ValueError(f"framework_version {version!r} is not supported (known: {known})")
    if py_version not in entry["py"]:
        raise ValueError(
            f"py_version {py_version!r} is not available for PyTorch {version} "
            f"(available: {', '.join(entry['py'])})"
        )
    account = data["accounts"].get(region, data["default_account"])
    domain = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    full = version if version.count(".") == 2 else entry["full"]
    device = "gpu" if gpu else "cpu"
    return f"{account}.dkr.ecr.{region}.{domain}/{data['repository']}:{full}-{device}-{py_version}"
