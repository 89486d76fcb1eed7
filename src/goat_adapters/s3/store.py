"""``S3ReceiptStore``: receipts as private S3 objects, handed out as presigned GET URLs.

Credentials come from boto3's standard chain (environment, shared files, an instance or
task role); nothing here reads a secret. ``endpoint_url`` points at an S3-compatible
store (MinIO, moto, ...), addressed by path. Objects are private (no ACL is set, so the
bucket's default applies: private, or "bucket owner enforced"); a URL is signed for
``expires_in`` seconds. boto3's errors become the core's: a key that is not there is
``None``, anything else (no network, refused credentials, a missing bucket) ``Unavailable``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import TYPE_CHECKING

from goat_core.errors import InvalidInput, Unavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

__all__ = ["DEFAULT_EXPIRY_SECONDS", "S3ReceiptStore"]

DEFAULT_EXPIRY_SECONDS = 7 * 24 * 3600
"""A week, the longest a SigV4 presigned URL may live: the link in an email stays useful.
``GET /requests/{id}/receipt`` signs a fresh one each time it is asked."""

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")
_MISSING = {"404", "NoSuchKey", "NotFound"}


class S3ReceiptStore:
    """The ``ports.ReceiptStore`` on S3: ``<prefix><key>.pdf`` in ``bucket``."""

    def __init__(
        self,
        bucket: str,
        *,
        endpoint_url: str | None = None,
        prefix: str = "receipts/",
        expires_in: int = DEFAULT_EXPIRY_SECONDS,
        timeout: float = 10.0,
        client: S3Client | None = None,
    ) -> None:
        self.bucket = bucket
        self.prefix = prefix
        self.expires_in = expires_in
        self._client = client or _client(endpoint_url, timeout)

    def object_key(self, key: str) -> str:
        """Where the document ``key`` lives in the bucket."""
        if not _SAFE_KEY.match(key) or key.startswith("."):
            raise InvalidInput("key", "must be letters, digits, '.', '_' or '-'")
        return f"{self.prefix}{key}.pdf"

    def put(self, key: str, document: bytes) -> str:
        name = self.object_key(key)
        with _translated(f"storing {name}"):
            self._client.put_object(
                Bucket=self.bucket,
                Key=name,
                Body=document,
                ContentType="application/pdf",
                ContentDisposition=f'inline; filename="receipt-{key}.pdf"',
            )
        return self._presigned(name)

    def url(self, key: str) -> str | None:
        name = self.object_key(key)
        try:
            with _translated(f"looking for {name}", missing_is_none=True):
                self._client.head_object(Bucket=self.bucket, Key=name)
        except _Missing:
            return None
        return self._presigned(name)

    def _presigned(self, name: str) -> str:
        with _translated(f"signing {name}"):
            url = self._client.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": name},
                ExpiresIn=self.expires_in,
            )
        return str(url)


def _client(endpoint_url: str | None, timeout: float) -> S3Client:
    import boto3
    from botocore.config import Config

    config = Config(
        signature_version="s3v4",
        connect_timeout=timeout,
        read_timeout=timeout,
        retries={"max_attempts": 3, "mode": "standard"},
        s3={"addressing_style": "path" if endpoint_url else "auto"},
    )
    return boto3.client("s3", endpoint_url=endpoint_url, config=config)


class _Missing(Exception):
    """The object is not there."""


@contextlib.contextmanager
def _translated(doing: str, *, missing_is_none: bool = False) -> Iterator[None]:
    """Turn boto3's errors into ``Unavailable`` (a missing object into ``_Missing``)."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code", "an error"))
        if missing_is_none and code in _MISSING:
            raise _Missing from None
        raise Unavailable(f"S3 answered {code} {doing}") from None
    except BotoCoreError as error:
        raise Unavailable(f"S3 cannot be reached {doing}: {type(error).__name__}") from None
