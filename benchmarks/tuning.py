"""Tuning benchmark: regret of sagescale's search strategies next to Optuna's TPE, the
savings of the median early-stopping rule and Hyperband, and the orchestration overhead
per local training job.

Regret runs use in-process objective functions through the same ``Searcher`` the local
tuner uses (one job at a time), so the numbers measure the search, not process start-up.
The overhead is measured separately with a few real local training jobs.

    .venv/bin/python benchmarks/tuning.py            # full run (>= 10 seeds), ~10 min
    .venv/bin/python benchmarks/tuning.py --quick    # smoke run

Writes benchmarks/results/tuning.json and docs/images/tuning-regret.png, prints tables.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import optuna

from sagescale.specs import (
    CategoricalParameter,
    ContinuousParameter,
    HyperbandConfig,
    IntegerParameter,
    TrainingJob,
    TuningJob,
)
from sagescale.tuning._search import Searcher

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results" / "tuning.json"
PLOT = ROOT / "docs" / "images" / "tuning-regret.png"
DUMMY_JOB = TrainingJob(entry_point="train.py", framework="pytorch")
STRATEGIES = ["Bayesian", "Random", "Grid", "TPE"]


# ---- problems ------------------------------------------------------------------------------
def branin(v: dict[str, Any]) -> float:
    x1, x2 = float(v["x1"]), float(v["x2"])
    b, c, t = 5.1 / (4 * math.pi**2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1**2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


_H_A = [
    [10, 3, 17, 3.5, 1.7, 8],
    [0.05, 10, 17, 0.1, 8, 14],
    [3, 3.5, 1.7, 10, 17, 8],
    [17, 8, 0.05, 10, 0.1, 14],
]
_H_P = [
    [0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886],
    [0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991],
    [0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650],
    [0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381],
]
_H_ALPHA = [1.0, 1.2, 3.0, 3.2]


def hartmann6(v: dict[str, Any]) -> float:
    x = [float(v[f"x{i}"]) for i in range(6)]
    total = 0.0
    for a, p, alpha in zip(_H_A, _H_P, _H_ALPHA, strict=True):
        total -= alpha * math.exp(-sum(a[j] * (x[j] - p[j]) ** 2 for j in range(6)))
    return total


def log_lr(v: dict[str, Any]) -> float:
    """A learning-rate-like problem: best at lr = 10**-2.5, momentum 0.9, 3 layers."""
    lr, m, layers = float(v["lr"]), float(v["momentum"]), int(v["layers"])
    return (math.log10(lr) + 2.5) ** 2 + 4 * (m - 0.9) ** 2 + 0.05 * (layers - 3) ** 2


@cache
def _dataset() -> tuple[Any, Any, Any, Any]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.model_selection import train_test_split

    x, y = load_breast_cancer(return_X_y=True)
    return tuple(train_test_split(x, y, test_size=0.3, random_state=0, stratify=y))


@cache
def _hgb(eta: float, mcw: float, alpha: float, depth: int) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import log_loss

    xtr, xva, ytr, yva = _dataset()
    model = HistGradientBoostingClassifier(
        learning_rate=max(eta, 1e-3),
        min_samples_leaf=round(4 * mcw),
        l2_regularization=alpha,
        max_depth=depth,
        max_iter=25,
        max_bins=32,
        early_stopping=False,
        random_state=0,
    )
    model.fit(xtr, ytr)
    return float(log_loss(yva, model.predict_proba(xva)))


def sklearn_hgb(v: dict[str, Any]) -> float:
    """The seed's XGBoost ranges on sklearn's HistGradientBoosting (validation log loss)."""
    return _hgb(
        round(float(v["eta"]), 4),
        round(float(v["min_child_weight"]), 3),
        round(float(v["alpha"]), 4),
        int(v["max_depth"]),
    )


@dataclass
class Problem:
    ranges: dict[str, Any]
    grid: dict[str, Any]
    f: Callable[[dict[str, Any]], float]
    optimum: float | None  # None: the best value any run found


def _levels(low: float, high: float, n: int) -> CategoricalParameter:
    return CategoricalParameter(values=[low + (high - low) * i / (n - 1) for i in range(n)])


def _c(low: float, high: float, **kw: Any) -> ContinuousParameter:
    return ContinuousParameter(min_value=low, max_value=high, **kw)


PROBLEMS = {
    "Branin": Problem(
        {"x1": _c(-5, 10), "x2": _c(0, 15)},
        {"x1": _levels(-5, 10, 8), "x2": _levels(0, 15, 8)},
        branin,
        0.397887,
    ),
    "Hartmann6": Problem(
        {f"x{i}": _c(0, 1) for i in range(6)},
        {f"x{i}": _levels(0.1, 0.9, 3) for i in range(6)},
        hartmann6,
        -3.32237,
    ),
    "LogLR": Problem(
        {
            "lr": _c(1e-5, 1.0),
            "momentum": _c(0.0, 0.99),
            "layers": IntegerParameter(min_value=1, max_value=8),
        },
        {
            "lr": CategoricalParameter(values=[1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0]),
            "momentum": CategoricalParameter(values=[0.0, 0.5, 0.9, 0.99]),
            "layers": CategoricalParameter(values=[1, 2, 4, 8]),
        },
        log_lr,
        0.0,
    ),
    "HGB-breast-cancer": Problem(
        {
            "eta": _c(0, 1),
            "min_child_weight": _c(1, 10),
            "alpha": _c(0, 2),
            "max_depth": IntegerParameter(min_value=1, max_value=10),
        },
        {
            "eta": CategoricalParameter(values=[0.1, 0.4, 0.8]),
            "min_child_weight": CategoricalParameter(values=[1, 5, 10]),
            "alpha": CategoricalParameter(values=[0, 1, 2]),
            "max_depth": CategoricalParameter(values=[2, 5, 10]),
        },
        sklearn_hgb,
        None,
    ),
}


# ---- one regret run ------------------------------------------------------------------------
def _searcher(problem: Problem, strategy: str, seed: int, jobs: int) -> Searcher:
    grid = strategy == "Grid"
    spec = TuningJob(
        training_job=DUMMY_JOB,
        objective_metric_name="objective",
        objective_type="Minimize",
        hyperparameter_ranges=problem.grid if grid else problem.ranges,
        strategy="Random" if strategy == "TPE" else strategy,
        max_jobs=None if grid else jobs,
        random_seed=seed,
    )
    if strategy == "TPE":
        return Searcher(spec, sampler_factory=lambda s: optuna.samplers.TPESampler(seed=s))
    return Searcher(spec)


def regret_run(args: tuple[str, str, int, int]) -> dict[str, Any]:
    name, strategy, seed, jobs = args
    warnings.simplefilter("ignore")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:
        pass
    problem = PROBLEMS[name]
    searcher = _searcher(problem, strategy, seed, jobs)
    values: list[float] = []
    ask_seconds: list[float] = []
    for _ in range(jobs):
        start = time.perf_counter()
        suggestion = searcher.ask()
        ask_seconds.append(time.perf_counter() - start)
        if suggestion is None:
            break
        value = problem.f(suggestion.values)
        searcher.tell(suggestion, value)
        values.append(value)
    return {
        "problem": name,
        "strategy": strategy,
        "seed": seed,
        "values": values,
        "ask_seconds": ask_seconds,
    }


# ---- early stopping --------------------------------------------------------------------------
EPOCHS = 27
CURVE_RANGES = {"width": _c(0, 20), "height": _c(-100, 100)}


def curve(width: float, height: float, step: int) -> float:
    """The synthetic learning curve of Ray Tune and Syne Tune's examples."""
    return 1 / (0.1 + width * step / 100) + 0.1 * height


