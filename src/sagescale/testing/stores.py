"""Conformance suite for :class:`sagescale.tracking.ExperimentStore` implementations.

Usage (see ``tests/tracking/test_conformance.py``)::

    from sagescale.testing.stores import StoreCase, StoreConformance, STORE_MODES

    @pytest.fixture(params=STORE_MODES)
    def store_case(request) -> StoreCase: ...        # build the store for request.param

    class TestMyStore(StoreConformance):
        pass

A :class:`StoreCase` names what a store's backing service does not keep (``lacks``), e.g.
moto's SageMaker server drops display names, descriptions and tags and has no
``BatchGetMetrics``; those checks are skipped with the reason instead of weakened. Stores may
be shared between tests (a moto server, an MLflow database), so every test uses fresh names.
"""

from __future__ import annotations

import math
import secrets
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from sagescale.errors import NotFoundError, SpecError, TrackingError
from sagescale.tracking import Artifact, ExperimentStore, MetricPoint, MetricValueWarning
from sagescale.tracking import autotrack as at
from sagescale.tracking._lineage import model_lineage, models_trained_on

__all__ = [
    "LACKS_CASE_INSENSITIVE_NAMES",
    "LACKS_DESCRIPTIVE",
    "LACKS_FREE_TEXT_DISPLAY_NAMES",
    "LACKS_METRIC_SERIES",
    "LACKS_NON_FINITE",
    "LACKS_STEPLESS",
    "LACKS_TAGS",
    "SAGEMAKER_LACKS",
    "STORE_MODES",
    "StoreCase",
    "StoreConformance",
    "build_store",
]

STORE_MODES = ("sqlite", "sagemaker", "mlflow")
LACKS_DESCRIPTIVE = "display names and descriptions"
LACKS_TAGS = "tags (and the source ARN kept in a tag)"
LACKS_METRIC_SERIES = "raw metric series (BatchGetMetrics)"
LACKS_STEPLESS = "metric points without a step (moto requires Step)"
LACKS_NON_FINITE = (
    "NaN or infinite metric values (BatchPutMetrics takes JSON numbers: they are skipped "
    "with a MetricValueWarning)"
)
LACKS_FREE_TEXT_DISPLAY_NAMES = (
    "free-text display names (SageMaker's DisplayName is an entity name: a SpecError)"
)
LACKS_CASE_INSENSITIVE_NAMES = (
    "names that are not case-sensitive (moto compares experiment, trial and component names "
    "as written; SageMaker does not)"
)
#: what SageMaker itself does not keep (the moto server keeps less: MOTO_LACKS)
SAGEMAKER_LACKS = frozenset({LACKS_NON_FINITE, LACKS_FREE_TEXT_DISPLAY_NAMES})
MOTO_LACKS = SAGEMAKER_LACKS | frozenset(
    {
        LACKS_DESCRIPTIVE,
        LACKS_TAGS,
        LACKS_METRIC_SERIES,
        LACKS_STEPLESS,
        LACKS_CASE_INSENSITIVE_NAMES,
    }
)


@dataclass
class StoreCase:
    """A store under test and what its backing service does not keep."""

    store: ExperimentStore
    lacks: frozenset[str] = field(default_factory=frozenset)
    label: str = ""

    def need(self, feature: str) -> None:
        if feature in self.lacks:
            pytest.skip(f"{self.label or self.store.kind} does not keep {feature}")


@contextmanager
def build_store(mode: str, tmp: Path, *, moto_endpoint: str | None = None) -> Iterator[StoreCase]:
    """Build a store for ``mode`` under ``tmp`` (SageMaker needs moto's endpoint)."""
    if mode == "sqlite":
        from sagescale.tracking._sqlite import SQLiteStore

        store: ExperimentStore = SQLiteStore.from_path(tmp / "tracking.db")
        yield StoreCase(store, label="sqlite")
    elif mode == "mlflow":
        from sagescale.tracking._mlflow import MLflowStore

        store = MLflowStore(f"sqlite:///{tmp / 'mlflow.db'}", artifact_location=str(tmp / "mlart"))
        yield StoreCase(store, label="mlflow")
    elif mode == "sagemaker":
        if moto_endpoint is None:
            raise ValueError("the sagemaker mode needs moto_endpoint")
        import boto3

        from sagescale.tracking._sagemaker import SageMakerStore

        bucket = f"sagescale-{secrets.token_hex(4)}"
        boto3.client("s3", endpoint_url=moto_endpoint).create_bucket(Bucket=bucket)
        store = SageMakerStore(endpoint_url=moto_endpoint, bucket=bucket, region="us-east-1")
        yield StoreCase(store, lacks=MOTO_LACKS, label="sagemaker (moto server)")
    else:
        raise ValueError(f"unknown store mode {mode!r}; known: {STORE_MODES}")
    store.close()


