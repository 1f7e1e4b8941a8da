"""A typed view of the training environment (stdlib only; no torch).

The same variables and files exist on SageMaker and on the local backend (the container
contract in DESIGN.md), so a script reads its environment one way in both places.
Resolution order for every value: the ``SM_*`` variable, then the file under
``<base>/input/config/`` (``base`` is ``SAGEMAKER_BASE_DIR``, default ``/opt/ml``), then a
documented default.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, cast

from sagescale.errors import SpecError

__all__ = [
    "PLACEMENT_RULE",
    "PLACEMENT_STRATEGIES",
    "DataParallelEngine",
    "MixedPrecisionMode",
    "ModelParallelSettings",
    "PlacementStrategy",
    "TrainingEnv",
    "global_rank",
    "load_env",
    "process_index",
]

MixedPrecisionMode = Literal["fp16", "bf16"]
DataParallelEngine = Literal["smddp", "ddp"]

MIXED_PRECISION_HP = "sagescale_mixed_precision"
MIXED_PRECISION_ENV = "SAGESCALE_MIXED_PRECISION"
CHECKPOINT_DIR_ENV = "SAGESCALE_CHECKPOINT_DIR"
DEFAULT_BASE_DIR = "/opt/ml"

#: Hyperparameters SageMaker and sagescale add; never handed to the user's own model.
RESERVED_HP_PREFIXES = ("sagemaker_", "sagescale_")
RESERVED_HPS = frozenset({"mp_parameters"})

#: SageMaker model parallel v1's ``placement_strategy``: ``cluster`` (= ``DPT``), ``spread``
#: (= ``TPD``), or an order of the letters D (reduced data parallel), P (pipeline) and T
#: (tensor parallel), the right-most letter varying fastest over consecutive ranks.
PlacementStrategy = Literal["cluster", "spread", "DPT", "DTP", "PDT", "PTD", "TDP", "TPD"]
PLACEMENT_STRATEGIES: tuple[str, ...] = typing.get_args(PlacementStrategy)
PLACEMENT_RULE = (
    "must be 'cluster', 'spread' or a permutation of the letters D, P and T (e.g. 'DPT', "
    "'PTD'; D = reduced data parallel, P = pipeline, T = tensor parallel, the right-most "
    "letter on neighbouring ranks)"
)


def placement_order(strategy: str) -> str:
    """The axis order, slowest to fastest over the ranks: ``cluster`` is ``DPT`` and
    ``spread`` is ``TPD``, as in SageMaker's model parallel library."""
    return {"cluster": "DPT", "spread": "TPD"}.get(strategy, strategy)


_T = TypeVar("_T")


@dataclasses.dataclass(frozen=True)
class ModelParallelSettings:
    """The job's ``mp_parameters`` (SageMaker model parallel v1 names and defaults)."""

    partitions: int = 1
    microbatches: int = 1
    pipeline: Literal["simple", "interleaved", "_only_forward"] = "interleaved"
    optimize: Literal["memory", "speed"] = "memory"
    placement_strategy: PlacementStrategy = "cluster"
    auto_partition: bool = True
    default_partition: int = 0
    memory_weight: float | None = None
    ddp: bool = False
    tensor_parallel_degree: int = 1
    raw: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @classmethod
    def from_parameters(cls, params: Mapping[str, Any]) -> ModelParallelSettings:
        """Validate ``mp_parameters``; unknown keys are kept in ``raw`` (SMP has many)."""
        known = {f.name for f in dataclasses.fields(cls)} - {"raw"}
        values = {k: v for k, v in params.items() if k in known}
        strategy = values.get("placement_strategy", "cluster")
        if strategy not in PLACEMENT_STRATEGIES:
            raise SpecError(
                f"mp_parameters.placement_strategy={strategy!r}: {PLACEMENT_RULE}",
                field="mp_parameters.placement_strategy",
                value=strategy,
            )
        settings = _coerce_dataclass(cls, {**values, "raw": dict(params)}, "mp_parameters")
        settings._check()
        return settings

    def _check(self) -> None:
        for name in ("partitions", "microbatches", "tensor_parallel_degree"):
            value = getattr(self, name)
            if value < 1:
                raise SpecError(
                    f"mp_parameters.{name}={value!r}: must be at least 1",
                    field=f"mp_parameters.{name}",
                    value=value,
                )
        choices = {
            "pipeline": ("simple", "interleaved", "_only_forward"),
            "optimize": ("memory", "speed"),
        }
        for name, allowed in choices.items():
            if getattr(self, name) not in allowed:
                raise SpecError(
                    f"mp_parameters.{name}={getattr(self, name)!r}: must be one of {allowed}",
                    field=f"mp_parameters.{name}",
                    value=getattr(self, name),
                )
        if not 0 <= self.default_partition < self.partitions:
            raise SpecError(
                f"mp_parameters.default_partition={self.default_partition}: must be in "
                f"[0, partitions={self.partitions})",
                field="mp_parameters.default_partition",
                value=self.default_partition,
            )

    @property
    def effective_memory_weight(self) -> float:
        """SageMaker's default: 0.8 when optimizing memory, 0.2 when optimizing speed."""
        if self.memory_weight is not None:
            return float(self.memory_weight)
        return 0.8 if self.optimize == "memory" else 0.2


