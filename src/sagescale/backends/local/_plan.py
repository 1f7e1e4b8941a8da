"""Turn a :class:`~sagescale.specs.TrainingJob` into a job directory and a supervisor plan.

Everything that can be checked before a process starts is checked here and raises
:class:`~sagescale.errors.SpecError`; the supervisor then only executes the plan.
"""

from __future__ import annotations

import importlib.util
import json
import os
import posixpath
import shutil
import stat
import sys
import tarfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sagescale.backends.local._supervisor import (
    CONTROL_DIR,
    LOG_DIR,
    META_DIR,
    PLAN_FILE,
    STATE_FILE,
    write_json_atomic,
)
from sagescale.errors import MissingExtraError, SpecError
from sagescale.specs import Channel, ModelParallel, TrainingJob

__all__ = ["DEFAULT_PROCESSES_PER_HOST", "JobPlan", "PlanSettings", "build_plan", "check_inputs"]

#: Processes per simulated host for distributed jobs when neither the spec nor the backend
#: says otherwise (CPU + gloo).
DEFAULT_PROCESSES_PER_HOST = 2
NETWORK_INTERFACE = "lo"
#: Hyperparameters the toolkit treats as its own (``params.SAGEMAKER_HYPERPARAMETERS``).
TOOLKIT_HYPERPARAMETERS = frozenset(
    {
        "sagemaker_program",
        "sagemaker_submit_directory",
        "sagemaker_enable_cloudwatch_metrics",
        "sagemaker_region",
        "sagemaker_container_log_level",
        "sagemaker_job_name",
        "default_user_module_name",
        "_tuning_objective_metric",
        "sagemaker_s3_output",
    }
)
FRAMEWORK_MODULE = "sagemaker_pytorch_container.training:main"


@dataclass(frozen=True)
class PlanSettings:
    """Backend-level settings that shape a plan."""

    region: str = "us-east-1"
    processes_per_host: int | None = None
    stop_grace_seconds: float = 10.0
    master_port: int | None = None
    workspace_root: Path | None = None
    tracking_names: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class JobPlan:
    job_dir: Path
    hyperparameters: dict[str, str]
    plan: dict[str, Any]


# -- validation ----------------------------------------------------------------------------------
def _local_path(uri: str) -> Path | None:
    if uri.startswith("s3://"):
        return None
    return Path(uri.removeprefix("file://")).expanduser()


def _code_paths(job: TrainingJob) -> tuple[Path | None, Path]:
    entry = job.entry_point
    if entry is None:
        raise SpecError(
            "entry_point = None: the local backend runs script-mode jobs only; built-in "
            "algorithm images need SageMaker (give entry_point and source_dir)",
            field="entry_point",
            value=None,
        )
    if job.source_dir is None:
        return None, Path(entry).expanduser().resolve()
    source = Path(job.source_dir.removeprefix("file://")).expanduser().resolve()
    if job.source_dir.startswith("s3://"):
        raise SpecError(
            f"source_dir = {job.source_dir!r}: the local backend needs a local directory",
            field="source_dir",
            value=job.source_dir,
        )
    if not source.is_dir() or not os.access(source, os.R_OK | os.X_OK):
        raise SpecError(
            f"source_dir = {job.source_dir!r}: must be a readable directory",
            field="source_dir",
            value=job.source_dir,
        )
    return source, source / entry


def check_inputs(job: TrainingJob) -> None:
    """Reject what cannot run locally before anything is written."""
    _, entry = _code_paths(job)
    if not entry.is_file() or not os.access(entry, os.R_OK):
        raise SpecError(
            f"entry_point = {job.entry_point!r}: no readable file at {entry}",
            field="entry_point",
            value=job.entry_point,
        )
    for name, channel in job.channels().items():
        _check_channel(name, channel)
    if job.model_uri is not None:
        _check_model_uri(job.model_uri)
    if job.output_path is not None:
        _check_uri("output_path", job.output_path)
        _check_local_folder("output_path", job.output_path)
    if job.checkpoint is not None and job.checkpoint.s3_uri is not None:
        _check_uri("checkpoint.s3_uri", job.checkpoint.s3_uri)
        _check_local_folder("checkpoint.s3_uri", job.checkpoint.s3_uri)
    if job.distribution is not None and importlib.util.find_spec("torch") is None:
        raise MissingExtraError("torch", "torch", "a distributed local job (torchrun)")