def stopping_run(args: tuple[str, int, int]) -> dict[str, Any]:
    mode, seed, jobs = args
    spec = TuningJob(
        training_job=DUMMY_JOB,
        objective_metric_name="objective",
        objective_type="Minimize",
        hyperparameter_ranges=CURVE_RANGES,
        strategy="Hyperband" if mode == "Hyperband" else "Random",
        early_stopping_type="Auto" if mode == "Median rule" else "Off",
        hyperband=HyperbandConfig(min_resource=1, max_resource=EPOCHS)
        if mode == "Hyperband"
        else None,
        max_jobs=jobs,
        random_seed=seed,
    )
    searcher = Searcher(spec)
    epochs_used, finals = 0, []
    for _ in range(jobs):
        s = searcher.ask()
        assert s is not None
        values: dict[int, float] = {}
        for epoch in range(1, EPOCHS + 1):
            values[epoch] = curve(float(s.values["width"]), float(s.values["height"]), epoch)
            if searcher.report(s, values):
                break
        epochs_used += len(values)
        finals.append(values[max(values)])
        searcher.tell(s, finals[-1])
    return {"mode": mode, "seed": seed, "epochs": epochs_used, "best": min(finals)}


# ---- orchestration overhead ----------------------------------------------------------------
_SCRIPT = """
import argparse
p = argparse.ArgumentParser(); p.add_argument("-x", type=float, default=0.5)
a, _ = p.parse_known_args()
for e in range(1, 4):
    print(f"loss={(a.x - 0.3) ** 2 + 1 / e}", flush=True)
"""