@dataclasses.dataclass(frozen=True)
class TrainingEnv:
    """Everything a training script needs to know about the job it runs in."""

    base_dir: Path
    hyperparameters: Mapping[str, Any]
    channels: Mapping[str, Path]
    model_dir: Path
    output_dir: Path
    output_data_dir: Path
    input_dir: Path
    input_config_dir: Path
    checkpoint_dir: Path
    hosts: tuple[str, ...]
    current_host: str
    num_gpus: int
    num_cpus: int
    rank: int
    local_rank: int
    world_size: int
    local_world_size: int
    job_name: str | None
    mixed_precision: MixedPrecisionMode | None
    data_parallel_engine: DataParallelEngine | None
    model_parallel: ModelParallelSettings | None
    resource_config: Mapping[str, Any]
    user_args: tuple[str, ...]
    framework_params: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def is_leader(self) -> bool:
        """True for the process of global rank 0 (the one that saves and logs)."""
        return self.rank == 0

    @property
    def is_local_leader(self) -> bool:
        """True for local rank 0 on each host."""
        return self.local_rank == 0

    @property
    def host_rank(self) -> int:
        """Index of ``current_host`` in ``hosts`` (0 when unknown)."""
        return self.hosts.index(self.current_host) if self.current_host in self.hosts else 0

    @property
    def is_distributed(self) -> bool:
        return self.world_size > 1

    def channel(self, name: str) -> Path:
        """The folder of input channel ``name``; :class:`SpecError` when there is none."""
        try:
            return self.channels[name]
        except KeyError:
            raise SpecError(
                f"channel {name!r} is not an input of this job (channels: {sorted(self.channels)})",
                field="channel",
                value=name,
            ) from None

    def user_hyperparameters(self) -> dict[str, Any]:
        """Hyperparameters without the ones SageMaker and sagescale add."""
        return {
            k: v
            for k, v in self.hyperparameters.items()
            if k not in RESERVED_HPS and not k.startswith(RESERVED_HP_PREFIXES)
        }

    def hyperparameters_as(self, model: type[_T]) -> _T:
        """The user's hyperparameters parsed into a dataclass or a pydantic model.

        Pydantic models are duck-typed (``model_validate``) so pydantic is never imported
        here. Dataclass fields are coerced from strings (``"3"`` → ``3``, ``"true"`` →
        ``True``) because ``hyperparameters.json`` holds strings; unknown keys are an error.

        A dashed name (``num-samples``, as argparse-style scripts spell them) sets the field
        ``num_samples`` when the model has that field and no field (or pydantic alias)
        spelled with the dash; both spellings given at once is an error naming both.
        """
        validate = getattr(model, "model_validate", None)
        if not callable(validate) and not dataclasses.is_dataclass(model):
            raise SpecError(
                f"hyperparameters_as({model!r}): must be a dataclass or a pydantic model",
                field="model",
                value=model,
            )
        values = _undash(self.user_hyperparameters(), model)
        if callable(validate):
            try:
                return cast(_T, validate(values))
            except ValueError as exc:  # pydantic's ValidationError is a ValueError
                raise SpecError(
                    f"hyperparameters: {exc}", field=_first_error_field(exc), value=values
                ) from None
        return _coerce_dataclass(model, values, "hyperparameters")


def _accepted_keys(model: type[Any]) -> tuple[set[str], set[str]]:
    """(field names, every key the model accepts: names and pydantic's string aliases).

    Pydantic is duck-typed through ``model_fields`` (never imported here)."""
    fields = getattr(model, "model_fields", None)
    if isinstance(fields, Mapping):
        names = {str(name) for name in fields}
        keys = set(names)
        for info in fields.values():
            for alias in (getattr(info, "alias", None), getattr(info, "validation_alias", None)):
                if isinstance(alias, str):
                    keys.add(alias)
                for choice in getattr(alias, "choices", None) or ():
                    if isinstance(choice, str):
                        keys.add(choice)
        return names, keys
    names = {f.name for f in dataclasses.fields(model) if f.init}
    return names, set(names)


