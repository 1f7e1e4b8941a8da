"""Managed spot with checkpoints: an interrupted job restarts and resumes, as on SageMaker.

Locally, ``LocalBackend.interrupt(name)`` reclaims the "spot instance" the way SageMaker
does; the checkpoint directory survives and the job restarts from its last checkpoint.
"""

from __future__ import annotations

import time

from _common import HERE, parser, session

import sagescale as ss


def main(argv: list[str] | None = None) -> ss.TrainingRun:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--checkpoints", default=None, help="checkpoint s3_uri (default: job dir)")
    args = p.parse_args(argv)
    sess = session(args)
    epochs = 6 if args.quick else 12
    job = ss.TrainingJob(
        base_job_name="spot",
        entry_point="train.py",
        source_dir=str(HERE / "checkpointing"),
        hyperparameters={"epochs": epochs, "seconds-per-epoch": 0.5},
        max_run_seconds=600,
        spot={"max_wait_seconds": 1200},
        checkpoint={"s3_uri": args.checkpoints} if args.checkpoints else {},
    )
    run = sess.fit(job, wait=False)
    if sess.backend.name == "local":
        while len(run.metric_points(["train_loss"])) < 2:
            time.sleep(0.3)
        sess.backend.interrupt(run.job_name)  # type: ignore[attr-defined]
        print("spot interruption injected")
    desc = run.wait()
    print(run.job_name, desc.status.value, "attempts:", desc.attempts)
    print([t.status for t in desc.transitions])
    if sess.backend.name == "local":
        assert "resumed from checkpoint" in run.logs()
    return run


if __name__ == "__main__":
    main()
