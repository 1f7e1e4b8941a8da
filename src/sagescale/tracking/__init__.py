"""Experiment tracking: Experiment → Trial → TrialComponent, Tracker and Run, stores,
analytics as DataFrames and lineage.

Importing this package needs only the standard library (pandas, boto3 and mlflow are
imported when a feature needs them), so ``Tracker.load()`` works inside training jobs.
"""

from __future__ import annotations

from sagescale.tracking._analytics import ExperimentAnalytics, search_trial_components
from sagescale.tracking._api import (
    COMPONENT_ENV,
    EXPERIMENT_ENV,
    TRIAL_ENV,
    Experiment,
    Run,
    Tracker,
    Trial,
    TrialComponent,
    load_run,
)
from sagescale.tracking._jobfiles import TRACKING_DIR_ENV, JobFileWriter, ingest_job_files
from sagescale.tracking._lineage import ModelLineage, model_lineage, models_trained_on
from sagescale.tracking._model import (
    Artifact,
    ExperimentRecord,
    MetricPoint,
    MetricSummary,
    MetricValueWarning,
    TrialComponentRecord,
    TrialRecord,
)
from sagescale.tracking._names import NAME_PATTERN, check_name
from sagescale.tracking._store import TRACKING_URI_ENV, ExperimentStore, get_store

__all__ = [
    "COMPONENT_ENV",
    "EXPERIMENT_ENV",
    "NAME_PATTERN",
    "TRACKING_DIR_ENV",
    "TRACKING_URI_ENV",
    "TRIAL_ENV",
    "Artifact",
    "Experiment",
    "ExperimentAnalytics",
    "ExperimentRecord",
    "ExperimentStore",
    "JobFileWriter",
    "MetricPoint",
    "MetricSummary",
    "MetricValueWarning",
    "ModelLineage",
    "Run",
    "Tracker",
    "Trial",
    "TrialComponent",
    "TrialComponentRecord",
    "TrialRecord",
    "check_name",
    "get_store",
    "ingest_job_files",
    "load_run",
    "model_lineage",
    "models_trained_on",
    "search_trial_components",
]
