"""``ports.ReceiptStore``: the in-memory, file and S3 stores honour one contract.

A URL names the document; its query may carry a signature that changes from one call to
the next (an S3 presigned URL is signed when asked), so URLs are compared without it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from goat_adapters.local import FileReceiptStore
from goat_adapters.memory import InMemoryReceiptStore
from goat_core.ports import ReceiptStore
from tests.servers.s3 import MotoS3, moto_s3


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    """A moto S3 server for this module."""
    with moto_s3() as server:
        yield server


@pytest.fixture(params=["memory", "files", pytest.param("s3", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ReceiptStore:
    """Each receipt store in turn, empty."""
    if request.param == "memory":
        return InMemoryReceiptStore()
    if request.param == "files":
        return FileReceiptStore(tmp_path / "receipts", "http://goat.test", secret=b"s" * 32)
    from goat_adapters.s3 import S3ReceiptStore

    server: MotoS3 = request.getfixturevalue("s3")
    bucket = f"receipts-{uuid.uuid4().hex[:12]}"
    server.create_bucket(bucket)
    return S3ReceiptStore(bucket, endpoint_url=server.url, expires_in=300)


def _address(url: str | None) -> str:
    assert url is not None
    return urlsplit(url)._replace(query="").geturl()


def test_nothing_stored_has_no_url(store: ReceiptStore) -> None:
    """Before a document is put, its key has no URL."""
    assert store.url("r-1") is None


def test_a_stored_document_is_found_at_the_url_put_answered(store: ReceiptStore) -> None:
    """``put`` answers the URL that ``url`` gives afterwards."""
    url = store.put("r-1", b"%PDF-1.7 one")

    assert url
    assert _address(store.url("r-1")) == _address(url)


def test_putting_again_overwrites_and_keeps_one_url(store: ReceiptStore) -> None:
    """A second put under the same key replaces the document; the URL stays the key's."""
    first = store.put("r-1", b"%PDF-1.7 one")
    second = store.put("r-1", b"%PDF-1.7 two")

    assert _address(store.url("r-1")) == _address(first) == _address(second)


def test_keys_are_independent(store: ReceiptStore) -> None:
    """Storing one purchase's receipt says nothing of another's."""
    store.put("r-1", b"%PDF-1.7 one")

    assert store.url("r-2") is None
    assert _address(store.url("r-1")) != _address(store.put("r-2", b"%PDF-1.7 two"))