def _check_local_folder(where: str, uri: str) -> None:
    """A local destination folder: it, or its nearest existing parent, is a folder (a file
    in the way would fail the job only when its outputs are copied, after training)."""
    path = _local_path(uri)
    if path is None:
        return
    path = path.absolute()
    while not path.exists() and path.parent != path:
        path = path.parent
    if not path.is_dir():
        raise SpecError(
            f"{where} = {uri!r}: {path} is a file, must be a folder (or not exist)",
            field=where,
            value=uri,
        )


def _check_model_uri(uri: str) -> None:
    """A local ``model_uri`` is a folder or a tar archive (``model.tar.gz``)."""
    _check_uri("model_uri", uri)
    path = _local_path(uri)
    if path is None:
        return
    if not path.exists():
        raise SpecError(f"model_uri = {uri!r}: no such file", field="model_uri", value=uri)
    if path.is_file() and not _is_tar(path):
        raise SpecError(
            f"model_uri = {uri!r}: must be a tar archive (model.tar.gz) or a folder",
            field="model_uri",
            value=uri,
        )


def _is_tar(path: Path) -> bool:
    try:
        return tarfile.is_tarfile(path)
    except OSError:
        return False


def _check_channel(name: str, channel: Channel) -> None:
    where = f"inputs.{name}"
    if channel.input_mode == "Pipe":
        raise SpecError(
            f"{where}.input_mode = 'Pipe': not supported by the local backend (use File)",
            field=f"{where}.input_mode",
            value="Pipe",
        )
    _check_uri(where, channel.uri)
    path = _local_path(channel.uri)
    if path is not None and not path.exists():
        raise SpecError(
            f"{where} = {channel.uri!r}: no such file or directory",
            field=where,
            value=channel.uri,
        )


def _check_uri(where: str, uri: str) -> None:
    scheme = uri.split("://", 1)[0] if "://" in uri else ""
    if scheme not in ("", "s3", "file"):
        raise SpecError(
            f"{where} = {uri!r}: must be a local path, file:// or s3:// URI",
            field=where,
            value=uri,
        )


# -- processes per host --------------------------------------------------------------------------
def local_processes_per_host(job: TrainingJob, setting: int | None) -> int:
    """The spec's ``processes_per_host``, else the backend setting, else 2 (distributed)."""
    dist = job.distribution
    if dist is None:
        return 1
    if dist.processes_per_host is not None:
        return dist.processes_per_host
    count = setting or DEFAULT_PROCESSES_PER_HOST
    if isinstance(dist, ModelParallel):
        group = dist.partitions * dist.tensor_parallel_degree
        if (count * job.instance_count) % group:
            count = group
    return count


def local_job(job: TrainingJob, per_host: int) -> TrainingJob:
    """The spec with the local process count filled in (so hyperparameters agree)."""
    dist = job.distribution
    if dist is None or dist.processes_per_host == per_host:
        return job
    return job.model_copy(
        update={"distribution": dist.model_copy(update={"processes_per_host": per_host})}
    )


def resolve_hyperparameters(
    job: TrainingJob,
    job_name: str,
    region: str,
    code_dir: Path,
    overrides: Mapping[str, str | int | float | bool] | None,
) -> dict[str, str]:
    """SageMaker's hyperparameters; ``overrides`` are plain strings, as tuning passes them."""
    values = job.sagemaker_hyperparameters(
        job_name=job_name, submit_directory=str(code_dir), region=region
    )
    for key, value in (overrides or {}).items():
        if not isinstance(key, str) or not 1 <= len(key) <= 256:
            raise SpecError(
                f"hyperparameters: name {key!r} must be a 1-256 character string",
                field="hyperparameters",
                value=key,
            )
        if not isinstance(value, str | int | float | bool):
            raise SpecError(
                f"hyperparameters.{key} = {value!r}: must be a string, number or boolean",
                field=f"hyperparameters.{key}",
                value=value,
            )
        values[key] = ("true" if value else "false") if isinstance(value, bool) else str(value)
    return values


