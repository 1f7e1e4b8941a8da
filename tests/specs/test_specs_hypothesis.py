"""Property tests: every valid spec renders a request that botocore accepts, and round-trips.

The strategies build *valid* specs of every distribution kind (none, smddp, ddp, SMP v1
model parallel, torch_distributed with and without SMP v2) and tuning jobs with one or
several training job definitions under every strategy.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sagescale._botocore import validate_request
from sagescale.specs import (
    SMDDP_INSTANCES,
    TrainingJob,
    TuningJob,
    dump_spec,
    instance_types,
    load_spec,
    pytorch_versions,
)

from .specs_data import ROLE

SETTINGS = settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
pytestmark = pytest.mark.filterwarnings("ignore::sagescale.specs.SpecWarning")

GPU_INSTANCES = sorted(i.name for i in instance_types() if i.gpus > 0)
ALL_INSTANCES = sorted(i.name for i in instance_types())
GPUS = {i.name: i.gpus for i in instance_types()}
VERSIONS = sorted((v, py) for v, pys in pytorch_versions().items() for py in pys)
CHANNELS = ["train", "validation", "test", "extra.data", "aux_1"]
HP_NAMES = ["lr", "epochs", "batch-size", "momentum", "optimizer", "dropout", "layers", "wd"]

names = st.from_regex(r"[a-z][a-z0-9]{0,8}(-[a-z0-9]{1,6}){0,2}", fullmatch=True)
text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), min_size=0, max_size=30)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
hp_values = st.one_of(st.integers(-(10**6), 10**6), finite, st.booleans(), text)
# bucket names by S3's rules: 3-63 lowercase letters, digits, dots and hyphens, a letter or
# digit at both ends, no two dots in a row, not an IP address
buckets = st.from_regex(r"[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]", fullmatch=True).filter(
    lambda b: ".." not in b and not re.fullmatch(r"\d{1,3}(\.\d{1,3}){3}", b)
)
s3_uris = st.builds(lambda b, n: f"s3://{b}/{n}", buckets, names)


ENV = st.dictionaries(st.from_regex(r"[A-Z_][A-Z0-9_]{0,10}", fullmatch=True), text, max_size=3)
HYPERPARAMETERS = st.dictionaries(st.sampled_from(HP_NAMES), hp_values, max_size=5)
TAGS = st.dictionaries(names, text, max_size=3)
CHANNEL_NAMES = st.lists(st.sampled_from(CHANNELS), unique=True, max_size=3)
METRICS = st.lists(st.sampled_from(["loss", "acc", "f1"]), unique=True, max_size=3)
SUBNETS = st.lists(names.map(lambda n: f"subnet-{n}"), min_size=1, max_size=3)
GROUPS = st.lists(names.map(lambda n: f"sg-{n}"), min_size=1, max_size=2)
OPTIONAL_COUNT = st.one_of(st.none(), st.integers(1, 30))


def sorted_divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


@st.composite
def model_parallel(draw: st.DrawFn) -> tuple[str, int, dict[str, Any]]:
    instance = draw(st.sampled_from(GPU_INSTANCES))
    per_host = draw(st.integers(1, GPUS[instance]))
    count = draw(st.integers(1, 3))
    total = per_host * count
    tp = draw(st.sampled_from(sorted_divisors(total)))
    partitions = draw(st.sampled_from(sorted_divisors(total // tp)))
    dist: dict[str, Any] = {
        "type": "model_parallel",
        "partitions": partitions,
        "microbatches": draw(st.integers(1, 16)),
        "pipeline": draw(st.sampled_from(["simple", "interleaved"])),
        "optimize": draw(st.sampled_from(["memory", "speed"])),
        "placement_strategy": draw(
            st.sampled_from(["cluster", "spread", "DPT", "DTP", "PDT", "PTD", "TDP", "TPD"])
        ),
        "auto_partition": draw(st.booleans()),
        "default_partition": draw(st.integers(0, partitions - 1)),
        "ddp": tp > 1 or draw(st.booleans()),
        "tensor_parallel_degree": tp,
        "fp16": draw(st.booleans()),
        "processes_per_host": draw(st.sampled_from([None, per_host])),
        "custom_mpi_options": draw(st.sampled_from(["", "-x NCCL_DEBUG=INFO"])),
    }
    if dist["processes_per_host"] is None and per_host != GPUS[instance]:
        dist["processes_per_host"] = per_host
    if draw(st.booleans()):
        dist["memory_weight"] = draw(st.floats(0, 1))
    if draw(st.booleans()):
        dist["active_microbatches"] = draw(st.integers(1, 8))
    return instance, count, dist


@st.composite
def placement(draw: st.DrawFn) -> tuple[str, int, dict[str, Any] | None]:
    """An instance type, an instance count and a distribution that fit together."""
    kind = draw(st.sampled_from(["none", "smddp", "ddp", "model_parallel", "torch", "smp"]))
    count = draw(st.integers(1, 4))
    if kind == "none":
        return draw(st.sampled_from(ALL_INSTANCES)), count, None
    dist: dict[str, Any]
    if kind == "smddp":
        dist = {"type": "data_parallel", "engine": "smddp"}
        return draw(st.sampled_from(sorted(SMDDP_INSTANCES))), count, dist
    if kind == "ddp":
        per_host = draw(st.one_of(st.none(), st.integers(1, 8)))
        dist = {"type": "data_parallel", "engine": "ddp", "processes_per_host": per_host}
        return draw(st.sampled_from(ALL_INSTANCES)), count, dist
    if kind == "model_parallel":
        return draw(model_parallel())
    dist = {"type": "torch_distributed"}
    if kind == "smp":
        dist["smp"] = {
            "hybrid_shard_degree": draw(st.integers(0, 16)),
            "tensor_parallel_degree": draw(st.integers(1, 8)),
            "sm_activation_offloading": draw(st.booleans()),
        }
    return draw(st.sampled_from(GPU_INSTANCES)), count, dist


def channel() -> st.SearchStrategy[Any]:
    full = st.fixed_dictionaries(
        {"uri": s3_uris},
        optional={
            "input_mode": st.sampled_from(["File", "Pipe", "FastFile"]),
            "content_type": st.sampled_from(["text/csv", "application/x-recordio"]),
            "distribution": st.sampled_from(["FullyReplicated", "ShardedByS3Key"]),
            "compression": st.sampled_from(["None", "Gzip"]),
        },
    )
    return st.one_of(s3_uris, full)


CHANNEL = channel()


@st.composite
def security(draw: st.DrawFn) -> dict[str, Any]:
    out: dict[str, Any] = {
        "encrypt_inter_container_traffic": draw(st.booleans()),
        "enable_network_isolation": draw(st.booleans()),
    }
    if draw(st.booleans()):
        out["volume_kms_key"] = "arn:aws:kms:us-east-1:111122223333:key/abc"
        out["output_kms_key"] = "alias/sagescale"
    if draw(st.booleans()):
        out["subnets"] = draw(SUBNETS)
        out["security_group_ids"] = draw(GROUPS)
    return out


@st.composite
def training_jobs(draw: st.DrawFn, *, with_metric: str | None = None) -> dict[str, Any]:
    instance, count, dist = draw(placement())
    data: dict[str, Any] = {"role": ROLE, "instance_type": instance, "instance_count": count}
    if dist is not None:
        data["distribution"] = {k: v for k, v in dist.items() if v is not None}
    if draw(st.booleans()):
        version, py = draw(st.sampled_from(VERSIONS))
        data.update(framework="pytorch", framework_version=version, py_version=py)
        data["entry_point"] = draw(st.sampled_from(["train.py", "src/main.py"]))
        data["source_dir"] = draw(
            st.one_of(
                st.sampled_from([None, "code"]), s3_uris.map(lambda u: f"{u}/sourcedir.tar.gz")
            )
        )
        data["mixed_precision"] = draw(st.sampled_from([None, "fp16", "bf16"]))
    else:
        data["image_uri"] = "111122223333.dkr.ecr.us-east-1.amazonaws.com/algo:1"
        if draw(st.booleans()):
            data["entry_point"] = "train.py"
    data["base_job_name"] = draw(st.one_of(st.none(), names))
    data["hyperparameters"] = draw(HYPERPARAMETERS)
    data["inputs"] = {name: draw(CHANNEL) for name in draw(CHANNEL_NAMES)}
    metrics = draw(METRICS)
    if with_metric is not None and with_metric not in metrics:
        metrics.append(with_metric)
    data["metric_definitions"] = [{"name": m, "regex": f"{m}=([0-9.]+)"} for m in metrics]
    data["max_run_seconds"] = draw(st.integers(60, 5 * 86_400))
    if draw(st.booleans()):
        data["spot"] = {"max_wait_seconds": data["max_run_seconds"] + draw(st.integers(0, 3600))}
        data["checkpoint"] = {"s3_uri": draw(s3_uris)}
    if draw(st.booleans()):
        data["model_uri"] = draw(s3_uris)
    data["security"] = draw(security())
    data["environment"] = draw(ENV)
    data["max_retry_attempts"] = draw(OPTIONAL_COUNT)
    data["keep_alive_period_seconds"] = draw(st.one_of(st.none(), st.integers(0, 3600)))
    data["tags"] = draw(TAGS)
    if draw(st.booleans()):
        data["experiment_config"] = {"experiment_name": draw(names), "run_name": draw(names)}
    data["volume_size_gb"] = draw(st.integers(1, 1024))
    return {key: value for key, value in data.items() if value is not None}


@st.composite
def numeric_range(draw: st.DrawFn) -> dict[str, Any]:
    if draw(st.booleans()):
        first = draw(st.integers(0, 100))
        last = first + draw(st.integers(1, 500))
        scales = ["Auto", "Linear"] + (["Logarithmic"] if first > 0 else [])
        return {
            "type": "integer",
            "min_value": first,
            "max_value": last,
            "scaling_type": draw(st.sampled_from(scales)),
        }
    scale = draw(st.sampled_from(["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"]))
    if scale == "ReverseLogarithmic":
        low = draw(st.floats(0, 0.5))
        high = draw(st.floats(low + 1e-3, 0.999))
    elif scale == "Logarithmic":
        low = draw(st.floats(1e-6, 1.0))
        high = low * draw(st.floats(1.5, 1e4))
    else:
        low = draw(st.floats(-10, 10))
        high = low + draw(st.floats(0.01, 100))
    return {"type": "continuous", "min_value": low, "max_value": high, "scaling_type": scale}


def categorical_range() -> st.SearchStrategy[dict[str, Any]]:
    values = st.one_of(
        st.lists(names, min_size=1, max_size=4, unique=True),
        st.lists(st.integers(-100, 100), min_size=1, max_size=4, unique=True),
        st.lists(st.booleans(), min_size=1, max_size=2, unique=True),
    )
    return values.map(lambda v: {"type": "categorical", "values": v})


def ranges(grid: bool) -> st.SearchStrategy[dict[str, Any]]:
    one = categorical_range() if grid else st.one_of(numeric_range(), categorical_range())
    return st.dictionaries(st.sampled_from(HP_NAMES), one, min_size=1, max_size=4)


RANGES = {grid: ranges(grid) for grid in (False, True)}
TRAINING_JOBS = {metric: training_jobs(with_metric=metric) for metric in ("loss", "acc")}


@st.composite
def tuning_jobs(draw: st.DrawFn) -> dict[str, Any]:
    strategy = draw(st.sampled_from(["Bayesian", "Random", "Hyperband", "Grid"]))
    objective = draw(st.sampled_from(["loss", "acc"]))
    data: dict[str, Any] = {
        "objective_metric_name": objective,
        "objective_type": draw(st.sampled_from(["Maximize", "Minimize"])),
        "strategy": strategy,
        "max_parallel_jobs": draw(st.integers(1, 10)),
    }
    if draw(st.booleans()):
        definitions = draw(st.lists(names, min_size=1, max_size=3, unique=True))
        data["training_jobs"] = {
            name: {
                "training_job": draw(TRAINING_JOBS[objective]),
                "hyperparameter_ranges": draw(RANGES[strategy == "Grid"]),
            }
            for name in definitions
        }
    else:
        data["training_job"] = draw(TRAINING_JOBS[objective])
        data["hyperparameter_ranges"] = draw(RANGES[strategy == "Grid"])
    if strategy != "Grid":
        data["max_jobs"] = draw(st.integers(1, 50))
    if strategy == "Hyperband":
        if draw(st.booleans()):
            low = draw(st.integers(1, 10))
            data["hyperband"] = {
                "min_resource": low,
                "max_resource": low + draw(st.integers(1, 90)),
            }
    else:
        data["early_stopping_type"] = draw(st.sampled_from(["Off", "Auto"]))
    # warm start and early stopping are for a single algorithm only (SageMaker's rule)
    single = len(data.get("training_jobs", {})) <= 1
    if not single:
        data["early_stopping_type"] = "Off"
    data.update(draw(tuning_options(warm_start=single)))
    return data


@st.composite
def tuning_options(draw: st.DrawFn, *, warm_start: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if warm_start and draw(st.booleans()):
        parents = draw(st.lists(names.map(lambda n: n[:20]), min_size=1, max_size=5, unique=True))
        warm_type = draw(st.sampled_from(["IdenticalDataAndAlgorithm", "TransferLearning"]))
        out["warm_start_config"] = {"warm_start_type": warm_type, "parents": parents}
    if draw(st.booleans()):
        out["completion_criteria"] = {
            "target_objective_value": draw(st.one_of(st.none(), finite)),
            "max_jobs_not_improving": draw(st.one_of(st.none(), st.integers(3, 50))),
            "complete_on_convergence": draw(st.booleans()),
        }
    out["max_runtime_seconds"] = draw(st.one_of(st.none(), st.integers(120, 86_400)))
    out["random_seed"] = draw(st.one_of(st.none(), st.integers(0, 2**31 - 1)))
    out["base_tuning_job_name"] = draw(st.one_of(st.none(), names.map(lambda n: n[:32])))
    out["tags"] = draw(st.dictionaries(names, text, max_size=2))
    return {key: value for key, value in out.items() if value is not None}


def round_trips(spec: TrainingJob | TuningJob, folder: Path) -> None:
    for suffix in (".yaml", ".json"):
        path = folder / f"spec{suffix}"
        dump_spec(spec, path)
        assert load_spec(path) == spec


@SETTINGS
@given(data=training_jobs())
def test_valid_training_jobs_render_valid_requests(
    data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    job = TrainingJob.model_validate(data)
    request = job.to_request(job_name="hypothesis-job", region="eu-west-1")
    validate_request("CreateTrainingJob", request)
    hps = request["HyperParameters"]
    assert all(isinstance(v, str) for v in hps.values())
    if job.uses_framework:
        for key, value in hps.items():
            json.loads(value)  # every framework value is JSON, as the SDK sends it
            assert (
                key in data.get("hyperparameters", {})
                or key.startswith("sage")
                or key == "mp_parameters"
            )
    round_trips(job, tmp_path_factory.mktemp("job"))


@SETTINGS
@given(data=tuning_jobs())
def test_valid_tuning_jobs_render_valid_requests(
    data: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> None:
    spec = TuningJob.model_validate(data)
    request = spec.to_request(tuning_job_name="hypothesis-tune")
    validate_request("CreateHyperParameterTuningJob", request)
    definitions = request.get("TrainingJobDefinitions") or [request["TrainingJobDefinition"]]
    tuned = spec.ranges_by_definition()
    for definition, ranges_ in zip(definitions, tuned.values(), strict=True):
        assert not set(ranges_) & set(definition.get("StaticHyperParameters", {}))
    limits = request["HyperParameterTuningJobConfig"]["ResourceLimits"]
    if spec.strategy == "Grid":
        combinations = sum(
            math.prod(len(r["values"]) for r in rs.values()) for rs in _all_ranges(data)
        )
        assert limits["MaxNumberOfTrainingJobs"] == combinations
    round_trips(spec, tmp_path_factory.mktemp("tune"))


def _all_ranges(data: dict[str, Any]) -> list[dict[str, Any]]:
    if "training_jobs" in data:
        return [d["hyperparameter_ranges"] for d in data["training_jobs"].values()]
    return [data["hyperparameter_ranges"]]
