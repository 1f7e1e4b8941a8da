"""Constants shared by the sagemaker backend tests (moto's default account)."""

from collections.abc import Callable
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/SageMakerRole"
ACCOUNT = "123456789012"
BUCKET = f"sagemaker-us-east-1-{ACCOUNT}"

#: the ``fake_operation`` fixture: (operation, response) -> the request bodies it received
FakeOperation = Callable[[str, dict[str, Any]], list[dict[str, Any]]]
