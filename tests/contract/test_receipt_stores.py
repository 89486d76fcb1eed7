"""``ports.ReceiptStore``: the in-memory store and the file store honour one contract."""

from __future__ import annotations

from pathlib import Path

import pytest

from goat_adapters.local import FileReceiptStore
from goat_adapters.memory import InMemoryReceiptStore
from goat_core.ports import ReceiptStore


@pytest.fixture(params=["memory", "files"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> ReceiptStore:
    """Each receipt store in turn, empty."""
    if request.param == "memory":
        return InMemoryReceiptStore()
    return FileReceiptStore(tmp_path / "receipts", "http://goat.test", secret=b"s" * 32)


def test_nothing_stored_has_no_url(store: ReceiptStore) -> None:
    """Before a document is put, its key has no URL."""
    assert store.url("r-1") is None


def test_a_stored_document_is_found_at_the_url_put_answered(store: ReceiptStore) -> None:
    """``put`` answers the URL that ``url`` gives afterwards."""
    url = store.put("r-1", b"%PDF-1.7 one")

    assert url
    assert store.url("r-1") == url


def test_putting_again_overwrites_and_keeps_one_url(store: ReceiptStore) -> None:
    """A second put under the same key replaces the document; the URL stays the key's."""
    first = store.put("r-1", b"%PDF-1.7 one")
    second = store.put("r-1", b"%PDF-1.7 two")

    assert store.url("r-1") == first == second


def test_keys_are_independent(store: ReceiptStore) -> None:
    """Storing one purchase's receipt says nothing of another's."""
    store.put("r-1", b"%PDF-1.7 one")

    assert store.url("r-2") is None
    assert store.url("r-1") != store.put("r-2", b"%PDF-1.7 two")
