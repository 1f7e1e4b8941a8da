"""runtime.load_env reads the container contract (SM_* variables and config files)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pydantic
import pytest

from sagescale.errors import SpecError
from sagescale.runtime import ModelParallelSettings, load_env

from .jobenv import make_job_env


@dataclasses.dataclass
class HPs:
    epochs: int
    lr: float = 0.1
    optimizer: str = "sgd"
    use_amp: bool = False


class PydanticHPs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    epochs: int
    lr: float


def test_reads_every_contract_variable(tmp_path: Path) -> None:
    train = tmp_path / "data" / "train"
    env = make_job_env(
        tmp_path / "ml",
        hyperparameters={"epochs": 3, "lr": 0.5, "sagemaker_program": "train.py"},
        channels={"train": train},
        hosts=("algo-1", "algo-2"),
        current_host="algo-2",
    )
    env.update(RANK="3", LOCAL_RANK="1", WORLD_SIZE="4", LOCAL_WORLD_SIZE="2")
    got = load_env(env)
    assert got.hyperparameters["epochs"] == 3
    assert got.user_hyperparameters() == {"epochs": 3, "lr": 0.5}
    assert got.channel("train") == train
    assert got.model_dir == tmp_path / "ml" / "model"
    assert got.checkpoint_dir == tmp_path / "ml" / "checkpoints"
    assert got.output_data_dir == tmp_path / "ml" / "output" / "data"
    assert got.hosts == ("algo-1", "algo-2")
    assert (got.current_host, got.host_rank) == ("algo-2", 1)
    assert (got.rank, got.local_rank, got.world_size, got.local_world_size) == (3, 1, 4, 2)
    assert not got.is_leader and got.is_local_leader is False and got.is_distributed
    assert got.num_gpus == 0
    assert got.mixed_precision is None and got.model_parallel is None


def test_files_alone_are_enough(tmp_path: Path) -> None:
    """Without SM_* variables the config files under SAGEMAKER_BASE_DIR are read (as
    strings, JSON-decoded like SageMaker's toolkit does)."""
    make_job_env(tmp_path, hyperparameters={"epochs": 2, "name": "x"}, channels={"a": tmp_path})
    got = load_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})
    assert got.hyperparameters == {"epochs": 2, "name": "x"}
    assert got.channels == {"a": tmp_path / "input" / "data" / "a"}
    assert got.rank == 0 and got.is_leader
    assert got.checkpoint_dir == tmp_path / "checkpoints"


def test_checkpoint_dir_override(tmp_path: Path) -> None:
    got = load_env({"SAGEMAKER_BASE_DIR": str(tmp_path), "SAGESCALE_CHECKPOINT_DIR": "/x/ck"})
    assert got.checkpoint_dir == Path("/x/ck")
    assert load_env({}).checkpoint_dir == Path("/opt/ml/checkpoints")


def test_hyperparameters_into_dataclass_and_pydantic(tmp_path: Path) -> None:
    make_job_env(tmp_path, hyperparameters={"epochs": "4", "lr": "0.01", "use_amp": "true"})
    got = load_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})
    assert got.hyperparameters_as(HPs) == HPs(epochs=4, lr=0.01, use_amp=True)
    env = load_env({"SM_HPS": json.dumps({"epochs": 2, "lr": 0.3, "sagemaker_region": "x"})})
    assert env.hyperparameters_as(PydanticHPs) == PydanticHPs(epochs=2, lr=0.3)


@pytest.mark.parametrize(
    ("hps", "field"),
    [
        ({"epochs": "three"}, "hyperparameters.epochs"),
        ({"epochs": 1, "lrr": 0.1}, "hyperparameters.lrr"),
        ({"epochs": 1, "use_amp": "maybe"}, "hyperparameters.use_amp"),
    ],
)
def test_bad_hyperparameters_name_the_field(hps: dict[str, object], field: str) -> None:
    env = load_env({"SM_HPS": json.dumps(hps)})
    with pytest.raises(SpecError) as info:
        env.hyperparameters_as(HPs)
    assert info.value.field == field


@dataclasses.dataclass
class DashedHPs:
    num_samples: int
    batch_size: int = 8


class PydanticDashedHPs(pydantic.BaseModel):
    model_config = pydantic.ConfigDict(extra="forbid")
    num_samples: int
    batch_size: int = 8