def _uid(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


def _points(name: str, values: list[float], t0: float, first_step: int = 0) -> list[MetricPoint]:
    return [MetricPoint(name, v, first_step + i, t0 + i) for i, v in enumerate(values)]


class StoreConformance:
    """Tests every store must pass. Needs a ``store_case`` fixture yielding a StoreCase."""

    # experiments and trials ---------------------------------------------------------------
    def test_experiment_round_trip(self, store_case: StoreCase) -> None:
        s, name = store_case.store, _uid("exp")
        rec = s.create_experiment(name)
        assert rec.name == name
        assert s.describe_experiment(name).name == name
        assert name in [e.name for e in s.list_experiments()]
        with pytest.raises(TrackingError):
            s.create_experiment(name)
        with pytest.raises(NotFoundError):
            s.describe_experiment(_uid("missing"))

    def test_experiment_descriptive_fields(self, store_case: StoreCase) -> None:
        store_case.need(LACKS_DESCRIPTIVE)
        s, name = store_case.store, _uid("exp")
        s.create_experiment(name, display_name="My-experiment", description="about it")
        rec = s.describe_experiment(name)
        assert (rec.display_name, rec.description) == ("My-experiment", "about it")

    def test_free_text_display_names(self, store_case: StoreCase) -> None:
        """Any text is a display name where the store keeps free text; elsewhere
        (SageMaker) it is a SpecError naming display_name, raised before anything is made."""
        s, exp, trial, tc = store_case.store, _uid("exp"), _uid("trial"), _uid("tc")
        text = "Run #3: lr=0.1 (warm start)"
        if LACKS_FREE_TEXT_DISPLAY_NAMES in store_case.lacks:
            with pytest.raises(SpecError, match="display_name") as info:
                s.create_experiment(exp, display_name=text)
            assert (info.value.field, info.value.value) == ("display_name", text)
            with pytest.raises(NotFoundError):
                s.describe_experiment(exp)
            s.create_experiment(exp)
            with pytest.raises(SpecError, match="display_name"):
                s.create_trial(trial, experiment_name=exp, display_name=text)
            with pytest.raises(SpecError, match="display_name"):
                s.create_trial_component(tc, display_name=text)
            with pytest.raises(NotFoundError):
                s.describe_trial(trial)
            with pytest.raises(NotFoundError):
                s.describe_trial_component(tc)
            return
        store_case.need(LACKS_DESCRIPTIVE)
        assert s.create_experiment(exp, display_name=text).display_name == text
        s.create_trial(trial, experiment_name=exp, display_name=text)
        s.create_trial_component(tc, display_name=text)
        assert s.describe_trial(trial).display_name == text
        assert s.describe_trial_component(tc).display_name == text

    def test_tags_round_trip(self, store_case: StoreCase) -> None:
        store_case.need(LACKS_TAGS)
        s, exp, trial, tc = store_case.store, _uid("exp"), _uid("trial"), _uid("tc")
        s.create_experiment(exp, tags={"team": "vision"})
        s.create_trial(trial, experiment_name=exp, tags={"kind": "sweep"})
        s.create_trial_component(tc, tags={"stage": "train"}, source_arn="arn:x:job/1")
        assert dict(s.describe_experiment(exp).tags) == {"team": "vision"}
        assert dict(s.describe_trial(trial).tags) == {"kind": "sweep"}
        rec = s.describe_trial_component(tc)
        assert dict(rec.tags) == {"stage": "train"}
        assert rec.source_arn == "arn:x:job/1"

    def test_trial_needs_experiment(self, store_case: StoreCase) -> None:
        s = store_case.store
        with pytest.raises(NotFoundError):
            s.create_trial(_uid("trial"), experiment_name=_uid("missing"))
        exp, trial = _uid("exp"), _uid("trial")
        s.create_experiment(exp)
        assert s.create_trial(trial, experiment_name=exp).experiment_name == exp
        with pytest.raises(TrackingError):
            s.create_trial(trial, experiment_name=exp)
        assert [t.name for t in s.list_trials(experiment_name=exp)] == [trial]
        with pytest.raises(NotFoundError):
            s.describe_trial(_uid("missing"))

    def test_names_are_not_case_sensitive(self, store_case: StoreCase) -> None:
        """As in SageMaker: a name differing only in case names the same experiment, trial
        or trial component — found by lookups, refused by creation (with the stored name)."""
        store_case.need(LACKS_CASE_INSENSITIVE_NAMES)
        s, tag = store_case.store, secrets.token_hex(4)
        exp, trial, tc = f"Exp-{tag}", f"Trial-{tag}", f"Tc-{tag}"
        s.create_experiment(exp)
        s.create_trial(trial, experiment_name=exp.upper())
        s.create_trial_component(tc, trial_name=trial.lower())
        s.log_metrics(tc.upper(), _points("loss", [3.0, 2.0], 1_700_000_000.0))
        assert s.describe_experiment(exp.lower()).name == exp
        assert (s.describe_trial(trial.upper()).name, s.describe_trial(trial).experiment_name) == (
            trial,
            exp,
        )
        rec = s.describe_trial_component(tc.lower())
        assert (rec.name, list(rec.trial_names), rec.metrics["loss"].count) == (tc, [trial], 2)
        assert [t.name for t in s.list_trials(experiment_name=exp.lower())] == [trial]
        assert [t.name for t in s.list_trials(trial_component_name=tc.upper())] == [trial]
        assert [c.name for c in s.list_trial_components(trial_name=trial.upper())] == [tc]
        assert [c.name for c in s.list_trial_components(experiment_name=exp.upper())] == [tc]
        for create in (
            lambda: s.create_experiment(exp.lower()),
            lambda: s.create_trial(trial.lower(), experiment_name=exp),
            lambda: s.create_trial_component(tc.upper()),
        ):
            with pytest.raises(TrackingError, match="already exists"):
                create()
        assert [e.name for e in s.list_experiments() if e.name.lower() == exp.lower()] == [exp]

    # components ---------------------------------------------------------------------------
    def test_component_associations(self, store_case: StoreCase) -> None:
        s, exp, t1, t2, tc = (store_case.store, _uid("exp"), _uid("t"), _uid("t"), _uid("tc"))
        s.create_experiment(exp)
        s.create_trial(t1, experiment_name=exp)
        s.create_trial(t2, experiment_name=exp)
        s.create_trial_component(tc, trial_name=t1)
        s.associate_trial_component(tc, t2)
        s.associate_trial_component(tc, t2)  # idempotent
        rec = s.describe_trial_component(tc)
        assert sorted(rec.trial_names) == sorted([t1, t2])
        assert list(rec.experiment_names) == [exp]
        assert sorted(t.name for t in s.list_trials(trial_component_name=tc)) == sorted([t1, t2])
        assert [c.name for c in s.list_trial_components(trial_name=t2)] == [tc]
        assert [c.name for c in s.list_trial_components(experiment_name=exp)] == [tc]
        with pytest.raises(TrackingError):
            s.create_trial_component(tc)
        with pytest.raises(NotFoundError):
            s.associate_trial_component(_uid("missing"), t1)
        with pytest.raises(NotFoundError):
            s.describe_trial_component(_uid("missing"))

    def test_parameters_and_artifacts_last_write_wins(self, store_case: StoreCase) -> None:
        s, tc = store_case.store, _uid("tc")
        s.create_trial_component(tc)
        s.update_trial_component(
            tc,
            parameters={"lr": 0.1, "optimizer": "adam", "epochs": "10"},
            input_artifacts={"train": Artifact("s3://b/train", "text/csv")},
        )
        s.update_trial_component(
            tc,
            parameters={"lr": 0.01},
            output_artifacts={"model": Artifact("s3://b/model.tar.gz")},
        )
        rec = s.describe_trial_component(tc)
        assert dict(rec.parameters) == {"lr": 0.01, "optimizer": "adam", "epochs": "10"}
        assert isinstance(rec.parameters["lr"], float)
        assert isinstance(rec.parameters["epochs"], str)
        assert rec.input_artifacts["train"] == Artifact("s3://b/train", "text/csv")
        assert rec.output_artifacts["model"].value == "s3://b/model.tar.gz"
        with pytest.raises(NotFoundError):
            s.update_trial_component(_uid("missing"), parameters={"a": 1.0})

    def test_status_and_times(self, store_case: StoreCase) -> None:
        s, tc = store_case.store, _uid("tc")
        start = datetime.now(timezone.utc).replace(microsecond=0)
        s.create_trial_component(tc, status="InProgress", start_time=start)
        assert s.describe_trial_component(tc).status == "InProgress"
        end = start + timedelta(seconds=5)
        s.update_trial_component(tc, status="Failed", status_message="OOM", end_time=end)
        rec = s.describe_trial_component(tc)
        assert (rec.status, rec.status_message) == ("Failed", "OOM")
        assert rec.start_time is not None and rec.end_time is not None
        assert abs(rec.end_time.timestamp() - end.timestamp()) < 1e-3
        assert abs(rec.start_time.timestamp() - start.timestamp()) < 1e-3

    # metrics ------------------------------------------------------------------------------
    def test_metric_summaries_cover_every_batch(self, store_case: StoreCase) -> None:
        s, tc = store_case.store, _uid("tc")
        s.create_trial_component(tc)
        t0 = time.time() - 100
        first = [0.9, 0.7, 0.8, 0.5, 0.6, 0.4, 0.45, 0.3, 0.35, 0.2, 0.25, 0.1]  # > one batch
        s.log_metrics(tc, _points("loss", first, t0))
        s.log_metrics(tc, _points("loss", [0.05, 0.15], t0 + 20, first_step=len(first)))
        s.log_metrics(tc, _points("acc", [0.5], t0))
        values = [*first, 0.05, 0.15]
        summary = s.describe_trial_component(tc).metrics["loss"]
        mean = sum(values) / len(values)
        std = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values))
        assert summary.count == len(values)
        assert (summary.min, summary.max, summary.last) == (0.05, 0.9, 0.15)
        assert summary.avg == pytest.approx(mean)
        assert summary.std_dev == pytest.approx(std)
        assert s.describe_trial_component(tc).metrics["acc"].count == 1
        with pytest.raises(NotFoundError):
            s.log_metrics(_uid("missing"), _points("loss", [1.0], t0))

    def test_non_finite_points(self, store_case: StoreCase) -> None:
        """NaN points count in no statistic but Last; an infinite point makes Avg that
        infinity (NaN with both signs) and StdDev NaN, and later batches still go in."""
        store_case.need(LACKS_NON_FINITE)
        s, tc, both = store_case.store, _uid("tc"), _uid("tc")
        s.create_trial_component(tc)
        s.create_trial_component(both)
        t0 = time.time() - 100
        s.log_metrics(tc, _points("loss", [1.0, 3.0], t0))
        s.log_metrics(tc, _points("loss", [math.inf], t0 + 2, first_step=2))
        s.log_metrics(tc, _points("loss", [5.0, math.nan], t0 + 3, first_step=3))
        s.log_metrics(tc, _points("acc", [math.nan, 0.5, 0.7], t0))
        loss = s.describe_trial_component(tc).metrics["loss"]
        assert (loss.count, loss.min, loss.max, loss.avg) == (4, 1.0, math.inf, math.inf)
        assert math.isnan(loss.std_dev) and math.isnan(loss.last)
        acc = s.describe_trial_component(tc).metrics["acc"]
        assert (acc.count, acc.min, acc.max, acc.last) == (2, 0.5, 0.7, 0.7)
        assert acc.avg == pytest.approx(0.6) and acc.std_dev == pytest.approx(0.1)
        s.log_metrics(both, _points("x", [-math.inf, 2.0, math.inf], t0))
        s.log_metrics(both, _points("x", [4.0], t0 + 3, first_step=3))
        x = s.describe_trial_component(both).metrics["x"]
        assert (x.count, x.min, x.max, x.last) == (4, -math.inf, math.inf, 4.0)
        assert math.isnan(x.avg) and math.isnan(x.std_dev)

    def test_non_finite_points_a_store_cannot_keep_are_skipped_with_a_warning(
        self, store_case: StoreCase
    ) -> None:
        """A store that cannot keep NaN or infinite values (SageMaker) skips them with a
        MetricValueWarning naming how many points of which metric, and keeps the others."""
        if LACKS_NON_FINITE not in store_case.lacks:
            pytest.skip(f"{store_case.label or store_case.store.kind} keeps non-finite values")
        s, tc = store_case.store, _uid("tc")
        s.create_trial_component(tc)
        t0 = time.time() - 100
        points = _points("loss", [1.0, math.nan, math.inf, 2.0, -math.inf], t0)
        points += _points("acc", [math.nan, 0.5], t0)
        with pytest.warns(MetricValueWarning) as caught:
            s.log_metrics(tc, points)
        assert len(caught) == 1
        message = str(caught[0].message)
        assert "3 points of metric 'loss'" in message and "1 point of metric 'acc'" in message
        with pytest.warns(MetricValueWarning, match="1 point of metric 'loss'"):
            s.log_metrics(tc, _points("loss", [math.nan], t0 + 5, first_step=5))  # none sent
        metrics = s.describe_trial_component(tc).metrics
        assert (metrics["loss"].count, metrics["loss"].min, metrics["loss"].max) == (2, 1.0, 2.0)
        assert (metrics["acc"].count, metrics["acc"].last) == (1, 0.5)

    def test_metric_series(self, store_case: StoreCase) -> None:
        store_case.need(LACKS_METRIC_SERIES)
        s, tc = store_case.store, _uid("tc")
        s.create_trial_component(tc)
        t0 = time.time() - 50
        s.log_metrics(tc, _points("loss", [3.0, 2.0, 1.0], t0))
        series = s.metric_series(tc, "loss")
        assert [(p.step, p.value) for p in series] == [(0, 3.0), (1, 2.0), (2, 1.0)]
        assert [p.timestamp for p in series] == pytest.approx([t0, t0 + 1, t0 + 2], abs=1e-3)

    def test_search_expression(self, store_case: StoreCase) -> None:
        s, exp, t1, t2 = store_case.store, _uid("exp"), _uid("t"), _uid("t")
        s.create_experiment(exp)
        s.create_trial(t1, experiment_name=exp)
        s.create_trial(t2, experiment_name=exp)
        a, b = _uid("tc"), _uid("tc")
        s.create_trial_component(a, trial_name=t1)
        s.create_trial_component(b, trial_name=t2)
        expr = {"Filters": [{"Name": "Parents.TrialName", "Operator": "Equals", "Value": t2}]}
        assert [r.name for r in s.search_trial_components(expr)] == [b]
        assert [r.name for r in s.search_trial_components(expr, experiment_name=exp)] == [b]
        assert s.search_trial_components(expr, experiment_name=_uid("other")) == []
        assert s.list_trials(experiment_name=_uid("missing")) == []
        assert s.list_trial_components(trial_name=_uid("missing")) == []
        assert s.list_trial_components(experiment_name=_uid("missing")) == []
        everything = s.search_trial_components(None, experiment_name=exp)
        assert sorted(r.name for r in everything) == sorted([a, b])

    # artifacts, lookups, automatic tracking -----------------------------------------------
    def test_artifact_file(self, store_case: StoreCase, tmp_path: Path) -> None:
        s, tc = store_case.store, _uid("tc")
        s.create_trial_component(tc)
        src = tmp_path / "confusion.csv"
        src.write_text("a,b\n1,2\n")
        uri = s.store_artifact_file(tc, src, "confusion.csv")
        assert uri.endswith("confusion.csv")
        # an artifact name is a name, not a path: it neither fails nor leaves the folder
        uris = [s.store_artifact_file(tc, src, n) for n in ("a/confusion.csv", "../../x.csv")]
        assert len({uri, *uris}) == 3
        local = Path(uri.removeprefix("file://"))
        for other in uris:
            if local.is_absolute():  # a local artifact area (not S3)
                path = Path(other.removeprefix("file://"))
                assert path.parent == local.parent and path.read_text() == "a,b\n1,2\n"

    def test_components_with_artifact(self, store_case: StoreCase) -> None:
        s, a, b = store_case.store, _uid("tc"), _uid("tc")
        data = f"s3://bucket/{_uid('data')}"
        for name, channel in ((a, f"{data}/train"), (b, f"{data}-other/train")):
            s.create_trial_component(name)
            s.update_trial_component(name, input_artifacts={"train": Artifact(channel)})
        exact = s.trial_components_with_artifact(f"{data}/train", direction="input")
        assert [c.name for c in exact] == [a]
        under = s.trial_components_with_artifact(data, direction="input", prefix=True)
        assert [c.name for c in under] == [a]
        assert s.trial_components_with_artifact(data, direction="output") == []

    def test_autotrack_and_lineage(self, store_case: StoreCase) -> None:
        s, job, base = store_case.store, _uid("job"), _uid("base")
        data = f"s3://bucket/{_uid('ds')}"
        names = at.record_training_job_start(
            s,
            job_name=job,
            experiment_config=None,
            base_job_name=base,
            hyperparameters={"epochs": "3", "lr": "0.1"},
            instance_type="ml.m5.xlarge",
            instance_count=2,
            distribution={"torch_distributed": {"enabled": True}},
            input_channels={"train": f"{data}/train"},
            environment_names=["HF_TOKEN", "WANDB_API_KEY"],
            entry_point="train.py",
        )
        assert names.experiment_name == base
        model = f"s3://bucket/{job}/output/model.tar.gz"
        stepless = LACKS_STEPLESS not in store_case.lacks
        at.record_training_job_end(
            s,
            job_name=job,
            status="Completed",
            model_artifact=model,
            final_metrics={"loss": 0.1, "acc": 0.9} if stepless else None,
            metric_series={"loss": [(0, 0.5), (1, 0.1)], "acc": [(1, 0.9)]},
        )
        tuning = _uid("tune")
        assert at.record_tuning_job(s, tuning_job_name=tuning, training_job_names=[job]) == [
            names.trial_component_name
        ]
        rec = s.describe_trial_component(names.trial_component_name)
        assert rec.status == "Completed"
        assert rec.metrics["loss"].count == 2 and rec.metrics["acc"].count == 1
        assert rec.parameters[at.ENVIRONMENT_NAMES] == "HF_TOKEN,WANDB_API_KEY"
        assert rec.parameters[at.INSTANCE_TYPE] == "ml.m5.xlarge"
        assert rec.parameters[at.INSTANCE_COUNT] == 2
        assert "torch_distributed" in str(rec.parameters[at.DISTRIBUTION])
        assert rec.output_artifacts[at.MODEL_ARTIFACT].value == model
        lineage = model_lineage(model, store=s)
        assert lineage.trial_component_name == names.trial_component_name
        assert lineage.input_data == {"train": f"{data}/train"}
        assert lineage.code == {at.CODE_ENTRY_POINT: "train.py"}
        assert lineage.hyperparameters == {"epochs": "3", "lr": "0.1"}
        if LACKS_TAGS not in store_case.lacks:
            assert lineage.training_job_name == job
            assert lineage.tuning_job_name == tuning
        assert [m.model_artifact for m in models_trained_on(data, store=s)] == [model]

    def test_autotrack_keeps_a_failed_job(self, store_case: StoreCase) -> None:
        s, job = store_case.store, _uid("job")
        names = at.record_training_job_start(
            s,
            job_name=job,
            experiment_config=None,
            base_job_name=_uid("base"),
            hyperparameters={"lr": "0.1"},
            instance_type="ml.m5.xlarge",
            instance_count=1,
            distribution=None,
            input_channels={},
            environment_names=[],
        )
        at.record_training_job_end(
            s,
            job_name=job,
            status="Failed",
            failure_reason="AlgorithmError: loss diverged",
            metric_series={"loss": [(0, 0.5), (1, 9.0)]},
        )
        rec = s.describe_trial_component(names.trial_component_name)
        assert rec.status == "Failed" and rec.status_message == "AlgorithmError: loss diverged"
        assert rec.metrics["loss"].count == 2 and rec.metrics["loss"].max == 9.0
        assert rec.parameters["lr"] == "0.1"


def shared_names() -> Callable[[str], str]:
    """A name factory for tests that share a store."""
    return _uid
