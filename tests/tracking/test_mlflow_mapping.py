"""The MLflow store keeps MLflow's own view: experiment → experiment, trial → parent run,
trial component → nested run, metrics and parameters where the MLflow UI shows them."""

from __future__ import annotations

import secrets

import pytest

from sagescale.errors import NotFoundError, SpecError
from sagescale.testing.stores import StoreCase
from sagescale.tracking import MetricPoint
from sagescale.tracking._mlflow import MLflowStore


def test_trial_is_a_parent_run_and_a_component_a_nested_run(mlflow_case: StoreCase) -> None:
    store = mlflow_case.store
    assert isinstance(store, MLflowStore)
    uid = secrets.token_hex(4)
    exp, trial, other = f"exp-{uid}", f"trial-{uid}", f"other-{uid}"
    store.create_experiment(exp)
    store.create_trial(trial, experiment_name=exp)
    store.create_trial(other, experiment_name=exp)
    store.create_trial_component(f"tc-{uid}", trial_name=trial)
    store.create_trial_component(f"assoc-{uid}", trial_name=None)
    store.update_trial_component(f"tc-{uid}", parameters={"lr": 0.1})
    store.log_metrics(f"tc-{uid}", [MetricPoint("loss", 0.5, 3, 1_700_000_000.0)])
    store.associate_trial_component(f"tc-{uid}", other)  # nested under its first trial only

    client = store.client
    mlflow_exp = client.get_experiment_by_name(exp)
    assert mlflow_exp is not None
    runs = {r.info.run_name: r for r in client.search_runs([mlflow_exp.experiment_id])}
    parent, child = runs[trial], runs[f"tc-{uid}"]
    assert child.data.tags["mlflow.parentRunId"] == parent.info.run_id
    assert "mlflow.parentRunId" not in parent.data.tags
    assert store.describe_trial_component(f"tc-{uid}").trial_names == (trial, other)
    assert child.data.params == {"lr": "0.1"}  # shown in MLflow's params column
    history = client.get_metric_history(child.info.run_id, "loss")
    assert [(m.step, m.value, m.timestamp) for m in history] == [(3, 0.5, 1_700_000_000_000)]
    # a component created outside any trial lives apart, not nested under a trial run
    assert f"assoc-{uid}" not in runs


@pytest.mark.parametrize("name", ["a'b", "x' OR tags.`sagescale.kind` = 'trial"])
def test_names_never_break_mlflow_filter_strings(mlflow_case: StoreCase, name: str) -> None:
    store = mlflow_case.store
    with pytest.raises(NotFoundError):
        store.describe_trial_component(name)
    with pytest.raises(NotFoundError):
        store.describe_trial(name)
    assert store.list_trial_components(trial_name=name) == []
    with pytest.raises(SpecError, match="trial_component_name"):
        store.create_trial_component(name)
