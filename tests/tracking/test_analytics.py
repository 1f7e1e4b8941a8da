"""ExperimentAnalytics: SageMaker's columns, sorting, search expressions (bound, not pasted)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from sagescale.errors import SpecError
from sagescale.tracking import Artifact, ExperimentAnalytics, MetricPoint, search_trial_components
from sagescale.tracking._search import matches, parse_expression
from sagescale.tracking._sqlite import SQLiteStore


@pytest.fixture
def store(tmp_path: Path) -> SQLiteStore:
    s = SQLiteStore.from_path(tmp_path / "ws" / "sagescale.db")
    s.create_experiment("exp")
    s.create_trial("t-a", experiment_name="exp")
    s.create_trial("t-b", experiment_name="exp")
    now = time.time()
    for i, (lr, opt) in enumerate([(0.1, "adam"), (0.01, "sgd"), (0.001, "adam")]):
        name = f"tc-{i}"
        s.create_trial_component(
            name,
            trial_name="t-a" if i < 2 else "t-b",
            status="Completed" if i else "Failed",
            tags={"stage": "train" if i < 2 else "eval"},
            source_arn=f"local:training-job/job-{i}",
        )
        s.update_trial_component(
            name,
            parameters={"lr": lr, "optimizer": opt},
            input_artifacts={"train": Artifact(f"s3://b/train-{i}", "text/csv")},
        )
        values = [1.0 / (i + 1), 0.5 / (i + 1)]
        s.log_metrics(name, [MetricPoint("loss", v, k, now + k) for k, v in enumerate(values)])
    s.create_trial_component("elsewhere")  # in no experiment
    return s


def test_dataframe_has_sagemaker_columns(store: SQLiteStore) -> None:
    df = ExperimentAnalytics("exp", store=store).dataframe()
    assert list(df.columns) == [
        "TrialComponentName",
        "DisplayName",
        "SourceArn",
        "lr",
        "optimizer",
        "loss - Min",
        "loss - Max",
        "loss - Avg",
        "loss - StdDev",
        "loss - Last",
        "loss - Count",
        "train - MediaType",
        "train - Value",
        "Trials",
        "Experiments",
    ]
    assert list(df["TrialComponentName"]) == ["tc-0", "tc-1", "tc-2"]
    row = df.iloc[1]
    assert row["lr"] == 0.01 and row["loss - Min"] == 0.25 and row["loss - Last"] == 0.25
    assert row["loss - Count"] == 2 and row["loss - StdDev"] == pytest.approx(0.125)
    assert row["Trials"] == ["t-a"] and row["Experiments"] == ["exp"]
    assert row["SourceArn"] == "local:training-job/job-1"


def test_notebook_view_lists_components_and_metrics(store: SQLiteStore) -> None:
    html = ExperimentAnalytics("exp", store=store)._repr_html_()
    assert html.startswith('<div class="sagescale-repr">') and "<script" not in html
    assert "3 trial components" in html and "metrics: loss" in html
    assert all(f">tc-{i}<" in html for i in range(3)) and "elsewhere" not in html


def test_sort_and_select(store: SQLiteStore) -> None:
    df = ExperimentAnalytics(
        "exp",
        sort_by="Metrics.loss.Min",
        sort_order="Descending",
        parameter_names=["lr"],
        metric_names=["loss"],
        store=store,
    ).dataframe()
    assert list(df["TrialComponentName"]) == ["tc-0", "tc-1", "tc-2"]
    assert "optimizer" not in df.columns
    by_lr = ExperimentAnalytics("exp", sort_by="Parameters.lr", store=store).dataframe()
    assert list(by_lr["lr"]) == [0.001, 0.01, 0.1]
    with pytest.raises(SpecError, match="sort_order"):
        ExperimentAnalytics("exp", sort_order="Up", store=store)
    with pytest.raises(SpecError, match="sort_by"):
        ExperimentAnalytics("exp", sort_by="Nope", store=store).dataframe()
    with pytest.raises(SpecError, match="experiment_name or search_expression"):
        ExperimentAnalytics(store=store)


def _f(name: str, op: str, value: Any = None) -> dict[str, Any]:
    return {"Name": name, "Operator": op} | ({} if value is None else {"Value": value})


CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({"Filters": [_f("Parameters.lr", "GreaterThan", "0.005")]}, ["tc-0", "tc-1"]),
    ({"Filters": [_f("Parameters.optimizer", "Equals", "adam")]}, ["tc-0", "tc-2"]),
    ({"Filters": [_f("Metrics.loss.Min", "LessThanOrEqualTo", "0.25")]}, ["tc-1", "tc-2"]),
    ({"Filters": [_f("Metrics.loss.Count", "Equals", "2")]}, ["tc-0", "tc-1", "tc-2"]),
    ({"Filters": [_f("Metrics.loss.StdDev", "GreaterThan", "0.2")]}, ["tc-0"]),
    ({"Filters": [_f("Tags.stage", "Equals", "eval")]}, ["tc-2"]),
    ({"Filters": [_f("Status.PrimaryStatus", "NotEquals", "Failed")]}, ["tc-1", "tc-2"]),
    ({"Filters": [_f("Parents.TrialName", "Equals", "t-b")]}, ["tc-2"]),
    ({"Filters": [_f("Source.SourceArn", "Contains", "job-1")]}, ["tc-1"]),
    ({"Filters": [_f("Parameters.optimizer", "In", "sgd, rmsprop")]}, ["tc-1"]),
    ({"Filters": [_f("Tags.stage", "NotExists")]}, []),
    ({"Filters": [_f("InputArtifacts.train.Value", "Equals", "s3://b/train-2")]}, ["tc-2"]),
    (
        {"Filters": [_f("CreationTime", "GreaterThan", "2000-01-01T00:00:00")]},
        ["tc-0", "tc-1", "tc-2"],
    ),
    ({"Filters": [_f("CreationTime", "LessThan", "2000-01-01T00:00:00")]}, []),
    (
        {
            "Operator": "Or",
            "SubExpressions": [
                {"Filters": [_f("Parameters.lr", "Equals", "0.1")]},
                {"Filters": [_f("Tags.stage", "Equals", "eval")]},
            ],
        },
        ["tc-0", "tc-2"],
    ),
]


@pytest.mark.parametrize(("expression", "expected"), CASES)
def test_search_expressions_sql_and_records_agree(
    store: SQLiteStore, expression: dict[str, Any], expected: list[str]
) -> None:
    found = search_trial_components(store, experiment_name="exp", search_expression=expression)
    assert [r.name for r in found] == expected
    parsed = parse_expression(expression)
    in_python = [
        r.name for r in store.list_trial_components(experiment_name="exp") if matches(r, parsed)
    ]
    assert in_python == expected


def test_values_are_bound_never_pasted(store: SQLiteStore) -> None:
    hostile = "adam' OR '1'='1'; DROP TABLE tracking_metrics; --"
    expr = {"Filters": [_f("Parameters.optimizer", "Equals", hostile)]}
    assert search_trial_components(store, search_expression=expr) == []
    assert store.count_metric_points() == 6
    weird_name = {"Filters": [_f("Parameters.x') OR 1=1 --", "Exists")]}
    assert search_trial_components(store, search_expression=weird_name) == []


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        ({"Filters": [_f("Bogus", "Equals", "1")]}, "not searchable"),
        ({"Filters": [_f("Parameters.lr", "Like", "1")]}, "Operator"),
        ({"Filters": [_f("Parameters.lr", "Equals")]}, "needs a Value"),
        ({"Operator": "Xor"}, "'And' or 'Or'"),
        ({"NestedFilters": []}, "unsupported keys"),
        ({"Filters": [_f("StartTime", "GreaterThan", "yesterday")]}, "ISO 8601"),
        ({"Filters": 5}, "Filters=5 must be a list"),
        ({"Filters": "Parameters.lr"}, "must be a list"),
        ({"Filters": [5]}, "filter 5 must be a mapping"),
        ({"SubExpressions": 3}, "SubExpressions=3 must be a list"),
    ],
)
def test_bad_expressions_are_rejected(
    store: SQLiteStore, expression: dict[str, Any], message: str
) -> None:
    with pytest.raises(SpecError, match=message):
        search_trial_components(store, search_expression=expression)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"sort_by": 5}, "sort_by"),
        ({"sort_order": "Up"}, "sort_order"),
        ({"parameter_names": "lr"}, "parameter_names"),
        ({"metric_names": [1]}, "metric_names"),
        ({"output_artifact_names": 3}, "output_artifact_names"),
    ],
)
def test_bad_analytics_arguments_are_rejected(
    store: SQLiteStore, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(SpecError) as info:
        ExperimentAnalytics("exp", store=store, **kwargs)
    assert info.value.field == field and field in str(info.value)


def test_search_without_experiment(store: SQLiteStore) -> None:
    df = ExperimentAnalytics(
        search_expression={"Filters": [_f("Tags.stage", "Exists")]}, store=store
    ).dataframe(force_refresh=True)
    assert list(df["TrialComponentName"]) == ["tc-0", "tc-1", "tc-2"]


@pytest.mark.parametrize(
    ("op", "value", "expected"),
    [
        ("Equals", "6", ["d6", "s6"]),
        ("Equals", "6.0", ["d6", "s6"]),
        ("NotEquals", "6", ["d2", "d10"]),
        ("In", "2, 6", ["d2", "d6", "s6"]),
        ("In", "10,abc", ["d10"]),
    ],
)
def test_number_parameters_match_equality_by_value(
    store: SQLiteStore, op: str, value: str, expected: list[str]
) -> None:
    """A parameter logged as the number 6 is found by Equals "6" (SageMaker compares
    numbers as numbers), as is a hyperparameter stored as the text "6"."""
    store.create_experiment("depths")
    store.create_trial("depths-t", experiment_name="depths")
    for name, depth in (("d2", 2), ("d6", 6), ("d10", 10), ("s6", "6")):
        store.create_trial_component(name, trial_name="depths-t")
        store.update_trial_component(name, parameters={"max_depth": depth})
    expression = {"Filters": [_f("Parameters.max_depth", op, value)]}
    found = search_trial_components(store, experiment_name="depths", search_expression=expression)
    assert [r.name for r in found] == expected
    parsed = parse_expression(expression)
    records = store.list_trial_components(experiment_name="depths")
    assert [r.name for r in records if matches(r, parsed)] == expected


def test_sort_by_a_parameter_of_numbers_and_strings(store: SQLiteStore) -> None:
    """A job's hyperparameter is the string "3", a tracker's the number 3.0: sorting on it
    raised pandas' TypeError ('<' not supported between 'float' and 'str')."""
    store.create_experiment("mixed")
    store.create_trial("mixed-t", experiment_name="mixed")
    for name, lr in (("a", 0.1), ("b", "auto"), ("c", "0.01"), ("d", 3.0)):
        store.create_trial_component(name, trial_name="mixed-t")
        store.update_trial_component(name, parameters={"lr": lr})
    store.create_trial_component("e", trial_name="mixed-t")  # no lr
    up = ExperimentAnalytics("mixed", sort_by="Parameters.lr", store=store).dataframe()
    assert list(up["TrialComponentName"]) == ["c", "a", "d", "b", "e"]
    down = ExperimentAnalytics(
        "mixed", sort_by="Parameters.lr", sort_order="Descending", store=store
    ).dataframe()
    assert list(down["TrialComponentName"]) == ["b", "d", "a", "c", "e"]


