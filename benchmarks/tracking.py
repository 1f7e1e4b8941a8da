"""Experiment-tracking benchmark: sagescale's SQLite store side by side with MLflow's.

    .venv/bin/python benchmarks/tracking.py            # full sizes (~2-3 min on 2 cores)
    .venv/bin/python benchmarks/tracking.py --quick    # tiny sizes (a smoke test)

Prints a table and writes benchmarks/results/tracking.json. Goals (issue 6):
log_metric ≤ 5 µs amortised, ingestion ≥ 200,000 points/s, dataframe() of 1,000 trial
components × 20 parameters × 10 metrics × 100 steps < 1 s.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sagescale.tracking import ExperimentAnalytics, MetricPoint, Tracker, ingest_job_files
from sagescale.tracking._jobfiles import JobFileWriter
from sagescale.tracking._sqlite import SQLiteStore

RESULTS = Path(__file__).parent / "results" / "tracking.json"


def _best(repeat: int, fn: Callable[[], tuple[float, float]]) -> tuple[float, float]:
    """Best (wall, cpu) of ``repeat`` runs: the machine is shared, so CPU time is reported
    beside wall-clock time."""
    runs = [fn() for _ in range(repeat)]
    return min(r[0] for r in runs), min(r[1] for r in runs)


class _Clock:
    def __enter__(self) -> _Clock:
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self.wall
        self.cpu = time.process_time() - self.cpu


def bench_log_metric_in_job(tmp: Path, n: int) -> tuple[float, float]:
    """µs per Tracker.log_metric inside a job (JSON lines), flushes included."""
    os.environ["SAGESCALE_TRACKING_DIR"] = str(tmp / f"job-{time.monotonic_ns()}")
    os.environ["SAGESCALE_TRIAL_COMPONENT_NAME"] = "bench"
    try:
        tracker = Tracker.load()
        with _Clock() as clock:
            for step in range(n):
                tracker.log_metric("loss", 0.5, step=step)
            tracker.close()
        return clock.wall / n * 1e6, clock.cpu / n * 1e6
    finally:
        del os.environ["SAGESCALE_TRACKING_DIR"]


def bench_log_metric_store(store: SQLiteStore, n: int) -> tuple[float, float]:
    """µs per Tracker.log_metric on the orchestrator side (buffered, SQLite store)."""
    tracker = Tracker.create(store=store)
    with _Clock() as clock:
        for step in range(n):
            tracker.log_metric("loss", 0.5, step=step)
        tracker.close()
    return clock.wall / n * 1e6, clock.cpu / n * 1e6


def bench_ingest(store: SQLiteStore, tmp: Path, n: int) -> tuple[float, float]:
    """Points per second moved from job files into the store (exactly-once path)."""
    store.create_trial_component("ingest")
    job_dir = tmp / "ingest-job"
    for f in range(4):
        writer = JobFileWriter(job_dir, flush_records=100_000)
        now = time.time()
        for step in range(n // 4):
            writer.metric(f"m{f}", 0.5, step, now)
        writer.close()
    with _Clock() as clock:
        count = ingest_job_files(store, job_dir, "ingest")
    assert count == n, (count, n)
    return n / clock.wall, n / clock.cpu


def populate(store: SQLiteStore, components: int, params: int, metrics: int, steps: int) -> None:
    store.create_experiment("analytics")
    store.create_trial("analytics-trial", experiment_name="analytics")
    now = time.time()
    for c in range(components):
        name = f"tc-{c}"
        store.create_trial_component(name, trial_name="analytics-trial")
        store.update_trial_component(
            name, parameters={f"p{i}": float(c + i) for i in range(params)}
        )
        store.log_metrics(
            name,
            [MetricPoint(f"m{m}", float(s), s, now) for m in range(metrics) for s in range(steps)],
        )


def bench_dataframe(store: SQLiteStore, expected: int) -> tuple[float, float]:
    def once() -> tuple[float, float]:
        with _Clock() as clock:
            df = ExperimentAnalytics("analytics", store=store).dataframe()
        assert df.shape[0] == expected, (df.shape, expected)
        return clock.wall, clock.cpu

    return _best(3, once)


def bench_mlflow(tmp: Path, n_calls: int, n_batch: int, runs: int, steps: int) -> dict[str, Any]:
    warnings.filterwarnings("ignore")
    import mlflow
    from mlflow.entities import Metric, Param

    uri = f"sqlite:///{tmp / 'mlflow.db'}"  # MLflow's SQLAlchemy store on SQLite
    mlflow.set_tracking_uri(uri)
    client = mlflow.MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("bench", artifact_location=str(tmp / "mlart"))
    run_id = client.create_run(exp).info.run_id
    now = int(time.time() * 1000)
    with _Clock() as c1:
        for step in range(n_calls):
            client.log_metric(run_id, "loss", 0.5, timestamp=now, step=step)
    batch = [Metric("loss2", 0.5, now, s) for s in range(1000)]
    with _Clock() as c2:
        for _ in range(n_batch // 1000):
            client.log_batch(run_id, metrics=batch)
    points = n_batch // 1000 * 1000
    for r in range(runs):
        rid = client.create_run(exp).info.run_id
        client.log_batch(
            rid,
            metrics=[Metric(f"m{m}", float(s), now, s) for m in range(10) for s in range(steps)],
            params=[Param(f"p{i}", str(r + i)) for i in range(20)],
        )
    with _Clock() as c3:
        df = mlflow.search_runs([exp], max_results=runs + 10)
    assert len(df) == runs + 1
    return {
        "log_metric_us": (c1.wall / n_calls * 1e6, c1.cpu / n_calls * 1e6),
        "log_batch_us_per_point": (c2.wall / points * 1e6, c2.cpu / points * 1e6),
        "search_runs_s": (c3.wall, c3.cpu),
        "search_runs_count": runs,
    }


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes (smoke test)")
    parser.add_argument("--no-mlflow", action="store_true")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    q = args.quick
    sizes = {
        "log_metric_points": 2_000 if q else 1_000_000,
        "ingest_points": 4_000 if q else 1_000_000,
        "components": 10 if q else 1_000,
        "parameters": 20,
        "metrics": 10,
        "steps": 5 if q else 100,
        "mlflow_log_metric_calls": 20 if q else 1_000,
        "mlflow_log_batch_points": 1_000 if q else 20_000,
        "mlflow_runs": 5 if q else 100,
    }
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        store = SQLiteStore.from_path(tmp / "ws" / "sagescale.db")
        ours = {
            "log_metric_in_job_us": _best(
                3, lambda: bench_log_metric_in_job(tmp, sizes["log_metric_points"])
            ),
            "log_metric_store_us": _best(
                3, lambda: bench_log_metric_store(store, sizes["log_metric_points"])
            ),
            "ingest_points_per_s": _best(
                1, lambda: bench_ingest(store, tmp, sizes["ingest_points"])
            ),
        }
        populate(store, sizes["components"], sizes["parameters"], sizes["metrics"], sizes["steps"])
        ours["dataframe_s"] = bench_dataframe(store, sizes["components"])
        mlflow = (
            None
            if args.no_mlflow
            else bench_mlflow(
                tmp,
                sizes["mlflow_log_metric_calls"],
                sizes["mlflow_log_batch_points"],
                sizes["mlflow_runs"],
                sizes["steps"],
            )
        )
    result = {
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(),
        },
        "sizes": sizes,
        "sagescale": ours,
        "mlflow": mlflow,
        "quick": q,
    }
    _print(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2))
    return result


def _pair(value: tuple[float, float], fmt: str) -> str:
    return f"{value[0]:{fmt}} / {value[1]:{fmt}}"


def _print(r: dict[str, Any]) -> None:
    s, m, z = r["sagescale"], r["mlflow"] or {}, r["sizes"]
    frame = (
        f"dataframe(), {z['components']} TCs x {z['parameters']} params x "
        f"{z['metrics']} metrics x {z['steps']} steps (s)"
    )
    rows = [
        (
            "log_metric inside a job (us/call)",
            _pair(s["log_metric_in_job_us"], ".2f"),
            _pair(m["log_metric_us"], ".0f") + " (log_metric)" if m else "-",
            "<= 5",
        ),
        (
            "log_metric, orchestrator store (us/call)",
            _pair(s["log_metric_store_us"], ".2f"),
            _pair(m["log_batch_us_per_point"], ".1f") + " (log_batch, per point)" if m else "-",
            "<= 5",
        ),
        (
            "ingest (points/s)",
            _pair(s["ingest_points_per_s"], ",.0f"),
            _pair(tuple(1e6 / v for v in m["log_batch_us_per_point"]), ",.0f") + " (log_batch)"
            if m
            else "-",
            ">= 200,000",
        ),
        (
            frame,
            _pair(s["dataframe_s"], ".3f"),
            _pair(m["search_runs_s"], ".3f") + f" (search_runs, {m['search_runs_count']} runs)"
            if m
            else "-",
            "< 1",
        ),
    ]
    header = ("measure (wall / cpu)", "sagescale (SQLite)", "MLflow (SQLite)", "goal")
    widths = [max(len(row[i]) for row in (*rows, header)) for i in range(4)]
    for row in (header, tuple("-" * w for w in widths), *rows):
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")


if __name__ == "__main__":
    main()