def overhead(jobs: int) -> dict[str, float]:
    """Seconds per training job: bare local submit+wait vs. the same jobs under the tuner."""
    from sagescale.backends.local import LocalBackend
    from sagescale.specs import MetricDefinition
    from sagescale.tuning import HyperparameterTuner

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        src.mkdir()
        (src / "objective.py").write_text(_SCRIPT)
        job = TrainingJob(
            entry_point="objective.py",
            source_dir=str(src),
            framework="pytorch",
            metric_definitions=[MetricDefinition(name="loss", regex=r"loss=([-+0-9.eE]+)")],
        )
        backend = LocalBackend(Path(tmp) / "ws")
        start = time.perf_counter()
        for i in range(jobs):
            backend.wait(backend.submit(job, hyperparameters={"x": i / jobs}))
        bare = (time.perf_counter() - start) / jobs
        tuner = HyperparameterTuner(
            job,
            objective_metric_name="loss",
            objective_type="Minimize",
            hyperparameter_ranges={"x": _c(0, 1)},
            strategy="Random",
            max_jobs=jobs,
            backend=backend,
            workspace=Path(tmp) / "ws",
        )
        start = time.perf_counter()
        tuner.fit()
        tuned = (time.perf_counter() - start) / jobs
    return {
        "bare_local_job_s": bare,
        "tuned_job_s": tuned,
        "overhead_s": tuned - bare,
        "jobs": jobs,
    }


# ---- summary -----------------------------------------------------------------------------------
def _regret_curves(runs: list[dict[str, Any]]) -> dict[str, dict[str, list[list[float]]]]:
    best_seen: dict[str, float] = {}
    for run in runs:
        if run["values"]:
            p = run["problem"]
            best_seen[p] = min(best_seen.get(p, math.inf), min(run["values"]))
    out: dict[str, dict[str, list[list[float]]]] = {}
    for run in runs:
        p = run["problem"]
        optimum = PROBLEMS[p].optimum
        ref = best_seen[p] if optimum is None else min(optimum, best_seen[p])
        trace, best = [], math.inf
        for v in run["values"]:
            best = min(best, v)
            trace.append(best - ref)
        out.setdefault(p, {}).setdefault(run["strategy"], []).append(trace)
    return out


def _median_at(traces: list[list[float]], n: int) -> float:
    return statistics.median(t[min(n, len(t)) - 1] for t in traces)


def regret_table(curves: dict[str, dict[str, list[list[float]]]]) -> list[dict[str, Any]]:
    rows = []
    for problem, by_strategy in curves.items():
        for strategy in STRATEGIES:
            traces = by_strategy.get(strategy, [])
            if traces:
                rows.append(
                    {
                        "problem": problem,
                        "strategy": strategy,
                        "median_regret_20": _median_at(traces, 20),
                        "median_regret_50": _median_at(traces, 50),
                        "seeds": len(traces),
                    }
                )
    return rows


def goals(rows: list[dict[str, Any]]) -> dict[str, bool]:
    at = {(r["problem"], r["strategy"]): r["median_regret_50"] for r in rows}
    out = {}
    for p in ("Branin", "Hartmann6"):
        if (p, "Bayesian") in at:
            b = at[(p, "Bayesian")]
            out[f"{p}: Bayesian <= TPE at 50"] = b <= at[(p, "TPE")]
            out[f"{p}: Bayesian <= half of Random at 50"] = b <= 0.5 * at[(p, "Random")]
    return out


