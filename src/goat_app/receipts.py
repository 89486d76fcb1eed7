"""Receipts kept as files under ``$GOAT_DATA_DIR/receipts`` (the embedded default).

The PDF renderer and the S3 store are a later issue; this store already honours the
``ports.ReceiptStore`` contract so that the API can answer ``GET /requests/{id}/receipt``.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from goat_core.errors import InvalidInput

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


class FileReceiptStore:
    """Documents stored as ``<directory>/<key>.pdf``, served by goat under ``/receipts/``."""

    def __init__(self, directory: Path, base_url: str) -> None:
        self.directory = directory
        self.base_url = base_url.rstrip("/")

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
        return f"{self.base_url}/receipts/{target.name}"

    def url(self, key: str) -> str | None:
        target = self.path(key)
        return f"{self.base_url}/receipts/{target.name}" if target.is_file() else None
