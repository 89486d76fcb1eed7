"""The receipt Lambda handler, invoked locally with Lambda-shaped events against moto's S3."""

from __future__ import annotations

import io
import json
import urllib.request
from collections.abc import Iterator

import pytest

from tests.samples import RECEIPT
from tests.servers.s3 import MotoS3, moto_s3

pytest.importorskip("weasyprint")
pypdf = pytest.importorskip("pypdf")

from goat_adapters.pdf.lambda_handler import handler, receipt_to_json  # noqa: E402

pytestmark = pytest.mark.integration

BUCKET = "lambda-receipts"


@pytest.fixture(scope="module")
def s3() -> Iterator[MotoS3]:
    """moto's S3 with the bucket, named to the handler as a deployed function's env is."""
    with moto_s3() as server, pytest.MonkeyPatch.context() as env:
        server.create_bucket(BUCKET)
        env.setenv("GOAT_S3_BUCKET", BUCKET)
        env.setenv("GOAT_S3_ENDPOINT_URL", server.url)
        yield server


def _body(answer: dict[str, object]) -> dict[str, object]:
    body = answer["body"]
    assert isinstance(body, str)
    decoded = json.loads(body)
    assert isinstance(decoded, dict)
    return decoded


def test_a_direct_invocation_renders_stores_and_links_the_receipt(s3: MotoS3) -> None:
    """The handler stores the PDF in the bucket and answers a presigned URL that serves it."""
    answer = handler({"receipt": receipt_to_json(RECEIPT)}, None)

    assert answer["statusCode"] == 200
    body = _body(answer)
    assert body["rendered"] is True
    with urllib.request.urlopen(str(body["url"]), timeout=5) as download:
        text = pypdf.PdfReader(io.BytesIO(download.read())).pages[0].extract_text()
    assert "Arsenal" in text
    assert "Alice Fernández" in text


def test_an_api_gateway_event_renders_once_per_purchase(s3: MotoS3) -> None:
    """The same receipt through a function URL body again is not rendered a second time."""
    event = {"body": json.dumps({"receipt": receipt_to_json(RECEIPT)})}

    handler(event, None)
    again = _body(handler(event, None))

    assert again["rendered"] is False
    assert again["key"] == RECEIPT.purchase_id


def test_a_malformed_receipt_is_a_400_naming_the_field(s3: MotoS3) -> None:
    """A quantity that is not a number answers 400 naming receipt.quantity."""
    data = receipt_to_json(RECEIPT) | {"quantity": "three"}

    answer = handler({"receipt": data}, None)

    assert answer["statusCode"] == 400
    assert "receipt.quantity" in str(_body(answer)["error"])
