"""Pictures of tuning jobs and experiments: plots (extra ``plot``) and self-contained HTML.

Input shapes (pandas DataFrames):

- **tuning analytics**, one row per training job, SageMaker's ``HyperparameterTuningJobAnalytics``
  columns: one column per tuned hyperparameter, ``TrainingJobName``, ``TrainingJobStatus``
  (``Completed``/``Stopped``/``Failed``), ``FinalObjectiveValue``, ``TrainingStartTime``,
  ``TrainingEndTime``, ``TrainingElapsedTimeSeconds``, optional ``TrainingJobDefinitionName``.
- **objective curves**, long form (``TuningJobAnalytics.curves()``): ``TrainingJobName``,
  ``Epoch``, ``ObjectiveValue``, optional ``TrainingJobStatus`` (``epoch``/``step`` and
  ``value`` are accepted too).
- **experiment analytics**, SageMaker Experiments' ``ExperimentAnalytics`` columns:
  ``TrialComponentName``, ``DisplayName``, ``SourceArn``, one column per parameter,
  ``<metric> - Min/Max/Avg/StdDev/Last/Count``, ``Trials``, ``Experiments``.
- **metric series**, long form: ``TrialComponentName``, ``metric_name``, ``step``,
  ``timestamp``, ``value`` (:func:`series_frame` builds it from logged points).
"""

from sagescale.reporting._frames import (
    CURVE_COLUMNS,
    SERIES_COLUMNS,
    TUNING_COLUMNS,
    series_frame,
)
from sagescale.reporting._load import experiment_report_for, tuning_report_for
from sagescale.reporting._plots import (
    plot_experiment_metrics,
    plot_experiment_summary,
    plot_objective_curves,
    plot_parallel_coordinates,
    plot_tuning_objective,
    save_figure,
)
from sagescale.reporting._report import (
    analytics_html,
    experiment_report,
    save_tuning_plots,
    tuning_report,
    tuning_results_html,
)

__all__ = [
    "CURVE_COLUMNS",
    "SERIES_COLUMNS",
    "TUNING_COLUMNS",
    "analytics_html",
    "experiment_report",
    "experiment_report_for",
    "plot_experiment_metrics",
    "plot_experiment_summary",
    "plot_objective_curves",
    "plot_parallel_coordinates",
    "plot_tuning_objective",
    "save_figure",
    "save_tuning_plots",
    "series_frame",
    "tuning_report",
    "tuning_report_for",
    "tuning_results_html",
]