class AliasedHPs(pydantic.BaseModel):
    """A model that spells the dashed name itself (an alias): it gets the key as is."""

    model_config = pydantic.ConfigDict(extra="forbid")
    num_samples: int = pydantic.Field(alias="num-samples")
    rate: float = pydantic.Field(
        default=0.1, validation_alias=pydantic.AliasChoices("learning-rate", "rate")
    )


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (DashedHPs, DashedHPs(num_samples=5, batch_size=4)),
        (PydanticDashedHPs, PydanticDashedHPs(num_samples=5, batch_size=4)),
    ],
)
def test_dashed_hyperparameter_names_set_underscored_fields(model: type, expected: object) -> None:
    """argparse-style scripts on SageMaker name hyperparameters num-samples, batch-size."""
    env = load_env({"SM_HPS": json.dumps({"num-samples": "5", "batch-size": 4})})
    assert env.hyperparameters_as(model) == expected
    mixed = load_env({"SM_HPS": json.dumps({"num-samples": 5, "batch_size": "4"})})
    assert mixed.hyperparameters_as(model) == expected
    # the underscored spelling still works on its own
    plain = load_env({"SM_HPS": json.dumps({"num_samples": 5, "batch_size": 4})})
    assert plain.hyperparameters_as(model) == expected


@pytest.mark.parametrize("model", [DashedHPs, PydanticDashedHPs])
def test_both_spellings_of_one_hyperparameter_are_an_error(model: type) -> None:
    env = load_env({"SM_HPS": json.dumps({"num-samples": 5, "num_samples": 6})})
    with pytest.raises(SpecError) as info:
        env.hyperparameters_as(model)
    assert info.value.field == "hyperparameters.num_samples"
    assert info.value.value == {"num-samples": 5, "num_samples": 6}
    assert "'num-samples' and 'num_samples' both set the field 'num_samples'" in str(info.value)


def test_a_dashed_name_without_a_matching_field_is_still_unknown() -> None:
    env = load_env({"SM_HPS": json.dumps({"num_samples": 5, "num-epochs": 2})})
    with pytest.raises(SpecError) as info:
        env.hyperparameters_as(DashedHPs)
    assert info.value.field == "hyperparameters.num-epochs"
    with pytest.raises(SpecError):
        env.hyperparameters_as(PydanticDashedHPs)


def test_a_pydantic_alias_with_a_dash_is_left_to_pydantic() -> None:
    env = load_env({"SM_HPS": json.dumps({"num-samples": 5, "learning-rate": 0.5})})
    assert env.hyperparameters_as(AliasedHPs) == AliasedHPs.model_validate(
        {"num-samples": 5, "rate": 0.5}
    )


def test_mixed_precision_from_hyperparameter_or_variable() -> None:
    assert load_env({"SM_HPS": '{"sagescale_mixed_precision": "bf16"}'}).mixed_precision == "bf16"
    assert load_env({"SAGESCALE_MIXED_PRECISION": "fp16"}).mixed_precision == "fp16"
    assert load_env({"SM_HPS": '{"sagescale_mixed_precision": null}'}).mixed_precision is None
    with pytest.raises(SpecError, match="mixed_precision='fp8'"):
        load_env({"SAGESCALE_MIXED_PRECISION": "fp8"})


def test_distribution_settings_arrive_as_hyperparameters() -> None:
    smddp = load_env({"SM_HPS": '{"sagemaker_distributed_dataparallel_enabled": true}'})
    assert smddp.data_parallel_engine == "smddp"
    ddp = load_env({"SM_HPS": '{"sagemaker_torch_distributed_enabled": true}'})
    assert ddp.data_parallel_engine == "ddp"
    mp = {"partitions": 2, "microbatches": 4, "pipeline": "simple", "ddp": True, "fp16": False}
    got = load_env({"SM_HPS": json.dumps({"sagemaker_mpi_enabled": True, "mp_parameters": mp})})
    assert got.model_parallel == ModelParallelSettings(
        partitions=2, microbatches=4, pipeline="simple", ddp=True, raw=mp
    )
    assert got.model_parallel.effective_memory_weight == 0.8
    assert got.data_parallel_engine is None


def test_mp_parameters_as_a_json_string_in_the_file(tmp_path: Path) -> None:
    make_job_env(tmp_path, hyperparameters={"mp_parameters": {"partitions": 2}})
    got = load_env({"SAGEMAKER_BASE_DIR": str(tmp_path)})
    assert got.model_parallel is not None and got.model_parallel.partitions == 2


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"partitions": 0}, "mp_parameters.partitions"),
        ({"partitions": 2, "pipeline": "zigzag"}, "mp_parameters.pipeline"),
        ({"partitions": 2, "default_partition": 2}, "mp_parameters.default_partition"),
        ({"partitions": "two"}, "mp_parameters.partitions"),
        ({"partitions": 2, "placement_strategy": "DPX"}, "mp_parameters.placement_strategy"),
    ],
)
def test_bad_mp_parameters(params: dict[str, object], field: str) -> None:
    with pytest.raises(SpecError) as info:
        load_env({"SM_HPS": json.dumps({"mp_parameters": params})})
    assert info.value.field == field


@pytest.mark.parametrize("strategy", ["DPT", "PTD", "TPD", "spread"])
def test_placement_strategy_permutations_are_read(strategy: str) -> None:
    got = load_env(
        {"SM_HPS": json.dumps({"mp_parameters": {"partitions": 2, "placement_strategy": strategy}})}
    )
    assert got.model_parallel is not None
    assert got.model_parallel.placement_strategy == strategy


