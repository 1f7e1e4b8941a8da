"""Reports of a tuning job or an experiment *by name*: the data read through the tuning and
tracking packages, then handed to :func:`tuning_report` / :func:`experiment_report`."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sagescale.reporting._frames import series_frame
from sagescale.reporting._report import experiment_report, save_tuning_plots, tuning_report

if TYPE_CHECKING:
    from sagescale.backends import Backend
    from sagescale.specs import TuningJob
    from sagescale.tracking import ExperimentStore
    from sagescale.tuning import TuningJobDescription

__all__ = ["experiment_report_for", "tuning_report_for"]


def tuning_report_for(
    tuning_job_name: str,
    path: str | Path | None = None,
    *,
    backend: str | Backend | None = None,
    workspace: str | os.PathLike[str] | None = None,
    chart_format: str = "svg",
    plots: str | Path | None = None,
) -> str:
    """The report of tuning job ``tuning_job_name`` recorded in the workspace (on SageMaker,
    read back from the service); with ``plots`` (a folder) its charts are saved there as PNG
    too. Raises :class:`~sagescale.errors.NotFoundError`."""
    from sagescale.tuning import HyperparameterTuner

    tuner = HyperparameterTuner.attach(tuning_job_name, backend=backend, workspace=workspace)
    desc = tuner.describe()
    analytics = tuner.analytics()
    spec = desc.spec
    df, curves = analytics.dataframe(), analytics.curves()
    common: dict[str, Any] = {
        "objective_name": spec.objective_metric_name,
        "objective_type": spec.objective_type,
        "curves": curves,
        "ranges": _ranges(spec),
    }
    if plots is not None:
        save_tuning_plots(df, plots, **common)
    return tuning_report(
        df,
        path,
        tuning_job_name=tuning_job_name,
        summary=_tuning_summary(desc),
        chart_format=chart_format,
        **common,
    )


def _ranges(spec: TuningJob) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for ranges in spec.ranges_by_definition().values():
        merged.update(ranges)
    return merged


def _tuning_summary(desc: TuningJobDescription) -> dict[str, object]:
    spec = desc.spec
    rows: dict[str, object] = {
        "Status": desc.status,
        "Backend": desc.backend,
        "Strategy": spec.strategy,
        "Max jobs": spec.max_jobs,
        "Max parallel jobs": spec.max_parallel_jobs,
        "Early stopping": spec.early_stopping_type,
        "Created": desc.creation_time,
        "Ended": desc.end_time,
        "Completion reason": desc.completion_reason,
        "Failure reason": desc.failure_reason,
    }
    if spec.warm_start_config is not None:
        rows["Warm start from"] = ", ".join(spec.warm_start_config.parents)
    return {k: v for k, v in rows.items() if v is not None}


def experiment_report_for(
    experiment_name: str,
    path: str | Path | None = None,
    *,
    store: ExperimentStore | str | None = None,
    chart_format: str = "svg",
) -> str:
    """The report of experiment ``experiment_name`` in ``store`` (a store or URI; default
    ``SAGESCALE_TRACKING_URI``, then the workspace). Raises
    :class:`~sagescale.errors.NotFoundError`."""
    from sagescale.tracking import ExperimentAnalytics, get_store

    s = get_store(store)
    experiment = s.describe_experiment(experiment_name)
    analytics = ExperimentAnalytics(experiment_name, store=s)
    records = analytics.trial_components()
    series = series_frame(
        {r.name: [p for m in r.metrics for p in s.metric_series(r.name, m)] for r in records}
    )
    summary: dict[str, object] = {"Display name": experiment.display_name}
    if experiment.description:
        summary["Description"] = experiment.description
    return experiment_report(
        analytics.dataframe(),
        path,
        experiment_name=experiment_name,
        series=series,
        summary=summary,
        chart_format=chart_format,
    )