def _undash(values: dict[str, Any], model: type[Any]) -> dict[str, Any]:
    """``num-samples`` → ``num_samples`` where the model has the field ``num_samples`` and
    accepts no ``num-samples`` key; two spellings of one field are a :class:`SpecError`."""
    names, keys = _accepted_keys(model)
    spellings: dict[str, list[str]] = {}
    out: dict[str, Any] = {}
    for key, value in values.items():
        target = key
        if "-" in key and key not in keys and key.replace("-", "_") in names:
            target = key.replace("-", "_")
        spellings.setdefault(target, []).append(key)
        out[target] = value
    for target, given in spellings.items():
        if len(given) > 1:
            shown = " and ".join(repr(k) for k in sorted(given))
            raise SpecError(
                f"hyperparameters: {shown} both set the field {target!r} of "
                f"{model.__name__}; give one of them",
                field=f"hyperparameters.{target}",
                value={k: values[k] for k in sorted(given)},
            )
    return out


def _first_error_field(exc: ValueError) -> str:
    errors = getattr(exc, "errors", None)
    try:
        loc = errors()[0]["loc"] if callable(errors) else ()
    except (IndexError, KeyError, TypeError):
        loc = ()
    return ".".join(["hyperparameters", *map(str, loc)])


def load_env(environ: Mapping[str, str] | None = None) -> TrainingEnv:
    """Read the training environment from ``environ`` (default ``os.environ``)."""
    env = os.environ if environ is None else environ
    base = Path(env.get("SAGEMAKER_BASE_DIR", DEFAULT_BASE_DIR))
    config_dir = _path(env, "SM_INPUT_CONFIG_DIR", base / "input" / "config")
    hps = _hyperparameters(env, config_dir)
    settings = {**_framework_params(env, hps), **hps}
    resource = _json_env_or_file(env, "SM_RESOURCE_CONFIG", config_dir / "resourceconfig.json")
    hosts = _hosts(env, resource)
    current_host = env.get("SM_CURRENT_HOST") or str(resource.get("current_host", "algo-1"))
    per_host = _one_process_per_host(env)  # several hosts, no launcher: one process each
    world = process_index(env, "WORLD_SIZE", 1 if per_host is None else per_host[1])
    return TrainingEnv(
        base_dir=base,
        hyperparameters=hps,
        channels=_channels(env, base, config_dir),
        model_dir=_path(env, "SM_MODEL_DIR", base / "model"),
        output_dir=_path(env, "SM_OUTPUT_DIR", base / "output"),
        output_data_dir=_path(env, "SM_OUTPUT_DATA_DIR", base / "output" / "data"),
        input_dir=_path(env, "SM_INPUT_DIR", base / "input"),
        input_config_dir=config_dir,
        checkpoint_dir=_path(env, CHECKPOINT_DIR_ENV, base / "checkpoints"),
        hosts=hosts,
        current_host=current_host,
        num_gpus=_int(env, "SM_NUM_GPUS", 0),
        num_cpus=_int(env, "SM_NUM_CPUS", os.cpu_count() or 1),
        rank=global_rank(env),
        local_rank=process_index(env, "LOCAL_RANK", 0),
        world_size=world,
        local_world_size=process_index(env, "LOCAL_WORLD_SIZE", world if per_host is None else 1),
        job_name=env.get("TRAINING_JOB_NAME") or _opt_str(settings.get("sagemaker_job_name")),
        mixed_precision=_mixed_precision(env, hps),
        data_parallel_engine=_data_parallel_engine(settings),
        framework_params=_framework_params(env, hps),
        model_parallel=_model_parallel(hps),
        resource_config=resource,
        user_args=tuple(_json_list(env.get("SM_USER_ARGS"), "SM_USER_ARGS")),
    )


# -- helpers ---------------------------------------------------------------------------

#: torchrun's variables and what Open MPI's ``mpirun`` (SageMaker's launcher for smddp and
#: model parallel v1) sets instead.
_MPI_NAMES = {
    "RANK": "OMPI_COMM_WORLD_RANK",
    "WORLD_SIZE": "OMPI_COMM_WORLD_SIZE",
    "LOCAL_RANK": "OMPI_COMM_WORLD_LOCAL_RANK",
    "LOCAL_WORLD_SIZE": "OMPI_COMM_WORLD_LOCAL_SIZE",
}