def test_an_input_and_an_output_of_one_name_both_have_columns(store: SQLiteStore) -> None:
    """A base model in and the tuned model out, both named "model": the table had the
    column "model - Value" twice, both holding the output (the input was lost)."""
    store.create_experiment("ft")
    store.create_trial("ft-t", experiment_name="ft")
    store.create_trial_component("ft-1", trial_name="ft-t")
    store.update_trial_component(
        "ft-1",
        input_artifacts={"model": Artifact("s3://b/base.tar.gz", "application/x-tar")},
        output_artifacts={"model": Artifact("s3://b/tuned.tar.gz", None)},
    )
    df = ExperimentAnalytics("ft", store=store).dataframe()
    assert df.columns.is_unique
    row = df.iloc[0]
    assert row["model (input) - Value"] == "s3://b/base.tar.gz"
    assert row["model (input) - MediaType"] == "application/x-tar"
    assert row["model - Value"] == "s3://b/tuned.tar.gz"


def test_sort_by_a_parameter_or_metric_that_is_not_a_column(store: SQLiteStore) -> None:
    """SageMaker sorts on the service whatever columns are asked for: sort_by a parameter or
    metric left out by parameter_names/metric_names was a SpecError 'names no column'."""
    by_lr = ExperimentAnalytics(
        "exp", sort_by="Parameters.lr", parameter_names=["optimizer"], store=store
    ).dataframe()
    assert list(by_lr["TrialComponentName"]) == ["tc-2", "tc-1", "tc-0"]
    assert "lr" not in by_lr.columns and "_sort" not in by_lr.columns
    by_loss = ExperimentAnalytics(
        "exp", sort_by="Metrics.loss.Min", sort_order="Descending", metric_names=[], store=store
    ).dataframe()
    assert list(by_loss["TrialComponentName"]) == ["tc-0", "tc-1", "tc-2"]
    with pytest.raises(SpecError, match="names no column"):
        ExperimentAnalytics("exp", sort_by="Parameters.nope", store=store).dataframe()
