"""boto3 plumbing: one session, thread-safe clients, the default bucket, error translation."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from typing import Any

from sagescale.errors import BackendError, NotFoundError

__all__ = ["RETRY_CONFIG", "AwsContext", "translate_error"]

#: Throttling and transient errors: botocore's adaptive retry mode (client-side rate limiting).
RETRY_CONFIG: dict[str, Any] = {"mode": "adaptive", "max_attempts": 10}

_NOT_FOUND_CODES = frozenset(
    {"ResourceNotFound", "ResourceNotFoundException", "NoSuchKey", "NoSuchBucket", "404"}
)
_NOT_FOUND_WORDS = ("could not find", "not found", "does not exist")
# SageMaker answers a missing resource with ValidationException "... does not exist" on the
# calls that read or act on one; on a Create* call the same words name an input the request
# refers to (a warm-start parent, an image, a role): a failed create, not a missing resource


def translate_error(exc: Exception, call: str, job_name: str | None) -> Exception:
    """An AWS exception as sagescale's: ``NotFoundError`` or ``BackendError`` (call + job)."""
    from botocore.exceptions import ClientError, NoCredentialsError, NoRegionError

    if isinstance(exc, NoCredentialsError):
        return BackendError(_NO_CREDENTIALS, call=call, job_name=job_name)
    if isinstance(exc, NoRegionError):
        return BackendError(_NO_REGION, call=call, job_name=job_name)
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        message = str(error.get("Message", "")) or str(exc)
        lowered = message.lower()
        if code in _NOT_FOUND_CODES or (
            not call.startswith("Create")
            and code == "ValidationException"
            and any(w in lowered for w in _NOT_FOUND_WORDS)
        ):
            where = f"{call} [{job_name}]" if job_name else call
            return NotFoundError(f"{where}: {message}")
        return BackendError(f"{code}: {message}", call=call, job_name=job_name)
    return BackendError(f"{type(exc).__name__}: {exc}", call=call, job_name=job_name)


_NO_CREDENTIALS = (
    "no AWS credentials found: configure them the way boto3 reads them (aws configure / "
    "AWS_PROFILE, AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY, SSO, an instance role) or pass "
    "boto_session="
)
_NO_REGION = "no AWS region: pass region= or set AWS_DEFAULT_REGION / AWS_REGION"


class AwsContext:
    """A boto3 session and its clients (created once, shared by threads), plus account
    and default-bucket lookups.

    Endpoints follow boto3's own configuration (``AWS_ENDPOINT_URL``,
    ``AWS_ENDPOINT_URL_SAGEMAKER``, ``AWS_ENDPOINT_URL_S3`` ...) unless ``endpoint_url``
    is given, which then applies to every service.
    """

    def __init__(
        self,
        *,
        region: str | None = None,
        boto_session: Any = None,
        endpoint_url: str | None = None,
    ) -> None:
        import boto3

        self.session = boto_session or boto3.Session(region_name=region)
        resolved = region or self.session.region_name
        if not resolved:
            raise BackendError(_NO_REGION, call="configure")
        if self.session.get_credentials() is None:
            raise BackendError(_NO_CREDENTIALS, call="configure")
        self.region: str = resolved
        self.endpoint_url = endpoint_url
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._account: str | None = None
        self._buckets_ready: set[str] = set()
        self._bucket_lock = threading.Lock()

    def client(self, service: str) -> Any:
        """The client for ``service`` (boto3 clients are thread-safe; sessions are not)."""
        with self._lock:
            if service not in self._clients:
                from botocore.config import Config

                self._clients[service] = self.session.client(
                    service,
                    region_name=self.region,
                    endpoint_url=self.endpoint_url,
                    config=Config(retries=dict(RETRY_CONFIG), user_agent_extra="sagescale"),
                )
            return self._clients[service]

    def call(
        self, service: str, operation: str, job_name: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """``client.<operation>(**kwargs)`` with AWS errors translated (see module doc)."""
        from botocore.exceptions import BotoCoreError, ClientError

        client = self.client(service)
        method: Callable[..., dict[str, Any]] = getattr(client, _snake(operation))
        try:
            return method(**kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, operation, job_name) from exc

    def pages(
        self, service: str, operation: str, key: str, job_name: str | None = None, **kwargs: Any
    ) -> list[Any]:
        """Every item under ``key`` of every page of ``operation``."""
        from botocore.exceptions import BotoCoreError, ClientError

        paginator = self.client(service).get_paginator(_snake(operation))
        items: list[Any] = []
        try:
            for page in paginator.paginate(**kwargs):
                items.extend(page.get(key, []))
        except (ClientError, BotoCoreError) as exc:
            raise translate_error(exc, operation, job_name) from exc
        return items

    @property
    def account(self) -> str:
        """The caller's account id (STS ``GetCallerIdentity``, asked once)."""
        if self._account is None:
            self._account = str(self.call("sts", "GetCallerIdentity")["Account"])
        return self._account

    def default_bucket(self) -> str:
        """``sagemaker-<region>-<account>``, the official SDK's default bucket name."""
        return f"sagemaker-{self.region}-{self.account}"

    def ensure_bucket(self, bucket: str) -> None:
        """Create ``bucket`` when it does not exist (checked once per process)."""
        with self._bucket_lock:
            if bucket in self._buckets_ready:
                return
            try:
                self.call("s3", "HeadBucket", Bucket=bucket)
            except NotFoundError:
                self._create_bucket(bucket)
            self._buckets_ready.add(bucket)

    def _create_bucket(self, bucket: str) -> None:
        request: dict[str, Any] = {"Bucket": bucket}
        if self.region != "us-east-1":
            request["CreateBucketConfiguration"] = {"LocationConstraint": self.region}
        try:
            self.call("s3", "CreateBucket", **request)
        except BackendError as exc:  # created in between by another process of ours
            if not exc.reason.startswith("BucketAlreadyOwnedByYou"):
                raise


def _snake(operation: str) -> str:
    from botocore import xform_name

    return str(xform_name(operation))


def env_role() -> str | None:
    """The role named by ``SAGESCALE_SAGEMAKER_ROLE``, if any."""
    return os.environ.get("SAGESCALE_SAGEMAKER_ROLE") or None


def env_bucket() -> str | None:
    """The bucket named by ``SAGESCALE_SAGEMAKER_BUCKET``, if any."""
    return os.environ.get("SAGESCALE_SAGEMAKER_BUCKET") or None