def process_index(env: Mapping[str, str] | None, name: str, default: int) -> int:
    """``RANK``/``WORLD_SIZE``/``LOCAL_RANK``/``LOCAL_WORLD_SIZE`` from torchrun, else from
    ``mpirun`` (``OMPI_COMM_WORLD_*``), else ``default``."""
    env = os.environ if env is None else env
    if env.get(name):
        return _int(env, name, default)
    return _int(env, _MPI_NAMES[name], default)


def global_rank(env: Mapping[str, str] | None = None) -> int:
    """This process's global rank: ``RANK`` (torchrun), ``OMPI_COMM_WORLD_RANK`` (mpirun),
    else the host's index in ``SM_HOSTS`` — a job of several hosts started without a
    launcher runs one process per host, and only the first host leads (the SageMaker
    toolkit's ``is_master``)."""
    env = os.environ if env is None else env
    per_host = _one_process_per_host(env)
    return process_index(env, "RANK", 0 if per_host is None else per_host[0])


def _one_process_per_host(env: Mapping[str, str]) -> tuple[int, int] | None:
    """``(host index, host count)`` of a multi-host job without torchrun/mpirun variables,
    else ``None``."""
    if any(env.get(n) for pair in _MPI_NAMES.items() for n in pair):
        return None
    try:
        hosts = json.loads(env.get("SM_HOSTS") or "[]")
    except ValueError:
        return None
    current = env.get("SM_CURRENT_HOST")
    if not isinstance(hosts, list) or len(hosts) < 2 or current not in hosts:
        return None
    return hosts.index(current), len(hosts)


def _path(env: Mapping[str, str], name: str, default: Path) -> Path:
    value = env.get(name)
    return Path(value) if value else default


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    value = env.get(name)
    if value is None or value == "":
        return default
    try:
        return int(value)
    except ValueError:
        raise SpecError(
            f"environment variable {name}={value!r}: must be an integer", field=name, value=value
        ) from None


def _opt_str(value: object) -> str | None:
    return None if value is None else str(value)