def test_bad_placement_strategy_names_the_rule() -> None:
    with pytest.raises(SpecError, match=r"'DDT': must be 'cluster', 'spread' or a permutation"):
        load_env({"SM_HPS": json.dumps({"mp_parameters": {"placement_strategy": "DDT"}})})


def test_unknown_channel_and_bad_variables() -> None:
    with pytest.raises(SpecError, match="channel 'train'"):
        load_env({}).channel("train")
    with pytest.raises(SpecError, match="WORLD_SIZE"):
        load_env({"WORLD_SIZE": "many"})
    with pytest.raises(SpecError, match="SM_HPS"):
        load_env({"SM_HPS": "[1, 2]"})


def test_sm_hp_variables_fill_in_missing_names() -> None:
    got = load_env(
        {
            "SM_HPS": '{"learningRate": 0.1}',
            "SM_HP_LEARNINGRATE": "0.1",
            "SM_HP_MP_PARAMETERS": '{"partitions": 2, "microbatches": 2}',
        }
    )
    assert got.hyperparameters == {
        "learningRate": 0.1,
        "mp_parameters": {"partitions": 2, "microbatches": 2},
    }
    assert got.model_parallel is not None and got.model_parallel.microbatches == 2


def test_distribution_flags_from_framework_params() -> None:
    """SageMaker's toolkit keeps sagemaker_* hyperparameters out of SM_HPS."""
    got = load_env(
        {
            "SM_HPS": '{"epochs": 1}',
            "SM_FRAMEWORK_PARAMS": '{"sagemaker_distributed_dataparallel_enabled": true}',
            "TRAINING_JOB_NAME": "job-1",
        }
    )
    assert got.data_parallel_engine == "smddp"
    assert got.framework_params == {"sagemaker_distributed_dataparallel_enabled": True}
    assert got.user_hyperparameters() == {"epochs": 1} and got.job_name == "job-1"


def test_ranks_under_mpirun() -> None:
    """SageMaker launches smddp and model parallel v1 with mpirun (OMPI_COMM_WORLD_*)."""
    got = load_env(
        {
            "OMPI_COMM_WORLD_RANK": "5",
            "OMPI_COMM_WORLD_SIZE": "8",
            "OMPI_COMM_WORLD_LOCAL_RANK": "1",
            "OMPI_COMM_WORLD_LOCAL_SIZE": "4",
        }
    )
    assert (got.rank, got.world_size, got.local_rank, got.local_world_size) == (5, 8, 1, 4)
    assert load_env({"RANK": "1", "OMPI_COMM_WORLD_RANK": "5"}).rank == 1


def test_a_multi_host_job_without_a_launcher_has_one_leader() -> None:
    """Several hosts and no torchrun/mpirun variables: one process per host, and only the
    first host leads, like the toolkit's ``is_master`` (every host was rank 0 and leader)."""
    hosts = '["algo-1", "algo-2", "algo-3"]'
    ranks = []
    for host in ("algo-1", "algo-2", "algo-3"):
        got = load_env({"SM_HOSTS": hosts, "SM_CURRENT_HOST": host})
        ranks.append((got.rank, got.world_size, got.local_rank, got.local_world_size))
        assert got.is_leader == (host == "algo-1")
        assert got.is_local_leader
    assert ranks == [(0, 3, 0, 1), (1, 3, 0, 1), (2, 3, 0, 1)]
    launched = {"SM_HOSTS": hosts, "SM_CURRENT_HOST": "algo-2", "RANK": "0", "WORLD_SIZE": "4"}
    assert load_env(launched).rank == 0 and load_env(launched).world_size == 4
    single = load_env({"SM_HOSTS": '["algo-1"]', "SM_CURRENT_HOST": "algo-1"})
    assert (single.rank, single.world_size, single.is_leader) == (0, 1, True)


def test_pydantic_errors_become_spec_errors() -> None:
    env = load_env({"SM_HPS": json.dumps({"epochs": "many", "lr": 0.1})})
    with pytest.raises(SpecError) as info:
        env.hyperparameters_as(PydanticHPs)
    assert info.value.field == "hyperparameters.epochs"


@dataclasses.dataclass
class OptionalHPs:
    layers: int | None = None
    mode: str = "a"


def test_optional_fields() -> None:
    assert load_env({"SM_HPS": '{"layers": null}'}).hyperparameters_as(OptionalHPs) == (
        OptionalHPs(layers=None)
    )
    assert load_env({"SM_HPS": '{"layers": "4"}'}).hyperparameters_as(OptionalHPs).layers == 4
    with pytest.raises(SpecError, match="matches none of the allowed types"):
        load_env({"SM_HPS": '{"layers": "four"}'}).hyperparameters_as(OptionalHPs)
