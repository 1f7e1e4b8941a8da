"""Incremental training: start a job from an earlier job's model, and resume a stopped job.

1. ``base`` trains a model; 2. ``incremental`` starts from its ``model.tar.gz`` (``model_uri``,
   unpacked into the ``model`` channel); 3. ``resumable`` is stopped part-way, and a second job
   with the same checkpoint location picks up from its last checkpoint.
"""

from __future__ import annotations

import time
from pathlib import Path

from _common import HERE, parser, session

import sagescale as ss


def _job(name: str, args: object, **fields: object) -> ss.TrainingJob:
    return ss.TrainingJob(
        base_job_name=name,
        entry_point="train.py",
        source_dir=str(HERE / "checkpointing"),
        **fields,  # type: ignore[arg-type]
    )


def main(argv: list[str] | None = None) -> dict[str, ss.TrainingRun]:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--checkpoints", default=None, help="checkpoint location (s3:// or a folder)")
    args = p.parse_args(argv)
    sess = session(args)
    epochs = 3 if args.quick else 6

    base = sess.fit(_job("base", args, hyperparameters={"epochs": epochs}))
    print("base model:", base.model_artifact)
    incremental = sess.fit(
        _job("incremental", args, hyperparameters={"epochs": epochs}, model_uri=base.model_artifact)
    )
    print("incremental:", incremental.status, incremental.final_metrics)
    assert "initialised from the model channel" in incremental.logs()

    checkpoints = args.checkpoints or str(Path(sess.workspace or ".sagescale").resolve() / "ckpt")
    job = _job(
        "resumable",
        args,
        hyperparameters={"epochs": epochs * 3, "seconds-per-epoch": 0.5},
        checkpoint={"s3_uri": f"{checkpoints}/{int(time.time())}"},
    )
    first = sess.fit(job, wait=False)
    while not any(p.name == "train_loss" for p in first.metric_points()):
        time.sleep(0.5)
    first.stop()
    first.wait(raise_on_failure=False)
    print("stopped:", first.status, "after", len(first.metric_points(["train_loss"])), "epochs")
    second = sess.fit(job)
    assert "resumed from checkpoint" in second.logs()
    print("resumed:", second.status, second.final_metrics)
    return {"base": base, "incremental": incremental, "stopped": first, "resumed": second}


if __name__ == "__main__":
    main()
