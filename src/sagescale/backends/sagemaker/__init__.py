"""The ``sagemaker`` backend: training and tuning jobs on Amazon SageMaker through boto3.

The same :class:`~sagescale.specs.TrainingJob` that runs locally runs here: the source is
packed as ``sourcedir.tar.gz`` (with ``sagescale.runtime`` when the script imports it) and
uploaded under ``s3://<bucket>/<job-name>/source/``, local inputs are uploaded, and the
rendered ``CreateTrainingJob`` request is validated against botocore's service model
before anything is uploaded. Tuning jobs go to SageMaker Automatic Model Tuning.
"""

from sagescale.backends.sagemaker._aws import RETRY_CONFIG
from sagescale.backends.sagemaker._backend import SageMakerBackend
from sagescale.backends.sagemaker._handoff import to_hyperparameter_tuner, to_model_trainer
from sagescale.backends.sagemaker._logs import LOG_GROUP
from sagescale.backends.sagemaker._source import PackedSource, pack_source
from sagescale.backends.sagemaker._tuning import trial_component_name

__all__ = [
    "LOG_GROUP",
    "RETRY_CONFIG",
    "PackedSource",
    "SageMakerBackend",
    "pack_source",
    "to_hyperparameter_tuner",
    "to_model_trainer",
    "trial_component_name",
]
