"""Local-backend overhead: the same script run bare and through ``LocalBackend``.

    .venv/bin/python benchmarks/local_overhead.py                  # 15 plain, 7 torchrun runs
    .venv/bin/python benchmarks/local_overhead.py --runs 3 --plain-runs 5   # quicker

Two cases, each run bare and through the backend (submit → wait, Completed), interleaved so
that the load of the machine hits both sides alike:

- ``plain``: a trivial Python script (``python trivial.py`` vs a plain local job);
- ``torchrun-2``: a 2-process gloo job that initialises a process group and all-reduces
  one tensor (bare ``python -m torch.distributed.run --nproc-per-node=2`` vs a local job
  with ``distribution: torch_distributed, processes_per_host: 2``).

Prints a table (medians, ratio of medians, fixed overhead) and writes
``benchmarks/results/local_overhead.json``. Goals (issue 3): ratio <= 1.2 for the torchrun
job, fixed overhead of a plain job < 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagescale.backends import JobStatus
from sagescale.backends.local import LocalBackend
from sagescale.specs import TrainingJob

RESULTS = Path(__file__).parent / "results" / "local_overhead.json"

TRIVIAL = """\
import sys
print("hello from", sys.argv[1:], flush=True)
"""

ALLREDUCE = """\
import torch
import torch.distributed as dist

dist.init_process_group("gloo")
value = torch.ones(1) * dist.get_rank()
dist.all_reduce(value)
print("rank", dist.get_rank(), "sum", float(value), flush=True)
dist.destroy_process_group()
"""


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _bare_env() -> dict[str, str]:
    env = dict(os.environ)
    env.update({"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo", "PYTHONUNBUFFERED": "1"})
    return env


def bare_plain(src: Path) -> float:
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, str(src / "trivial.py"), "--epochs", "1"],
        check=True,
        capture_output=True,
        env=_bare_env(),
    )
    return time.perf_counter() - start


def bare_torchrun(src: Path) -> float:
    argv = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nnodes=1",
        "--node-rank=0",
        "--nproc-per-node=2",
        "--master-addr=127.0.0.1",
        f"--master-port={_free_port()}",
        str(src / "allreduce.py"),
    ]
    start = time.perf_counter()
    subprocess.run(argv, check=True, capture_output=True, env=_bare_env())
    return time.perf_counter() - start


def local_job(backend: LocalBackend, job: TrainingJob) -> float:
    start = time.perf_counter()
    name = backend.submit(job)
    desc = backend.wait(name, timeout=600)
    elapsed = time.perf_counter() - start
    if desc.status is not JobStatus.COMPLETED:
        raise SystemExit(f"{name} ended {desc.status}: {desc.failure_reason}")
    return elapsed


def measure(runs: int, bare: Callable[[], float], local: Callable[[], float]) -> dict[str, Any]:
    bare(), local()  # warm the page cache and the workspace database
    bare_times: list[float] = []
    local_times: list[float] = []
    for _ in range(runs):
        bare_times.append(bare())
        local_times.append(local())
    bare_median = statistics.median(bare_times)
    local_median = statistics.median(local_times)
    return {
        "runs": runs,
        "bare_s": bare_times,
        "local_s": local_times,
        "bare_median_s": bare_median,
        "local_median_s": local_median,
        "ratio_of_medians": local_median / bare_median,
        "overhead_s": local_median - bare_median,
    }


def machine() -> dict[str, Any]:
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "load_average_1m_at_start": load,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7, help="runs of the torchrun case")
    parser.add_argument("--plain-runs", type=int, default=15, help="runs of the plain case")
    parser.add_argument("--skip-torchrun", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        (src / "trivial.py").write_text(TRIVIAL)
        (src / "allreduce.py").write_text(ALLREDUCE)
        backend = LocalBackend(Path(tmp) / "ws")
        plain = TrainingJob(
            entry_point="trivial.py", source_dir=str(src), hyperparameters={"epochs": 1}
        )
        ddp = TrainingJob(
            entry_point="allreduce.py",
            source_dir=str(src),
            distribution={"type": "torch_distributed", "processes_per_host": 2},
        )
        info = machine()
        results = {
            "plain": measure(
                args.plain_runs, lambda: bare_plain(src), lambda: local_job(backend, plain)
            )
        }
        if not args.skip_torchrun:
            results["torchrun-2"] = measure(
                args.runs, lambda: bare_torchrun(src), lambda: local_job(backend, ddp)
            )
    info["load_average_1m_at_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    report(results)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"machine": info, "results": results}, indent=2) + "\n")
    print(f"\nwrote {RESULTS}")


def report(results: dict[str, dict[str, Any]]) -> None:
    header = (
        f"{'case':<12} {'runs':>4} {'bare (s)':>9} {'local (s)':>10} {'ratio':>6} {'overhead':>9}"
    )
    print(header)
    print("-" * len(header))
    for case, r in results.items():
        print(
            f"{case:<12} {r['runs']:>4} {r['bare_median_s']:>9.3f} {r['local_median_s']:>10.3f} "
            f"{r['ratio_of_medians']:>6.2f} {r['overhead_s']:>8.3f}s"
        )


if __name__ == "__main__":
    main()
