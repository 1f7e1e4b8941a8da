"""Quick start — the main job: a local tuning job of a data-parallel PyTorch training job.

Every training job runs as 2 processes under torchrun (gloo on CPU), exactly the script that
would run on SageMaker; the tuner searches the learning rate and width with the Bayesian
strategy and the median early-stopping rule; every job is tracked in an experiment. At the
end it prints the best job, the analytics table, and where the plots and the HTML report are.

    python examples/quickstart.py                 # local (default)
    python examples/quickstart.py --max-jobs 3    # quicker
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

import sagescale as ss
from sagescale.reporting import (
    plot_objective_curves,
    plot_parallel_coordinates,
    plot_tuning_objective,
    tuning_report_for,
)
from sagescale.tracking import get_store
from sagescale.tuning import HyperparameterTuner

HERE = Path(__file__).resolve().parent


def build_tuner(args: argparse.Namespace) -> HyperparameterTuner:
    job = ss.TrainingJob(
        base_job_name="quickstart",
        entry_point="train.py",
        source_dir=str(HERE / "quickstart"),
        distribution=ss.DataParallel(engine="ddp", processes_per_host=2),
        hyperparameters={"epochs": args.epochs, "batch-size": 64},
    )
    return HyperparameterTuner(
        job,
        objective_metric_name="val_loss",
        objective_type="Minimize",
        hyperparameter_ranges={
            "lr": ss.ContinuousParameter(min_value=1e-3, max_value=0.3, scaling_type="Logarithmic"),
            "hidden": ss.IntegerParameter(min_value=4, max_value=64),
        },
        strategy=args.strategy,
        max_jobs=args.max_jobs,
        max_parallel_jobs=1,
        early_stopping_type="Auto",
        random_seed=args.seed,
        base_tuning_job_name="quickstart",
        backend=args.backend,
        workspace=args.workspace,
    )


def main(argv: list[str] | None = None) -> pd.DataFrame:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", default=None, help="local (default) or sagemaker")
    parser.add_argument("--workspace", default=None)
    parser.add_argument("--max-jobs", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--strategy", default="Bayesian")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", default="quickstart-results")
    args = parser.parse_args(argv)

    started = time.monotonic()
    tuner = build_tuner(args)
    tuner.fit(wait=True)
    name = tuner.latest_tuning_job
    assert name is not None
    analytics = tuner.analytics()
    frame = analytics.dataframe(sort_by_final_metric=True)
    best = tuner.best_training_job()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    objective = plot_tuning_objective(
        frame, objective_type="Minimize", objective_name="val_loss", path=out / "objective.png"
    )
    parallel = plot_parallel_coordinates(
        frame,
        objective_type="Minimize",
        objective_name="val_loss",
        ranges=tuner.spec.hyperparameter_ranges,
        path=out / "parallel.png",
    )
    curves = plot_objective_curves(
        analytics.curves(),
        statuses=dict(zip(frame["TrainingJobName"], frame["TrainingJobStatus"], strict=True)),
        objective_name="val_loss",
        path=out / "curves.png",
    )
    report = out / "report.html"
    tuning_report_for(name, report, backend=args.backend, workspace=args.workspace)
    store = get_store(workspace=args.workspace)  # the tuner's workspace, not the default one
    experiment = ss.ExperimentAnalytics(experiment_name=name, store=store).dataframe()

    with pd.option_context("display.width", 160, "display.max_columns", 12):
        print(f"\ntuning job {name}: {len(frame)} training jobs")
        print(frame.drop(columns=["TrainingStartTime", "TrainingEndTime"], errors="ignore"))
        print(f"\nbest training job: {best}")
        print(f"\nexperiment {name}: {len(experiment)} trial components tracked")
    for fig in (objective, parallel, curves):
        fig.clf()
    print(
        "\nplots:", ", ".join(str(out / p) for p in ("objective.png", "parallel.png", "curves.png"))
    )
    print(f"report: {report}")
    print(f"took {time.monotonic() - started:.0f} s")
    return frame


if __name__ == "__main__":
    main()
