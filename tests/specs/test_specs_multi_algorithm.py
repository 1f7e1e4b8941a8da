"""Multi-algorithm tuning jobs: SageMaker's rule that warm start and early stopping need a
single algorithm ("Warm start and early stopping are available only when you're tuning a
single algorithm", AWS docs, *Tune multiple algorithms*)."""

from __future__ import annotations

from typing import Any

import pytest

from sagescale.errors import SpecError
from sagescale.specs import TuningJob

from .specs_data import tuning_job


def _multi(count: int, **overrides: Any) -> dict[str, Any]:
    base = tuning_job()
    definition = {
        "training_job": base["training_job"],
        "hyperparameter_ranges": {"lr": {"type": "categorical", "values": [0.1, 0.01]}},
    }
    data = tuning_job(training_jobs={f"algo-{i}": definition for i in range(count)}, **overrides)
    del data["training_job"], data["hyperparameter_ranges"]
    return data


@pytest.mark.parametrize(
    ("overrides", "field", "value"),
    [
        ({"early_stopping_type": "Auto"}, "early_stopping_type", "Auto"),
        (
            {"warm_start_config": {"parents": ["parent-job"]}},
            "warm_start_config",
            {"warm_start_type": "IdenticalDataAndAlgorithm", "parents": ["parent-job"]},
        ),
        (
            {"warm_start_config": {"warm_start_type": "TransferLearning", "parents": ["p"]}},
            "warm_start_config",
            {"warm_start_type": "TransferLearning", "parents": ["p"]},
        ),
    ],
)
def test_several_algorithms_take_no_warm_start_or_early_stopping(
    overrides: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(SpecError) as info:
        TuningJob.model_validate(_multi(2, **overrides))
    err = info.value
    assert err.field == field, str(err)
    assert err.value == value
    message = str(err)
    assert field in message
    assert "single algorithm" in message and "2 training job definitions" in message


def test_with_both_the_error_names_early_stopping_first() -> None:
    data = _multi(3, early_stopping_type="Auto", warm_start_config={"parents": ["p"]})
    with pytest.raises(SpecError) as info:
        TuningJob.model_validate(data)
    assert (info.value.field, info.value.value) == ("early_stopping_type", "Auto")
    assert "3 training job definitions" in str(info.value)


def test_one_definition_or_off_is_fine() -> None:
    one = TuningJob.model_validate(
        _multi(1, early_stopping_type="Auto", warm_start_config={"parents": ["p"]})
    )
    assert one.early_stopping_type == "Auto" and one.warm_start_config is not None
    two = TuningJob.model_validate(_multi(2, early_stopping_type="Off"))
    request = two.to_request(tuning_job_name="two-algorithms")
    config = request["HyperParameterTuningJobConfig"]
    assert config["TrainingJobEarlyStoppingType"] == "Off"
    assert "WarmStartConfig" not in request
