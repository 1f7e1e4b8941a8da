"""The vocabulary of sagescale: pure-data specs that render SageMaker API requests.

No I/O happens here beyond reading the packaged data files (instance catalog, image URIs).
"""

from sagescale.specs._base import SpecModel, SpecWarning
from sagescale.specs._catalog import (
    CATALOG_INFO,
    GpuSpec,
    InstanceType,
    get_instance_type,
    instance_types,
)
from sagescale.specs._distribution import (
    DataParallel,
    Distribution,
    ModelParallel,
    SMPv2,
    TorchDistributed,
)
from sagescale.specs._images import pytorch_image_uri, pytorch_versions
from sagescale.specs._io import (
    SpecKindError,
    dump_spec,
    load_spec,
    load_training_job,
    load_tuning_job,
    spec_kind,
)
from sagescale.specs._names import (
    check_experiment_name,
    check_job_name,
    check_tuning_job_name,
    unique_name,
)
from sagescale.specs._training import (
    MIXED_PRECISION_HP,
    SMDDP_INSTANCES,
    Channel,
    Checkpoint,
    ExperimentConfig,
    MetricDefinition,
    Security,
    Spot,
    TrainingJob,
    distribution_hyperparameters,
)
from sagescale.specs._tuning import (
    AlgorithmDefinition,
    CategoricalParameter,
    CompletionCriteria,
    ContinuousParameter,
    HyperbandConfig,
    IntegerParameter,
    ParameterRange,
    TuningJob,
    WarmStartConfig,
)

__all__ = [
    "CATALOG_INFO",
    "MIXED_PRECISION_HP",
    "SMDDP_INSTANCES",
    "AlgorithmDefinition",
    "CategoricalParameter",
    "Channel",
    "Checkpoint",
    "CompletionCriteria",
    "ContinuousParameter",
    "DataParallel",
    "Distribution",
    "ExperimentConfig",
    "GpuSpec",
    "HyperbandConfig",
    "InstanceType",
    "IntegerParameter",
    "MetricDefinition",
    "ModelParallel",
    "ParameterRange",
    "SMPv2",
    "Security",
    "SpecKindError",
    "SpecModel",
    "SpecWarning",
    "Spot",
    "TorchDistributed",
    "TrainingJob",
    "TuningJob",
    "WarmStartConfig",
    "check_experiment_name",
    "check_job_name",
    "check_tuning_job_name",
    "distribution_hyperparameters",
    "dump_spec",
    "get_instance_type",
    "instance_types",
    "load_spec",
    "load_training_job",
    "load_tuning_job",
    "pytorch_image_uri",
    "pytorch_versions",
    "spec_kind",
    "unique_name",
]
