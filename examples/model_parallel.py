"""Model parallel: the seed's smdistributed.modelparallel script, ported by its imports only.

2 pipeline partitions and 4 microbatches (interleaved schedule). On SageMaker, 8 processes
per ml.p3.16xlarge give hybrid 4-way data x 2-way pipeline parallelism (``ddp: true``);
locally 2 processes run the 2 stages on ``torch.distributed.pipelining`` (gloo on CPU).
"""

from __future__ import annotations

from _common import HERE, parser, session

import sagescale as ss


def main(argv: list[str] | None = None) -> ss.TrainingRun:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    quick = {"epochs": 1, "num-samples": 256} if args.quick else {"epochs": 3}
    job = ss.TrainingJob(
        base_job_name="model-parallel",
        entry_point="train.py",
        source_dir=str(HERE / "model_parallel"),
        instance_type="ml.p3.16xlarge",
        distribution=ss.ModelParallel(
            partitions=2, microbatches=4, pipeline="interleaved", optimize="speed", ddp=True
        ),
        hyperparameters={"batch-size": 64, **quick},
    )
    run = session(args).fit(job, wait=True)
    print(run.job_name, run.status, run.final_metrics, run.model_artifact)
    return run


if __name__ == "__main__":
    main()
