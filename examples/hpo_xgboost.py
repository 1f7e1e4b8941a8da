"""Hyperparameter tuning of an XGBoost-style job, then a warm-start follow-up.

eta, min_child_weight, alpha and max_depth; max_jobs 10, max_parallel_jobs 2, Minimize
validation:rmse, the median early-stopping rule; then a second tuning job that warm-starts
from the first (IdenticalDataAndAlgorithm) and so begins where the first left off.
"""

from __future__ import annotations

from _common import HERE, parser

import sagescale as ss
from sagescale.tuning import HyperparameterTuner

RANGES = {
    "eta": ss.ContinuousParameter(min_value=0.0, max_value=1.0),
    "min_child_weight": ss.ContinuousParameter(min_value=1.0, max_value=10.0),
    "alpha": ss.ContinuousParameter(min_value=0.0, max_value=2.0),
    "max_depth": ss.IntegerParameter(min_value=1, max_value=10),
}
METRICS = [
    {
        "name": "validation:rmse",
        "regex": r".*\[[0-9]+\].*#011validation-rmse:([-+]?[0-9]*\.?[0-9]+)",
    }
]


def tuner(args: object, job: ss.TrainingJob, **options: object) -> HyperparameterTuner:
    return HyperparameterTuner(
        job,
        objective_metric_name="validation:rmse",
        objective_type="Minimize",
        hyperparameter_ranges=RANGES,
        metric_definitions=METRICS,
        early_stopping_type="Auto",
        backend=args.backend,  # type: ignore[attr-defined]
        workspace=args.workspace,  # type: ignore[attr-defined]
        **options,  # type: ignore[arg-type]
    )


def main(argv: list[str] | None = None) -> dict[str, object]:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    rounds = 4 if args.quick else 10
    job = ss.TrainingJob(
        base_job_name="xgboost",
        entry_point="train.py",
        source_dir=str(HERE / "hpo_xgboost"),
        role=args.role,
        hyperparameters={"num_round": rounds},
    )
    first = tuner(
        args,
        job,
        strategy="Bayesian",
        max_jobs=4 if args.quick else 10,
        max_parallel_jobs=2,
        random_seed=1,
        base_tuning_job_name="xgb",
    )
    first.fit(wait=True)
    parent = first.latest_tuning_job
    print(first.analytics().dataframe(sort_by_final_metric=True).head(5).to_string())
    print("best of the first tuning job:", first.best_training_job())

    child = tuner(
        args,
        job,
        strategy="Bayesian",
        max_jobs=2 if args.quick else 5,
        max_parallel_jobs=2,
        random_seed=2,
        base_tuning_job_name="xgb-warm",
        warm_start_config=ss.WarmStartConfig(
            warm_start_type="IdenticalDataAndAlgorithm", parents=[parent]
        ),
    )
    child.fit(wait=True)
    print("best after warm start:", child.best_training_job())
    return {"parent": first, "child": child}


if __name__ == "__main__":
    main()