# -- the job directory ---------------------------------------------------------------------------
def build_plan(
    job: TrainingJob,
    *,
    job_name: str,
    job_dir: Path,
    settings: PlanSettings,
    overrides: Mapping[str, str | int | float | bool] | None = None,
) -> JobPlan:
    """Lay out ``job_dir`` (claimed, empty) and write the supervisor's plan."""
    per_host = local_processes_per_host(job, settings.processes_per_host)
    job = local_job(job, per_host)
    layout = _Layout(job_dir)
    source = job
    job = _lone_script(job)
    hps = resolve_hyperparameters(job, job_name, settings.region, layout.code, overrides)
    layout.create()
    _copy_code(source, layout.code, settings.workspace_root)
    hosts = [f"algo-{i}" for i in range(1, job.instance_count + 1)]
    channels = job.channels()
    if job.model_uri is not None:
        channels[job.model_channel_name] = Channel(uri=job.model_uri)
    input_config = _input_data_config(channels)
    ctx = _EnvContext(job, job_name, layout, hps, hosts, input_config, settings, per_host)
    host_entries = [_host_entry(ctx, index) for index in range(len(hosts))]
    plan = _plan_dict(job, job_name, layout, host_entries, settings)
    write_json_atomic(layout.meta / PLAN_FILE, plan)
    return JobPlan(job_dir=job_dir, hyperparameters=hps, plan=plan)


def _lone_script(job: TrainingJob) -> TrainingJob:
    """Without ``source_dir`` the entry point is a path to one script, copied alone into
    ``code/``: the job runs it by its file name (``sagemaker_program``), as the SageMaker
    SDK and backend do."""
    if job.source_dir is not None or job.entry_point is None:
        return job
    name = Path(job.entry_point).name
    return job if name == job.entry_point else job.model_copy(update={"entry_point": name})


