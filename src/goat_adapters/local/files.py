"""Files of this installation: receipts under ``$GOAT_DATA_DIR/receipts`` and its secrets.

``FileReceiptStore`` is the ``ports.ReceiptStore`` of ``goat serve`` (the S3 store comes
with the receipts issue); ``installation_secret`` keeps a random secret in a file, made
once and shared by every process of the installation.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import tempfile
from pathlib import Path

from goat_core.errors import InvalidInput

_SAFE_KEY = re.compile(r"^[A-Za-z0-9._-]{1,200}$")


RECEIPT_SECRET_FILE = "receipt-url-secret"  # noqa: S105  # a file name, not a secret

__all__ = ["RECEIPT_SECRET_FILE", "FileReceiptStore", "installation_secret"]


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
            self._secret = installation_secret(self.directory.parent, RECEIPT_SECRET_FILE)
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


def installation_secret(data_dir: Path, name: str) -> bytes:
    """This installation's secret ``name``, created (atomically, mode 0600) on first use."""
    path = data_dir / name
    try:
        return path.read_bytes().strip()
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=data_dir, prefix=".secret-")
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(secrets.token_hex(32).encode())
        # link fails if another process won the race: then everyone uses its secret
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)
    finally:
        os.unlink(temporary)
    return path.read_bytes().strip()
