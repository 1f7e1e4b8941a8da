"""Experiment tracking: the weather experiment — max_depth 2 and 5 as two trials, then analytics.

Each trial is a training job run with an ``experiment_config``; sagescale records its
hyperparameters, inputs, metrics, artifacts and model without a line of tracking code, and
the script adds its own with ``Tracker.load()``. ExperimentAnalytics then compares the two.
"""

from __future__ import annotations

import pandas as pd
from _common import HERE, parser, session

import sagescale as ss


def main(argv: list[str] | None = None) -> pd.DataFrame:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--experiment", default="weather")
    args = p.parse_args(argv)
    sess = session(args)
    samples = 1000 if args.quick else 4000
    sess.experiment(args.experiment, description="Will it rain tomorrow? Tree depth vs accuracy")
    for depth in (2, 5):
        job = ss.TrainingJob(
            base_job_name=f"weather-depth-{depth}",
            entry_point="train.py",
            source_dir=str(HERE / "experiments_weather"),
            role=args.role,
            hyperparameters={"max_depth": depth, "samples": samples},
        )
        run = sess.fit(
            job,
            experiment_config={
                "experiment_name": args.experiment,
                "trial_name": f"weather-max-depth-{depth}",
            },
        )
        print(run.job_name, run.status, run.final_metrics)
    analytics = sess.analytics(
        args.experiment,
        parameter_names=["max_depth"],
        sort_by="Metrics.test:accuracy.Max",
        sort_order="Descending",
    )
    frame = analytics.dataframe()
    columns = ["TrialComponentName", "max_depth", "test:accuracy - Max", "test:log_loss - Last"]
    with pd.option_context("display.width", 160):
        print(frame[[c for c in columns if c in frame.columns]].to_string(index=False))
    return frame


if __name__ == "__main__":
    main()