def stopping_table(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    full = {r["seed"]: r for r in runs if r["mode"] == "Off"}
    rows = []
    for mode in ("Median rule", "Hyperband"):
        mine = [r for r in runs if r["mode"] == mode]
        saved = [1 - r["epochs"] / full[r["seed"]]["epochs"] for r in mine]
        change = [
            (r["best"] - full[r["seed"]]["best"]) / abs(full[r["seed"]]["best"]) for r in mine
        ]
        rows.append(
            {
                "mode": mode,
                "median_epochs_saved": statistics.median(saved),
                "median_best_change": statistics.median(change),
                "worst_best_change": max(change),
                "seeds": len(mine),
            }
        )
    return rows


def plot(curves: dict[str, dict[str, list[list[float]]]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(curves), figsize=(4.2 * len(curves), 3.6))
    for ax, (problem, by_strategy) in zip(axes, curves.items(), strict=True):
        for strategy in STRATEGIES:
            traces = by_strategy.get(strategy)
            if not traces:
                continue
            n = max(len(t) for t in traces)
            med = [_median_at(traces, i) for i in range(1, n + 1)]
            ax.plot(range(1, n + 1), [max(m, 1e-6) for m in med], label=strategy)
        ax.set_yscale("log")
        ax.set_title(problem)
        ax.set_xlabel("training jobs")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("median regret (log)")
    axes[0].legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=90)


def _print_tables(
    regret: list[dict[str, Any]],
    stop: list[dict[str, Any]],
    ask: dict[str, float],
    over: dict[str, float],
    ok: dict[str, bool],
) -> None:
    print(f"\n{'problem':<20}{'strategy':<10}{'regret@20':>12}{'regret@50':>12}")
    for r in regret:
        print(
            f"{r['problem']:<20}{r['strategy']:<10}{r['median_regret_20']:>12.4g}"
            f"{r['median_regret_50']:>12.4g}"
        )
    print(f"\n{'early stopping':<14}{'epochs saved':>14}{'best change':>13}{'worst':>10}")
    for r in stop:
        print(
            f"{r['mode']:<14}{r['median_epochs_saved']:>14.1%}"
            f"{r['median_best_change']:>13.2%}{r['worst_best_change']:>10.2%}"
        )
    print("\nmedian seconds per suggestion:", {k: round(v, 4) for k, v in ask.items()})
    print("orchestration per local training job:", {k: round(v, 3) for k, v in over.items()})
    for goal, met in ok.items():
        print(f"goal {'met    ' if met else 'NOT met'}: {goal}")


RUNS = ROOT / "benchmarks" / "results" / "tuning-runs.jsonl.tmp"


def markdown(result: dict[str, Any]) -> str:
    """The tables of docs/tuning.md, from benchmarks/results/tuning.json."""
    lines = [
        "| problem | Bayesian @20 | Random @20 | Grid @20 | TPE @20 | Bayesian @50 | "
        "Random @50 | Grid @50 | TPE @50 |",
        "| --- |" + " ---: |" * 8,
    ]
    by = {(r["problem"], r["strategy"]): r for r in result["regret"]}
    for problem in dict.fromkeys(r["problem"] for r in result["regret"]):
        cells = [
            f"{by[(problem, s)][f'median_regret_{n}']:.3g}" for n in (20, 50) for s in STRATEGIES
        ]
        lines.append(f"| {problem} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| early stopping | epochs saved (median) | best final objective change "
        "(median) | worst change over seeds |",
        "| --- | ---: | ---: | ---: |",
    ]
    for r in result["early_stopping"]:
        lines.append(
            f"| {r['mode']} | {r['median_epochs_saved']:.1%} | "
            f"{r['median_best_change']:+.2%} | {r['worst_best_change']:+.2%} |"
        )
    return "\n".join(lines)


def _key(task: tuple[Any, ...]) -> str:
    return json.dumps(list(task))


def _load_runs(path: Path) -> dict[str, dict[str, Any]]:
    done: dict[str, dict[str, Any]] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            if line.strip():
                item = json.loads(line)
                done[item["key"]] = item["result"]
    return done


def _execute(
    tasks: list[tuple[Any, ...]], workers: int, deadline: float, path: Path
) -> dict[str, dict[str, Any]]:
    """Run what ``path`` does not hold yet, appending each result; stop starting new tasks
    at ``deadline`` (results so far are kept, so a later run continues)."""
    done = _load_runs(path)
    todo = [t for t in tasks if _key(t) not in done]
    print(f"{len(done)} runs cached, {len(todo)} to run", flush=True)
    with ProcessPoolExecutor(workers) as pool, path.open("a") as out:
        futures: dict[Future[dict[str, Any]], tuple[Any, ...]] = {}
        pending = list(todo)
        while pending or futures:
            while pending and len(futures) < workers and time.time() < deadline:
                task = pending.pop(0)
                fn = stopping_run if task[0] in ("Off", "Median rule", "Hyperband") else regret_run
                futures[pool.submit(fn, task)] = task
            if not futures:
                break
            finished, _ = wait(futures, return_when=FIRST_COMPLETED)
            for future in finished:
                task = futures.pop(future)
                done[_key(task)] = future.result()
                out.write(json.dumps({"key": _key(task), "result": done[_key(task)]}) + "\n")
                out.flush()
                print(f"{len(done):4d} done  {task}", flush=True)
    return done


def _complete_seeds(tasks: list[tuple[Any, ...]], done: dict[str, Any], seeds: int) -> list[int]:
    return [seed for seed in range(seeds) if all(_key(t) in done for t in tasks if t[-2] == seed)]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--jobs", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--overhead-jobs", type=int, default=5)
    parser.add_argument("--deadline-minutes", type=float, default=60.0)
    parser.add_argument("--runs", type=Path, default=RUNS, help="cache of finished runs")
    parser.add_argument("--quick", action="store_true", help="2 seeds, 20 jobs")
    parser.add_argument("--markdown", action="store_true", help="print the docs tables only")
    args = parser.parse_args()
    if args.markdown:
        print(markdown(json.loads(RESULTS.read_text())))
        return
    if args.quick:
        args.seeds, args.jobs, args.overhead_jobs = 2, 20, 2
        args.runs = args.runs.with_suffix(".quick.tmp")
    started = time.perf_counter()
    deadline = time.time() + 60 * args.deadline_minutes
    tasks: list[tuple[Any, ...]] = []
    for seed in range(args.seeds):  # whole seeds first, so a cut-off keeps complete seeds
        tasks += [(m, seed, args.jobs) for m in ("Off", "Median rule", "Hyperband")]
        tasks += [(p, s, seed, args.jobs) for s in STRATEGIES for p in PROBLEMS]
    done = _execute(tasks, args.workers, deadline, args.runs)
    seeds = _complete_seeds(tasks, done, args.seeds)
    chosen = [done[_key(t)] for t in tasks if t[-2] in seeds]
    runs = [r for r in chosen if "problem" in r]
    stops = [r for r in chosen if "mode" in r]
    curves = _regret_curves(runs)
    regret = regret_table(curves)
    stop = stopping_table(stops)
    ask = {
        s: statistics.median(x for r in runs if r["strategy"] == s for x in r["ask_seconds"])
        for s in STRATEGIES
    }
    over = overhead(args.overhead_jobs)
    ok = goals(regret)
    _print_tables(regret, stop, ask, over, ok)
    plot(curves, PLOT)
    result = {
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "cpus": os.cpu_count(),
            "optuna": optuna.__version__,
            "workers": args.workers,
            "load_average_at_end": os.getloadavg(),
        },
        "settings": {
            "seeds": len(seeds),
            "seeds_asked": args.seeds,
            "jobs": args.jobs,
            "epochs": EPOCHS,
        },
        "regret": regret,
        "early_stopping": stop,
        "seconds_per_suggestion": ask,
        "overhead": over,
        "goals": ok,
        "runtime_seconds": time.perf_counter() - started,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(
        f"\nwrote {RESULTS.relative_to(ROOT)} and {PLOT.relative_to(ROOT)} "
        f"({len(seeds)} complete seeds) in {result['runtime_seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
