"""Tuning results as DataFrames, with SageMaker's columns (``HyperparameterTuningJobAnalytics``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from sagescale.tuning._service import TrainingJobSummary

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["TuningJobAnalytics"]

#: Columns after the hyperparameter columns, in SageMaker's order.
BASE_COLUMNS = [
    "TrainingJobName",
    "TrainingJobStatus",
    "FinalObjectiveValue",
    "TrainingStartTime",
    "TrainingEndTime",
    "TrainingElapsedTimeSeconds",
]
DEFINITION_COLUMN = "TrainingJobDefinitionName"
CURVE_COLUMNS = ["TrainingJobName", "Epoch", "ObjectiveValue"]


class TuningJobAnalytics:
    """The training jobs of one tuning job, read when :meth:`dataframe` is called
    (``fetch_curves``, when given, reads them with their curves for :meth:`curves`)."""

    def __init__(
        self,
        name: str,
        fetch: Callable[[], Sequence[TrainingJobSummary]],
        *,
        multi_algorithm: bool = False,
        objective_type: str = "Maximize",
        objective_name: str | None = None,
        fetch_curves: Callable[[], Sequence[TrainingJobSummary]] | None = None,
    ) -> None:
        self.name = name
        self.objective_name = objective_name
        self._fetch = fetch
        self._fetch_curves = fetch_curves or fetch
        self._multi = multi_algorithm
        self._maximize = objective_type == "Maximize"

    def training_jobs(self) -> list[TrainingJobSummary]:
        return list(self._fetch())

    def dataframe(
        self, force_refresh: bool = False, *, sort_by_final_metric: bool = False
    ) -> pd.DataFrame:
        """One row per training job: one column per tuned hyperparameter, then
        ``TrainingJobName``, ``TrainingJobStatus``, ``FinalObjectiveValue``,
        ``TrainingStartTime``, ``TrainingEndTime``, ``TrainingElapsedTimeSeconds`` (and
        ``TrainingJobDefinitionName`` for a multi-algorithm job).

        The training jobs are read on every call; ``force_refresh`` is accepted for code
        written for the SageMaker SDK's ``HyperparameterTuningJobAnalytics.dataframe``."""
        import pandas as pd

        jobs = self.training_jobs()
        names = sorted({k for job in jobs for k in job.hyperparameters})
        rows = [self._row(job, names) for job in jobs]
        columns = names + BASE_COLUMNS + ([DEFINITION_COLUMN] if self._multi else [])
        frame: pd.DataFrame = pd.DataFrame(rows, columns=columns)
        if sort_by_final_metric and not frame.empty:
            frame = frame.sort_values(
                "FinalObjectiveValue", ascending=not self._maximize, na_position="last"
            ).reset_index(drop=True)
        return frame

    def _row(self, job: TrainingJobSummary, names: list[str]) -> dict[str, object]:
        row: dict[str, object] = {n: job.hyperparameters.get(n) for n in names}
        row.update(
            TrainingJobName=job.job_name,
            TrainingJobStatus=job.status,
            FinalObjectiveValue=job.final_objective,
            TrainingStartTime=job.start_time,
            TrainingEndTime=job.end_time,
            TrainingElapsedTimeSeconds=job.elapsed_seconds,
        )
        if self._multi:
            row[DEFINITION_COLUMN] = job.definition_name
        return row

    def _repr_html_(self) -> str:
        """The notebook view: the training jobs with their objective, the best highlighted."""
        from sagescale.reporting import tuning_results_html

        return tuning_results_html(
            self.dataframe(),
            objective_type="Maximize" if self._maximize else "Minimize",
            objective_name=self.objective_name,
        )

    def curves(self) -> pd.DataFrame:
        """Per-epoch objective values: ``TrainingJobName``, ``Epoch`` (1-based),
        ``ObjectiveValue`` (long form; ``pivot`` it for one column per job)."""
        import pandas as pd

        rows = [
            (job.job_name, epoch, value)
            for job in self._fetch_curves()
            for epoch, value in sorted(job.curve.items())
        ]
        frame: pd.DataFrame = pd.DataFrame(rows, columns=CURVE_COLUMNS)
        return frame
