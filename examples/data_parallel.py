"""Data parallel: the seed's smdistributed.dataparallel script, ported by its imports only.

On SageMaker it runs on 2 x ml.p3.16xlarge with SageMaker's data-parallel library; locally
the same spec runs under torchrun with 2 processes per host (gloo on CPU).
"""

from __future__ import annotations

from _common import HERE, parser, session

import sagescale as ss


def main(argv: list[str] | None = None) -> ss.TrainingRun:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    quick = {"epochs": 1, "num-samples": 256} if args.quick else {"epochs": 3}
    job = ss.TrainingJob(
        base_job_name="data-parallel",
        entry_point="train.py",
        source_dir=str(HERE / "data_parallel"),
        instance_type="ml.p3.16xlarge",
        instance_count=1 if args.quick else 2,
        distribution=ss.DataParallel(engine="smddp"),
        hyperparameters={"batch-size": 64, **quick},
        metric_definitions=[{"name": "test:loss", "regex": r"Test set: Average loss: ([0-9\.]+)"}],
    )
    run = session(args).fit(job, wait=True)
    print(run.job_name, run.status, run.final_metrics, run.model_artifact)
    return run


if __name__ == "__main__":
    main()
