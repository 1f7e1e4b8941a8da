"""What a training script imports; runs inside the training job.

Imports only the standard library here; the torch-based parts load on first use::

    from sagescale import runtime
    env = runtime.load_env()                 # no torch needed
    runtime.log_metric("val_loss", 0.25, step=epoch)

    import sagescale.runtime.dist as dist    # data parallel (smdistributed.dataparallel API)
    import sagescale.runtime.smp as smp      # model parallel (smdistributed.modelparallel API)
    from sagescale.runtime.amp import MixedPrecision
    from sagescale.runtime import save_checkpoint, load_latest_checkpoint
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sagescale.runtime._env import (
    DataParallelEngine,
    MixedPrecisionMode,
    ModelParallelSettings,
    TrainingEnv,
    load_env,
)
from sagescale.runtime._metrics import (
    METRIC_LINE_PREFIX,
    METRIC_LINE_REGEX,
    METRICS_DIR_ENV,
    METRICS_FILE_GLOB,
    MetricRecord,
    log_metric,
    metric_definition,
    metrics_file_name,
    parse_metric_line,
    read_metric_records,
)

if TYPE_CHECKING:
    from sagescale.runtime import amp, dist, smp
    from sagescale.runtime._checkpoint import (
        LoadedCheckpoint,
        load_latest_checkpoint,
        load_model_from_channel,
        save_checkpoint,
    )
    from sagescale.runtime.amp import MixedPrecision

__all__ = [
    "METRICS_DIR_ENV",
    "METRICS_FILE_GLOB",
    "METRIC_LINE_PREFIX",
    "METRIC_LINE_REGEX",
    "DataParallelEngine",
    "LoadedCheckpoint",
    "MetricRecord",
    "MixedPrecision",
    "MixedPrecisionMode",
    "ModelParallelSettings",
    "TrainingEnv",
    "amp",
    "dist",
    "load_env",
    "load_latest_checkpoint",
    "load_model_from_channel",
    "log_metric",
    "metric_definition",
    "metrics_file_name",
    "parse_metric_line",
    "read_metric_records",
    "save_checkpoint",
    "smp",
]

_LAZY = {
    "LoadedCheckpoint": "sagescale.runtime._checkpoint",
    "load_latest_checkpoint": "sagescale.runtime._checkpoint",
    "load_model_from_channel": "sagescale.runtime._checkpoint",
    "save_checkpoint": "sagescale.runtime._checkpoint",
    "MixedPrecision": "sagescale.runtime.amp",
}
_SUBMODULES = ("amp", "dist", "smp")


def __getattr__(name: str) -> Any:
    """Import the torch-based parts on first use."""
    if name in _SUBMODULES:
        return importlib.import_module(f"sagescale.runtime.{name}")
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sagescale.runtime' has no attribute {name!r}")
