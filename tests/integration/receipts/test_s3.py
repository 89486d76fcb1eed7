"""Receipts end to end on a real S3 API (moto's server): made by the job, fetched by URL."""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterator

import pytest

from goat_adapters.memory import InMemoryMailer
from goat_core.errors import Unavailable
from goat_core.jobs import MakeReceipt
from goat_core.model import Outcome
from goat_core.services import Exchange
from tests.servers.s3 import MotoS3, moto_s3
from tests.unit.support import USER, World, make_fixture

pytest.importorskip("weasyprint")
pypdf = pytest.importorskip("pypdf")

from goat_adapters.pdf import WeasyReceiptRenderer  # noqa: E402
from goat_adapters.s3 import S3ReceiptStore  # noqa: E402

pytestmark = pytest.mark.integration

BUCKET = "goat-receipts"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    """moto's S3 server with the receipts bucket."""
    with moto_s3() as server:
        server.create_bucket(BUCKET)
        yield server


def _accepted(s3: MotoS3) -> tuple[World, Exchange, S3ReceiptStore, str]:
    """A purchase of ours accepted, and an exchange over the world rendering to S3."""
    world = World()
    world.add_fixtures(make_fixture(1, home="Colo-Colo", away="Universidad de Chile"))
    world.exchange.register(USER, "alice@example.com", "Alice Fernández")
    world.fund(USER, 2000)
    request_id = world.buy(USER, 1, Outcome.AWAY, 2).purchase.request_id
    world.validate(request_id, True)
    store = S3ReceiptStore(BUCKET, endpoint_url=s3.url, expires_in=60, timeout=2)
    exchange = Exchange(
        uow=world.store.unit_of_work,
        payments=world.payments,
        jobs=world.jobs,
        clock=world.clock,
        ids=world.ids,
        receipts=store,
        renderer=WeasyReceiptRenderer(),
        mailer=InMemoryMailer(),
        group_name="Grupo 15",
    )
    return world, exchange, store, request_id


def test_the_receipt_is_stored_and_downloadable_through_its_presigned_url(s3: MotoS3) -> None:
    """The job stores a private PDF; its presigned URL downloads it, naming teams and buyer."""
    _, exchange, store, request_id = _accepted(s3)

    exchange.run_job(MakeReceipt(request_id))
    url = store.url(request_id)

    assert url is not None
    assert "X-Amz-Signature=" in url
    with urllib.request.urlopen(url, timeout=5) as answer:
        pdf = answer.read()
    text = " ".join(p.extract_text() for p in pypdf.PdfReader(io.BytesIO(pdf)).pages)
    assert "Colo-Colo" in text
    assert "Universidad de Chile" in text
    assert "Alice Fernández" in text
    assert request_id in text.replace("\n", "")
    unsigned = url.split("?")[0]
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=5)
    assert refused.value.code == 403


def test_a_receipt_job_while_s3_is_down_fails_and_succeeds_later(s3: MotoS3) -> None:
    """S3 down: the job raises Unavailable (so the queue retries); once back it stores it."""
    _, exchange, store, request_id = _accepted(s3)

    s3.stop()
    try:
        with pytest.raises(Unavailable):
            exchange.run_job(MakeReceipt(request_id))
    finally:
        s3.start()
    exchange.run_job(MakeReceipt(request_id))

    assert store.url(request_id) is not None
