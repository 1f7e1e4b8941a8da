"""Asserts the SageMaker training-container contract from inside a local job.

Every process checks the documented environment variables and files, then writes what it
saw to ``$SM_OUTPUT_DATA_DIR/<host>-rank<rank>.json``; a broken rule is written to
``/opt/ml/output/failure`` (here ``$SM_OUTPUT_DIR/failure``) and the process exits 1.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

PATH_VARS = (
    "SM_MODEL_DIR",
    "SM_INPUT_DIR",
    "SM_INPUT_CONFIG_DIR",
    "SM_OUTPUT_DIR",
    "SM_OUTPUT_DATA_DIR",
    "SM_OUTPUT_INTERMEDIATE_DIR",
    "SM_MODULE_DIR",
    "SAGEMAKER_BASE_DIR",
    "SAGESCALE_METRICS_DIR",
    "SAGESCALE_CHECKPOINT_DIR",
    "SAGESCALE_TRACKING_DIR",
)
JSON_VARS = (
    "SM_HOSTS",
    "SM_CHANNELS",
    "SM_HPS",
    "SM_RESOURCE_CONFIG",
    "SM_INPUT_DATA_CONFIG",
    "SM_TRAINING_ENV",
    "SM_USER_ARGS",
    "SM_FRAMEWORK_PARAMS",
    "SM_INSTANCE_GROUPS",
    "SM_INSTANCE_GROUPS_DICT",
    "SM_CURRENT_INSTANCE_GROUP_HOSTS",
    "SM_DISTRIBUTION_INSTANCE_GROUPS",
)
TEXT_VARS = (
    "SM_CURRENT_HOST",
    "SM_NUM_GPUS",
    "SM_NUM_CPUS",
    "SM_NETWORK_INTERFACE_NAME",
    "SM_LOG_LEVEL",
    "SM_USER_ENTRY_POINT",
    "SM_MODULE_NAME",
    "SM_FRAMEWORK_MODULE",
    "SM_CURRENT_INSTANCE_TYPE",
    "SM_CURRENT_INSTANCE_GROUP",
    "SM_IS_HETERO",
    "TRAINING_JOB_NAME",
    "CURRENT_HOST",
    "SAGEMAKER_JOB_NAME",
    "SAGEMAKER_REGION",
    "SAGEMAKER_PROGRAM",
    "SAGEMAKER_SUBMIT_DIRECTORY",
    "SAGESCALE_EXPERIMENT_NAME",
    "SAGESCALE_TRIAL_NAME",
    "SAGESCALE_TRIAL_COMPONENT_NAME",
    "SAGESCALE_JOB_NAME",
    "SAGEMAKER_TRAINING_MODULE",
    "PYTHONUNBUFFERED",
)


def check(condition: bool, message: str) -> None:
    if not condition:
        Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text(f"contract: {message}")
        print(f"CONTRACT BROKEN: {message}", file=sys.stderr, flush=True)
        sys.exit(1)


def check_environment() -> dict[str, object]:
    env = os.environ
    for name in PATH_VARS:
        check(name in env and Path(env[name]).is_dir(), f"{name} is not a directory")
    for name in TEXT_VARS:
        check(bool(env.get(name)), f"{name} is missing")
    seen: dict[str, object] = {}
    for name in JSON_VARS:
        check(name in env, f"{name} is missing")
        seen[name] = json.loads(env[name])
    return seen


def check_hosts(seen: dict[str, object]) -> None:
    env = os.environ
    hosts = seen["SM_HOSTS"]
    check(isinstance(hosts, list) and env["SM_CURRENT_HOST"] in hosts, "SM_CURRENT_HOST in hosts")
    check(env["CURRENT_HOST"] == env["SM_CURRENT_HOST"], "CURRENT_HOST == SM_CURRENT_HOST")
    resource = seen["SM_RESOURCE_CONFIG"]
    assert isinstance(resource, dict)
    check(resource["current_host"] == env["SM_CURRENT_HOST"], "SM_RESOURCE_CONFIG.current_host")
    check(resource["hosts"] == hosts, "SM_RESOURCE_CONFIG.hosts")
    base = Path(env["SAGEMAKER_BASE_DIR"])
    config = base / "input" / "config"
    check(Path(env["SM_INPUT_CONFIG_DIR"]) == config, "SM_INPUT_CONFIG_DIR under the base dir")
    on_disk = json.loads((config / "resourceconfig.json").read_text())
    check(on_disk["current_host"] == env["SM_CURRENT_HOST"], "resourceconfig.json current_host")
    check(on_disk["network_interface_name"] == env["SM_NETWORK_INTERFACE_NAME"], "interface")


def check_hyperparameters(seen: dict[str, object]) -> None:
    env = os.environ
    config = Path(env["SM_INPUT_CONFIG_DIR"])
    on_disk = json.loads((config / "hyperparameters.json").read_text())
    check(all(isinstance(v, str) for v in on_disk.values()), "hyperparameters.json has strings")
    check(on_disk["epochs"] == "2", "hyperparameters.json epochs")
    check(on_disk["sagemaker_program"] == '"contract.py"', "sagemaker_program")
    hps = seen["SM_HPS"]
    check(hps == {"epochs": 2, "label": "x y"} | _distribution_hps(hps), f"SM_HPS {hps}")
    check(env["SM_HP_EPOCHS"] == "2" and env["SM_HP_LABEL"] == "x y", "SM_HP_<NAME>")
    check(seen["SM_USER_ARGS"] == sys.argv[1:], f"SM_USER_ARGS == argv {sys.argv[1:]}")
    args = sys.argv[1:]
    check(args[args.index("--epochs") + 1] == "2", "--epochs 2 on the command line")
    check(args[args.index("--label") + 1] == "x y", "--label 'x y' on the command line")


def _distribution_hps(hps: object) -> dict[str, object]:
    assert isinstance(hps, dict)
    return {k: v for k, v in hps.items() if k in ("mp_parameters", "sagescale_mixed_precision")}


def check_files_and_channels(seen: dict[str, object]) -> None:
    env = os.environ
    base = Path(env["SAGEMAKER_BASE_DIR"])
    check(seen["SM_CHANNELS"] == ["train"], "SM_CHANNELS")
    train = Path(env["SM_CHANNEL_TRAIN"])
    check((train / "data.csv").read_text() == "1,2\n", "channel file content")
    check((base / "input" / "data" / "train" / "data.csv").is_file(), "input/data/train")
    data_config = json.loads((base / "input" / "config" / "inputdataconfig.json").read_text())
    check(data_config["train"]["TrainingInputMode"] == "File", "inputdataconfig.json")
    check(data_config == seen["SM_INPUT_DATA_CONFIG"], "SM_INPUT_DATA_CONFIG")
    for sub in ("model", "output/data", "checkpoints", "code"):
        check((base / sub).is_dir(), f"{sub}/ exists")
    check((base / "code" / "contract.py").is_file(), "code/contract.py")
    check((base / "code" / "helper.py").is_file(), "source_dir copied into code/")
    check(Path.cwd() == Path(env["SM_MODULE_DIR"]).resolve(), "cwd is the code dir")
    check(not (base / "output" / "failure").exists(), "no failure file yet")
    training = seen["SM_TRAINING_ENV"]
    assert isinstance(training, dict)
    check(training["current_host"] == env["SM_CURRENT_HOST"], "SM_TRAINING_ENV.current_host")
    check(training["hyperparameters"] == seen["SM_HPS"], "SM_TRAINING_ENV.hyperparameters")
    check(training["job_name"] == env["TRAINING_JOB_NAME"], "SM_TRAINING_ENV.job_name")
    check(env["SAGESCALE_JOB_NAME"] == env["TRAINING_JOB_NAME"], "SAGESCALE_JOB_NAME")
    check(env["SM_LOG_LEVEL"] == "20" and env["SM_NUM_GPUS"] == "0", "log level, GPUs")
    check(int(env["SM_NUM_CPUS"]) >= 1, "SM_NUM_CPUS")
    check(env["SAGESCALE_TRIAL_COMPONENT_NAME"].endswith("-aws-training-job"), "component")


def check_distribution(seen: dict[str, object]) -> dict[str, object]:
    env = os.environ
    framework = seen["SM_FRAMEWORK_PARAMS"]
    assert isinstance(framework, dict)
    if "RANK" not in env:
        check("sagemaker_torch_distributed_enabled" not in framework, "plain job")
        return {"rank": 0, "world_size": 1, "local_rank": 0}
    check(framework.get("sagemaker_torch_distributed_enabled") is True, "torch_distributed hp")
    hosts = seen["SM_HOSTS"]
    assert isinstance(hosts, list)
    world = int(env["WORLD_SIZE"])
    per_host = int(env["LOCAL_WORLD_SIZE"])
    check(world == len(hosts) * per_host, f"WORLD_SIZE {world} = hosts x processes per host")
    check(env["MASTER_ADDR"] == "127.0.0.1", "MASTER_ADDR")
    check(env.get("GLOO_SOCKET_IFNAME") == "lo" and env.get("OMP_NUM_THREADS") == "1", "gloo env")
    node = hosts.index(env["SM_CURRENT_HOST"])
    check(int(env["RANK"]) // per_host == node, "ranks are grouped by host")
    return {"rank": int(env["RANK"]), "world_size": world, "local_rank": int(env["LOCAL_RANK"])}


def main() -> None:
    seen = check_environment()
    check_hosts(seen)
    check_hyperparameters(seen)
    check_files_and_channels(seen)
    ranks = check_distribution(seen)
    report = {"host": os.environ["SM_CURRENT_HOST"], **ranks, "argv": sys.argv[1:]}
    out = Path(os.environ["SM_OUTPUT_DATA_DIR"])
    (out / f"{report['host']}-rank{report['rank']}.json").write_text(json.dumps(report))
    if report["rank"] == 0:
        Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("weights")
    print(f"contract ok on {report['host']} rank {report['rank']}", flush=True)


if __name__ == "__main__":
    main()
