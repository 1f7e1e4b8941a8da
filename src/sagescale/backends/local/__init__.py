"""The local backend: training jobs as processes on this machine, under the SageMaker
training-container contract (see ``docs/local-backend.md``)."""

from sagescale.backends.local._backend import LocalBackend
from sagescale.backends.local._plan import DEFAULT_PROCESSES_PER_HOST

__all__ = ["DEFAULT_PROCESSES_PER_HOST", "LocalBackend"]
