"""A minimal fake SageMaker job directory and the environment the container contract
defines, for launching runtime scripts with plain ``torchrun`` (until the local backend
launches them)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_job_env(
    base: Path,
    *,
    hyperparameters: Mapping[str, Any] | None = None,
    channels: Mapping[str, Path] | None = None,
    hosts: Sequence[str] = ("algo-1",),
    current_host: str = "algo-1",
) -> dict[str, str]:
    """Create ``base`` as an /opt/ml stand-in and return the SM_* variables for it."""
    hps = dict(hyperparameters or {})
    config = base / "input" / "config"
    for sub in (config, base / "model", base / "output" / "data", base / "checkpoints"):
        sub.mkdir(parents=True, exist_ok=True)
    channel_dirs = {}
    for name, source in (channels or {}).items():
        channel_dirs[name] = source
    (config / "hyperparameters.json").write_text(
        json.dumps({k: json.dumps(v) if not isinstance(v, str) else v for k, v in hps.items()})
    )
    resource = {"current_host": current_host, "hosts": list(hosts)}
    (config / "resourceconfig.json").write_text(json.dumps(resource))
    (config / "inputdataconfig.json").write_text(json.dumps({n: {} for n in channel_dirs}))
    env = {
        "SAGEMAKER_BASE_DIR": str(base),
        "SM_MODEL_DIR": str(base / "model"),
        "SM_OUTPUT_DIR": str(base / "output"),
        "SM_OUTPUT_DATA_DIR": str(base / "output" / "data"),
        "SM_INPUT_DIR": str(base / "input"),
        "SM_INPUT_CONFIG_DIR": str(config),
        "SM_HPS": json.dumps(hps),
        "SM_HOSTS": json.dumps(list(hosts)),
        "SM_CURRENT_HOST": current_host,
        "SM_NUM_GPUS": "0",
        "SM_NUM_CPUS": str(os.cpu_count() or 1),
        "SM_CHANNELS": json.dumps(sorted(channel_dirs)),
        "SM_RESOURCE_CONFIG": json.dumps(resource),
        "SM_USER_ARGS": json.dumps([]),
        "SM_LOG_LEVEL": "20",
        "SM_NETWORK_INTERFACE_NAME": "lo",
        "SAGESCALE_CHECKPOINT_DIR": str(base / "checkpoints"),
    }
    for name, path in channel_dirs.items():
        env[f"SM_CHANNEL_{name.upper()}"] = str(path)
    for key, value in hps.items():
        env[f"SM_HP_{key.upper()}"] = value if isinstance(value, str) else json.dumps(value)
    return env


def torchrun(
    script: Path | str,
    args: Sequence[str],
    *,
    nproc: int,
    env: Mapping[str, str],
    timeout: float = 150,
) -> subprocess.CompletedProcess[str]:
    """``torchrun --standalone`` on CPU with gloo over the loopback interface."""
    full = {
        **os.environ,
        **env,
        "OMP_NUM_THREADS": "1",
        "GLOO_SOCKET_IFNAME": "lo",
        "SAGESCALE_DIST_TIMEOUT_S": "60",
        "PYTHONWARNINGS": "ignore",
    }
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        str(script),
        *args,
    ]
    return subprocess.run(cmd, env=full, capture_output=True, text=True, timeout=timeout)
