"""The receipt renderer as an AWS Lambda function (``deploy/receipts-lambda``).

Invoke it with the receipt as JSON, directly or through API Gateway / a function URL
(then the same object is the request's ``body``)::

    {"receipt": {"group_name": "Grupo 15", "buyer_name": "Alice", "buyer_email": "a@x.cl",
                 "home": "Arsenal", "away": "Chelsea", "league": "Premier League",
                 "round": "Regular Season - 12", "kickoff": "2024-10-05T14:00:00+00:00",
                 "result_backed": "Arsenal", "quantity": 2, "unit_price": 1000,
                 "amount_paid": 2000, "paid_with": "Wallet",
                 "purchase_id": "5f0c...", "issued_at": "2024-10-01T12:03:00+00:00"}}

It renders the PDF once per purchase id into ``GOAT_S3_BUCKET`` (``GOAT_S3_ENDPOINT_URL``
for an S3-compatible store; the function's role gives the credentials) and answers
``{"statusCode": 200, "body": "{\\"key\\": ..., \\"url\\": <presigned>, \\"rendered\\": bool}"}``:
``rendered`` is false when the receipt was already there. A malformed receipt answers 400
naming the field; S3 trouble raises, so that Lambda's retry policy applies.
"""

from __future__ import annotations

import json
import os
from datetime import datetime
from typing import Any

import attrs

from goat_adapters.pdf.renderer import WeasyReceiptRenderer
from goat_core.errors import InvalidInput
from goat_core.ports import Receipt, ReceiptStore

__all__ = ["handler", "receipt_from_json", "receipt_to_json"]

_renderer: WeasyReceiptRenderer | None = None  # kept warm between invocations
_INTEGERS = ("quantity", "unit_price", "amount_paid")
_MOMENTS = ("kickoff", "issued_at")


def receipt_to_json(receipt: Receipt) -> dict[str, object]:
    """The receipt as the handler takes it (times as ISO 8601)."""
    values = attrs.asdict(receipt)
    for name in _MOMENTS:
        values[name] = values[name].isoformat()
    return values


def receipt_from_json(data: object) -> Receipt:
    """A receipt from its JSON form; ``InvalidInput`` names a missing or wrong field."""
    if not isinstance(data, dict):
        raise InvalidInput("receipt", "must be an object")
    values: dict[str, Any] = {}
    for field in attrs.fields(Receipt):
        value = data.get(field.name)
        if field.name == "buyer_email" and value is None:
            values[field.name] = None
        elif field.name in _INTEGERS:
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise InvalidInput(f"receipt.{field.name}", "must be a whole number >= 0")
            values[field.name] = value
        elif field.name in _MOMENTS:
            try:
                moment = datetime.fromisoformat(str(value))
            except ValueError:
                raise InvalidInput(f"receipt.{field.name}", "must be an ISO 8601 time") from None
            if moment.tzinfo is None:
                raise InvalidInput(f"receipt.{field.name}", "must carry its time zone")
            values[field.name] = moment
        elif not isinstance(value, str) or not value:
            raise InvalidInput(f"receipt.{field.name}", "must be a non-empty string")
        else:
            values[field.name] = value
    return Receipt(**values)


def _store() -> ReceiptStore:
    from goat_adapters.s3 import S3ReceiptStore

    bucket = os.environ.get("GOAT_S3_BUCKET", "").strip()
    if not bucket:
        raise RuntimeError("GOAT_S3_BUCKET is not set: where should receipts go?")
    endpoint = os.environ.get("GOAT_S3_ENDPOINT_URL", "").strip() or None
    return S3ReceiptStore(bucket, endpoint_url=endpoint)


def _answer(status: int, body: dict[str, object]) -> dict[str, object]:
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(body),
    }


def handler(event: dict[str, Any], context: object = None) -> dict[str, object]:
    """Render one receipt into S3 (once per purchase id) and answer its presigned URL."""
    global _renderer
    try:
        payload = event
        if isinstance(event.get("body"), str):  # API Gateway or a function URL
            payload = json.loads(event["body"])
        receipt = receipt_from_json(payload.get("receipt") if isinstance(payload, dict) else None)
        store = _store()
        key = receipt.purchase_id
        existing = store.url(key)
        if existing is not None:
            return _answer(200, {"key": key, "url": existing, "rendered": False})
        if _renderer is None:
            _renderer = WeasyReceiptRenderer()
        url = store.put(key, _renderer.render(receipt))
    except (InvalidInput, ValueError) as error:
        return _answer(400, {"error": str(error)})
    return _answer(200, {"key": key, "url": url, "rendered": True})