def _decode(value: str) -> Any:
    """SageMaker's toolkit decodes each hyperparameter as JSON when it can."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _hyperparameters(env: Mapping[str, str], config_dir: Path) -> dict[str, Any]:
    """``SM_HPS``, else ``hyperparameters.json``; ``SM_HP_<NAME>`` variables add the names
    missing from both (lower-cased: SageMaker upper-cases them)."""
    raw = env.get("SM_HPS")
    if raw:
        loaded = _json_object(raw, "SM_HPS")
    else:
        loaded = _json_file(config_dir / "hyperparameters.json")
        loaded = {k: _decode(v) if isinstance(v, str) else v for k, v in loaded.items()}
    known = {k.lower() for k in loaded}
    for key, value in env.items():
        name = key[len("SM_HP_") :].lower() if key.startswith("SM_HP_") else ""
        if name and name not in known:
            loaded[name] = _decode(value)
    if isinstance(loaded.get("mp_parameters"), str):
        loaded["mp_parameters"] = _decode(loaded["mp_parameters"])
    return loaded


def _framework_params(env: Mapping[str, str], hps: Mapping[str, Any]) -> dict[str, Any]:
    """``SM_FRAMEWORK_PARAMS`` (the ``sagemaker_*`` hyperparameters SageMaker's toolkit
    keeps out of ``SM_HPS``), plus any ``sagemaker_*`` key found among the hyperparameters."""
    raw = env.get("SM_FRAMEWORK_PARAMS")
    params = _json_object(raw, "SM_FRAMEWORK_PARAMS") if raw else {}
    params.update({k: v for k, v in hps.items() if k.startswith("sagemaker_")})
    return params


def _json_object(raw: str, name: str) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except ValueError as exc:
        raise SpecError(f"{name}: not valid JSON ({exc})", field=name, value=raw) from None
    if not isinstance(value, dict):
        raise SpecError(f"{name}: must be a JSON object", field=name, value=raw)
    return value


def _json_list(raw: str | None, name: str) -> list[str]:
    if not raw:
        return []
    try:
        value = json.loads(raw)
    except ValueError:
        return raw.split()
    if not isinstance(value, list):
        raise SpecError(f"{name}: must be a JSON list", field=name, value=raw)
    return [str(v) for v in value]


def _json_file(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    return _json_object(path.read_text(encoding="utf-8"), str(path))


def _json_env_or_file(env: Mapping[str, str], name: str, path: Path) -> dict[str, Any]:
    raw = env.get(name)
    return _json_object(raw, name) if raw else _json_file(path)


def _hosts(env: Mapping[str, str], resource: Mapping[str, Any]) -> tuple[str, ...]:
    raw = env.get("SM_HOSTS")
    if raw:
        return tuple(_json_list(raw, "SM_HOSTS"))
    hosts = resource.get("hosts")
    return tuple(str(h) for h in hosts) if isinstance(hosts, list) else ("algo-1",)


def _channels(env: Mapping[str, str], base: Path, config_dir: Path) -> dict[str, Path]:
    names = _json_list(env.get("SM_CHANNELS"), "SM_CHANNELS")
    if not names:
        names = sorted(_json_file(config_dir / "inputdataconfig.json"))
    data_dir = base / "input" / "data"
    return {n: _path(env, f"SM_CHANNEL_{n.upper()}", data_dir / n) for n in names}


def _truthy(value: object) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes", "on")
    return bool(value)


def _mixed_precision(env: Mapping[str, str], hps: Mapping[str, Any]) -> MixedPrecisionMode | None:
    raw = env.get(MIXED_PRECISION_ENV)
    if raw is None:
        raw = hps.get(MIXED_PRECISION_HP)
    if raw is None:
        return None
    value = str(raw).strip().lower()
    if value in ("", "none", "null", "fp32", "no"):
        return None
    if value not in ("fp16", "bf16"):
        raise SpecError(
            f"mixed_precision={raw!r}: must be 'fp16', 'bf16' or null",
            field="mixed_precision",
            value=raw,
        )
    return cast(MixedPrecisionMode, value)


def _data_parallel_engine(hps: Mapping[str, Any]) -> DataParallelEngine | None:
    if _truthy(hps.get("sagemaker_distributed_dataparallel_enabled", False)):
        return "smddp"
    for key in ("sagemaker_torch_distributed_enabled", "sagemaker_pytorch_ddp_enabled"):
        if _truthy(hps.get(key, False)) and "mp_parameters" not in hps:
            return "ddp"
    return None


def _model_parallel(hps: Mapping[str, Any]) -> ModelParallelSettings | None:
    params = hps.get("mp_parameters")
    if params is None:
        return None
    if not isinstance(params, dict):
        raise SpecError("mp_parameters: must be a JSON object", field="mp_parameters", value=params)
    return ModelParallelSettings.from_parameters(params)


# -- dataclass coercion ----------------------------------------------------------------


def _coerce_dataclass(model: type[_T], values: Mapping[str, Any], where: str) -> _T:
    fields = {f.name: f for f in dataclasses.fields(cast(Any, model)) if f.init}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise SpecError(
            f"{where}: unknown key(s) {unknown} for {model.__name__} (fields: {sorted(fields)})",
            field=f"{where}.{unknown[0]}",
            value=values[unknown[0]],
        )
    hints = typing.get_type_hints(model)
    kwargs = {
        name: _coerce(value, hints.get(name, Any), f"{where}.{name}")
        for name, value in values.items()
    }
    try:
        return model(**kwargs)
    except TypeError as exc:
        raise SpecError(f"{where}: {exc}", field=where, value=dict(values)) from None


def _coerce(value: Any, hint: Any, field: str) -> Any:
    origin = typing.get_origin(hint)
    if origin is typing.Union or origin is types.UnionType:
        return _coerce_union(value, typing.get_args(hint), field)
    if origin is Literal:
        allowed = typing.get_args(hint)
        if value not in allowed:
            raise SpecError(
                f"{field}={value!r}: must be one of {allowed}", field=field, value=value
            )
        return value
    if hint is bool:
        return _coerce_bool(value, field)
    if hint in (int, float):
        return _coerce_number(value, hint, field)
    if hint is str:
        return value if isinstance(value, str) else json.dumps(value)
    return value


def _coerce_union(value: Any, options: tuple[Any, ...], field: str) -> Any:
    if value is None and type(None) in options:
        return None
    errors: list[str] = []
    for option in options:
        if option is type(None):
            continue
        try:
            return _coerce(value, option, field)
        except SpecError as exc:
            errors.append(str(exc))
    raise SpecError(
        f"{field}={value!r}: matches none of the allowed types ({'; '.join(errors)})",
        field=field,
        value=value,
    )


def _coerce_bool(value: Any, field: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false", "1", "0"):
        return value.strip().lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise SpecError(f"{field}={value!r}: must be a boolean", field=field, value=value)


def _coerce_number(value: Any, kind: type, field: str) -> Any:
    if isinstance(value, bool):
        raise SpecError(f"{field}={value!r}: must be a number", field=field, value=value)
    try:
        number = float(value) if kind is float else _to_int(value)
    except (TypeError, ValueError):
        raise SpecError(
            f"{field}={value!r}: must be {'a float' if kind is float else 'an integer'}",
            field=field,
            value=value,
        ) from None
    return number


def _to_int(value: Any) -> int:
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError(value)
        return int(value)
    return int(value)
