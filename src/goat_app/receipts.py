"""Receipts kept as files under ``$GOAT_DATA_DIR/receipts`` (the embedded default).

The PDF renderer and the S3 store are a later issue; this store already honours the
``ports.ReceiptStore`` contract so that the API can answer ``GET /requests/{id}/receipt``.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
from pathlib import Path

from goat_app.auth import development_secret
from goat_core.errors import InvalidInput

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


RECEIPT_SECRET_FILE = "receipt-url-secret"  # noqa: S105  # a file name, not a secret


class FileReceiptStore:
    """Documents stored as ``<directory>/<key>.pdf``, served by goat under ``/receipts/``.

    Every URL it hands out carries ``?sig=``, an HMAC of the key with a secret of this
    installation (kept beside the directory): request ids are public on the broker, so
    knowing one must not be enough to read its receipt.
    """

    def __init__(self, directory: Path, base_url: str, secret: bytes | None = None) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")
        self._secret = secret

    def _signature(self, key: str) -> str:
        if self._secret is None:
            self._secret = development_secret(self.directory.parent, RECEIPT_SECRET_FILE)
        return hmac.new(self._secret, f"receipt:{key}".encode(), hashlib.sha256).hexdigest()

    def signed(self, key: str, signature: str) -> bool:
        """Whether ``signature`` is the one this store put in ``key``'s URL."""
        return hmac.compare_digest(signature.encode(), self._signature(key).encode())

    def _url(self, key: str, target: Path) -> str:
        return f"{self.base_url}/receipts/{target.name}?sig={self._signature(key)}"

    def path(self, key: str) -> Path:
        if not _SAFE_KEY.match(key) or key.startswith("."):
            raise InvalidInput("key", "must be letters, digits, '.', '_' or '-'")
        return self.directory / f"{key}.pdf"

    def put(self, key: str, document: bytes) -> str:
        target = self.path(key)
        self.directory.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".receipt-")
        with os.fdopen(fd, "wb") as file:
            file.write(document)
        os.replace(temporary, target)  # readers never see half a document
        return self._url(key, target)

    def url(self, key: str) -> str | None:
        target = self.path(key)
        return self._url(key, target) if target.is_file() else None