class _Layout:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "input" / "config"
        self.data = root / "input" / "data"
        self.model = root / "model"
        self.output = root / "output"
        self.output_data = self.output / "data"
        self.checkpoints = root / "checkpoints"
        self.code = root / "code"
        self.meta = root / META_DIR

    def create(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for path in (
            self.config,
            self.data,
            self.model,
            self.output_data,
            self.output / "intermediate",
            self.output / "metrics",
            self.output / "tracking",
            self.checkpoints,
            self.root / LOG_DIR,
            self.meta / CONTROL_DIR,
        ):
            path.mkdir(parents=True, exist_ok=True)


def _copy_code(job: TrainingJob, code: Path, workspace_root: Path | None) -> None:
    source, entry = _code_paths(job)
    try:
        if source is None:
            code.mkdir(exist_ok=True)
            shutil.copy2(entry, code / entry.name)
            return
        skip = workspace_root.resolve() if workspace_root is not None else None

        def ignore(directory: str, names: list[str]) -> list[str]:
            here = Path(directory)
            skipped = [
                n for n in names if n == "__pycache__" or (skip is not None and here / n == skip)
            ]
            for n in names:
                _check_copyable(here / n, job.source_dir)
            return skipped

        shutil.copytree(source, code, ignore=ignore, dirs_exist_ok=True, symlinks=True)
    except OSError as exc:
        raise SpecError(
            f"source_dir = {job.source_dir!r}: cannot be copied: {exc}",
            field="source_dir",
            value=job.source_dir,
        ) from exc


def _check_copyable(path: Path, source_dir: str | None) -> None:
    """Only directories, regular files and links are copied (a FIFO would block forever)."""
    mode = path.lstat().st_mode
    if not (stat.S_ISDIR(mode) or stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
        raise SpecError(
            f"source_dir = {source_dir!r}: {path} is not a regular file or directory",
            field="source_dir",
            value=source_dir,
        )


def _input_data_config(channels: Mapping[str, Channel]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for name, channel in sorted(channels.items()):
        entry = {
            "TrainingInputMode": channel.input_mode or "File",
            "S3DistributionType": channel.distribution,
            "RecordWrapperType": "None",
        }
        if channel.content_type is not None:
            entry["ContentType"] = channel.content_type
        if channel.compression is not None:
            entry["CompressionType"] = channel.compression
        out[name] = entry
    return out


def _checkpoint_dir(job: TrainingJob, layout: _Layout) -> Path:
    """``checkpoint.local_path`` under ``/opt/ml`` maps into the job directory."""
    if job.checkpoint is None:
        return layout.checkpoints
    local = Path(posixpath.normpath(job.checkpoint.local_path))  # no ".." escapes the job
    try:
        return layout.root / local.relative_to("/opt/ml")
    except ValueError:
        return layout.checkpoints


# -- environment ---------------------------------------------------------------------------------
@dataclass
class _EnvContext:
    job: TrainingJob
    job_name: str
    layout: _Layout
    hps: dict[str, str]
    hosts: list[str]
    input_config: dict[str, dict[str, str]]
    settings: PlanSettings
    per_host: int


def _decode(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return value


def _env_value(value: Any) -> str:
    """The toolkit's ``mapping.to_env_vars`` value format."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def _cmd_args(hps: Mapping[str, Any]) -> list[str]:
    """The toolkit's ``mapping.to_cmd_args``: ``--name value`` in sorted order."""
    args: list[str] = []
    for key in sorted(hps):
        value = hps[key]
        args.append(f"--{key}" if len(key) > 1 else f"-{key}")
        if isinstance(value, dict):
            args.append(",".join(f"{k}={v}" for k, v in sorted(value.items())))
        else:
            args.append("" if value is None else str(value))
    return args


def _split_hps(hps: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any]]:
    decoded = {k: _decode(v) for k, v in hps.items()}
    sagemaker = {
        k: v
        for k, v in decoded.items()
        if k in TOOLKIT_HYPERPARAMETERS or k.startswith("sagemaker_")
    }
    user = {k: v for k, v in decoded.items() if k not in sagemaker}
    framework = {k: v for k, v in sagemaker.items() if k not in TOOLKIT_HYPERPARAMETERS}
    return user, framework


def _resource_config(ctx: _EnvContext, host: str) -> dict[str, Any]:
    group = {
        "instance_group_name": "homogeneousCluster",
        "instance_type": ctx.job.instance_type,
        "hosts": ctx.hosts,
    }
    return {
        "current_host": host,
        "current_instance_type": ctx.job.instance_type,
        "current_group_name": "homogeneousCluster",
        "hosts": ctx.hosts,
        "instance_groups": [group],
        "network_interface_name": NETWORK_INTERFACE,
    }


def _num_gpus() -> int:
    return 0  # the local backend runs on CPU (gloo); GPUs are not scheduled per host


def _training_env(ctx: _EnvContext, host: str, base: Path) -> dict[str, Any]:
    user, framework = _split_hps(ctx.hps)
    resource = _resource_config(ctx, host)
    entry = ctx.job.entry_point or ""
    module = entry[:-3] if entry.endswith(".py") else entry
    distributed = ["homogeneousCluster"] if ctx.job.distribution is not None else []
    return {
        "additional_framework_parameters": framework,
        "channel_input_dirs": {n: str(ctx.layout.data / n) for n in ctx.input_config},
        "current_host": host,
        "current_instance_group": "homogeneousCluster",
        "current_instance_group_hosts": ctx.hosts,
        "current_instance_type": ctx.job.instance_type,
        "distribution_hosts": ctx.hosts if distributed else [],
        "distribution_instance_groups": distributed,
        "framework_module": FRAMEWORK_MODULE,
        "hosts": ctx.hosts,
        "hyperparameters": user,
        "input_config_dir": str(base / "input" / "config"),
        "input_data_config": ctx.input_config,
        "input_dir": str(base / "input"),
        "instance_groups": ["homogeneousCluster"],
        "instance_groups_dict": {"homogeneousCluster": resource["instance_groups"][0]},
        "is_hetero": False,
        "is_master": host == ctx.hosts[0],
        "is_modelparallel_enabled": "mp_parameters" in user,
        "job_name": ctx.job_name,
        "log_level": 20,
        "master_hostname": ctx.hosts[0],
        "model_dir": str(ctx.layout.model),
        "module_dir": str(ctx.layout.code),
        "module_name": module,
        "network_interface_name": NETWORK_INTERFACE,
        "num_cpus": os.cpu_count() or 1,
        "num_gpus": _num_gpus(),
        "output_data_dir": str(ctx.layout.output_data),
        "output_dir": str(ctx.layout.output),
        "output_intermediate_dir": str(ctx.layout.output / "intermediate"),
        "resource_config": resource,
        "user_entry_point": entry,
    }


def _toolkit_env(ctx: _EnvContext, host: str, base: Path) -> dict[str, str]:
    """``SM_*`` as ``Environment.to_env_vars()`` of the SageMaker training toolkit."""
    training = _training_env(ctx, host, base)
    user = training["hyperparameters"]
    mapping: dict[str, Any] = {
        "hosts": ctx.hosts,
        "network_interface_name": NETWORK_INTERFACE,
        "hps": user,
        "user_entry_point": training["user_entry_point"],
        "framework_params": training["additional_framework_parameters"],
        "resource_config": training["resource_config"],
        "input_data_config": ctx.input_config,
        "output_data_dir": training["output_data_dir"],
        "channels": sorted(ctx.input_config),
        "current_host": host,
        "current_instance_type": ctx.job.instance_type,
        "current_instance_group": "homogeneousCluster",
        "current_instance_group_hosts": ctx.hosts,
        "instance_groups": training["instance_groups"],
        "instance_groups_dict": training["instance_groups_dict"],
        "distribution_instance_groups": training["distribution_instance_groups"],
        "is_hetero": False,
        "module_name": training["module_name"],
        "log_level": 20,
        "framework_module": FRAMEWORK_MODULE,
        "input_dir": training["input_dir"],
        "input_config_dir": training["input_config_dir"],
        "output_dir": training["output_dir"],
        "num_cpus": training["num_cpus"],
        "num_gpus": training["num_gpus"],
        "model_dir": training["model_dir"],
        "module_dir": training["module_dir"],
        "training_env": training,
        "user_args": _cmd_args(user),
        "output_intermediate_dir": training["output_intermediate_dir"],
    }
    for name in ctx.input_config:
        mapping[f"channel_{name}"] = str(ctx.layout.data / name)
    for key, value in user.items():
        mapping[f"hp_{key}"] = value
    return {f"SM_{k.upper()}": _env_value(v) for k, v in mapping.items()}


def _sagescale_env(ctx: _EnvContext) -> dict[str, str]:
    out = {
        "SAGESCALE_JOB_NAME": ctx.job_name,
        "SAGESCALE_METRICS_DIR": str(ctx.layout.output / "metrics"),
        "SAGESCALE_CHECKPOINT_DIR": str(_checkpoint_dir(ctx.job, ctx.layout)),
        "SAGESCALE_TRACKING_DIR": str(ctx.layout.output / "tracking"),
    }
    out.update(ctx.settings.tracking_names)
    if ctx.job.mixed_precision is not None:
        out["SAGESCALE_MIXED_PRECISION"] = ctx.job.mixed_precision
    return out


def host_environment(ctx: _EnvContext, host: str, base: Path) -> dict[str, str]:
    env = {"PYTHONUNBUFFERED": "1"}
    if ctx.job.distribution is not None:
        env.update({"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": NETWORK_INTERFACE})
    env.update(
        {k: v for k, v in os.environ.items() if k in ("OMP_NUM_THREADS", "GLOO_SOCKET_IFNAME")}
    )
    env.update(ctx.job.environment)
    entry = ctx.job.entry_point or ""
    env.update(
        {
            "SAGEMAKER_BASE_DIR": str(base),
            "TRAINING_JOB_NAME": ctx.job_name,
            "SAGEMAKER_JOB_NAME": ctx.job_name,
            "CURRENT_HOST": host,
            "SAGEMAKER_REGION": ctx.settings.region,
            "SAGEMAKER_PROGRAM": entry,
            "SAGEMAKER_SUBMIT_DIRECTORY": str(ctx.layout.code),
            "SAGEMAKER_TRAINING_MODULE": FRAMEWORK_MODULE,
        }
    )
    env.update(_toolkit_env(ctx, host, base))
    env.update(_sagescale_env(ctx))
    return env


def _host_base(ctx: _EnvContext, index: int) -> Path:
    """algo-1 uses the job directory; algo-N (N > 1) gets its own ``input/config`` and links
    to the shared data, code, model, output and checkpoints (hosts share one disk here)."""
    layout = ctx.layout
    if index == 0:
        return layout.root
    base = layout.root / "hosts" / ctx.hosts[index]
    (base / "input" / "config").mkdir(parents=True, exist_ok=True)
    for name in ("code", "model", "output", "checkpoints"):
        (base / name).symlink_to(layout.root / name, target_is_directory=True)
    (base / "input" / "data").symlink_to(layout.data, target_is_directory=True)
    return base


def _write_config(ctx: _EnvContext, host: str, base: Path) -> None:
    config = base / "input" / "config"
    (config / "hyperparameters.json").write_text(json.dumps(ctx.hps, indent=2))
    (config / "resourceconfig.json").write_text(json.dumps(_resource_config(ctx, host), indent=2))
    (config / "inputdataconfig.json").write_text(json.dumps(ctx.input_config, indent=2))


def _program(ctx: _EnvContext) -> tuple[list[str], bool]:
    """The command for the entry point and whether it is a Python script."""
    entry = ctx.job.entry_point or ""
    script = str(ctx.layout.code / entry)
    if entry.endswith(".py"):
        return [sys.executable, script], True
    if entry.endswith(".sh"):
        return ["/bin/sh", script], False
    return [script], False


def _argv(ctx: _EnvContext, index: int) -> list[str]:
    user, _ = _split_hps(ctx.hps)
    program, is_python = _program(ctx)
    args = _cmd_args(user)
    if ctx.job.distribution is None:
        return [*program, *args]
    launcher = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        f"--nnodes={len(ctx.hosts)}",
        f"--node-rank={index}",
        f"--nproc-per-node={ctx.per_host}",
        "--master-addr=127.0.0.1",
        "--master-port={master_port}",
        "--max-restarts=0",
    ]
    if not is_python:
        launcher.append("--no-python")
    return [*launcher, *(program[1:] if is_python else program), *args]


def _host_entry(ctx: _EnvContext, index: int) -> dict[str, Any]:
    host = ctx.hosts[index]
    base = _host_base(ctx, index)
    _write_config(ctx, host, base)
    return {"name": host, "argv": _argv(ctx, index), "env": host_environment(ctx, host, base)}


def _plan_dict(
    job: TrainingJob,
    job_name: str,
    layout: _Layout,
    hosts: list[dict[str, Any]],
    settings: PlanSettings,
) -> dict[str, Any]:
    channels = [
        {"name": name, "source": _source(ch.uri), "target": str(layout.data / name)}
        for name, ch in sorted(job.channels().items())
    ]
    model = None
    if job.model_uri is not None:
        target = layout.data / job.model_channel_name
        model = {"source": _source(job.model_uri), "target": str(target)}
    sync = job.checkpoint.s3_uri if job.checkpoint is not None else None
    return {
        "job_name": job_name,
        "job_dir": str(layout.root),
        "cwd": str(layout.code),
        "hosts": hosts,
        "channels": channels,
        "model_uri": model,
        "checkpoint": {"local": str(_checkpoint_dir(job, layout)), "sync_uri": sync},
        "master_port": settings.master_port,
        "max_run_seconds": job.max_run_seconds,
        "max_wait_seconds": job.spot.max_wait_seconds if job.spot is not None else None,
        "max_attempts": 1 + (job.max_retry_attempts or 0),
        "spot": job.spot is not None,
        "stop_grace_seconds": settings.stop_grace_seconds,
        "failure_file": str(layout.output / "failure"),
        "output": {
            "model_dir": str(layout.model),
            "output_data_dir": str(layout.output_data),
            "model_tar": str(layout.output / "model.tar.gz"),
            "output_tar": str(layout.output / "output.tar.gz"),
            "output_path": _source(job.output_path) if job.output_path else None,
        },
    }


def _source(uri: str) -> str:
    if uri.startswith("s3://"):
        return uri
    return str(Path(uri.removeprefix("file://")).expanduser().resolve())


def initial_state(job_name: str, created: float) -> dict[str, Any]:
    return {
        "job_name": job_name,
        "status": "InProgress",
        "secondary_status": "Starting",
        "transitions": [
            {
                "status": "Starting",
                "start": created,
                "end": None,
                "message": "Preparing the instances for training",
            }
        ],
        "start_time": created,
        "end_time": None,
        "failure_reason": None,
        "exit_code": None,
        "attempts": 1,
        "interruptions": 0,
        "model_artifacts": None,
        "output_artifacts": None,
        "training_seconds": 0.0,
        "seq": 0,
    }


def write_initial_state(job_dir: Path, job_name: str, created: float) -> None:
    write_json_atomic(job_dir / META_DIR / STATE_FILE, initial_state(job_name, created))
