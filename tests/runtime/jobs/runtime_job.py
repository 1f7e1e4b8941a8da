"""A job script that uses the torch-free part of sagescale.runtime (run by the local backend)."""

import dataclasses

from sagescale import runtime


@dataclasses.dataclass
class HPs:
    epochs: int
    lr: float


env = runtime.load_env()
hps = env.hyperparameters_as(HPs)
assert env.mixed_precision == "bf16", env.mixed_precision
assert env.channel("train").is_dir()
assert env.checkpoint_dir.is_dir() or not env.checkpoint_dir.exists()
for epoch in range(hps.epochs):
    runtime.log_metric("validation:loss", hps.lr / (epoch + 1), step=epoch)
(env.model_dir / "done.txt").write_text(f"{env.current_host} {env.rank} {env.job_name}\n")
