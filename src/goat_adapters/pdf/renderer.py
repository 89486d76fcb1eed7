"""``WeasyReceiptRenderer``: receipts as PDF with weasyprint, from an HTML template.

The template (``receipt.html``) and its stylesheet (``receipt.css``) ship in this package.
Every value is HTML-escaped before it is put in (team names come from the broker and
may hold markup or right-to-left text; ``<bdi>`` keeps the latter from reordering its
neighbours), and the template is filled in one pass, so nothing a value holds is ever
read as template. Rendering never reaches the network: the URL fetcher refuses every
URL, and the fonts are the system's (DejaVu Sans).
"""

from __future__ import annotations

import html
import logging
import string
from datetime import datetime
from importlib import resources
from typing import Any, NoReturn

from goat_core.errors import Unavailable
from goat_core.ports import Receipt

__all__ = ["WeasyReceiptRenderer", "receipt_html"]


def _load(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text("utf-8")


def _clp(amount: int) -> str:
    return f"${amount:,} CLP".replace(",", ".")


def _when(moment: datetime) -> str:
    return f"{moment:%d %b %Y, %H:%M} {moment.tzname() or 'UTC'}"


def receipt_html(receipt: Receipt) -> str:
    """The receipt as a self-contained HTML page (its CSS inline, no external resource)."""
    values = {
        "group_name": receipt.group_name,
        "buyer_name": receipt.buyer_name,
        "buyer_email": receipt.buyer_email or "",
        "home": receipt.home,
        "away": receipt.away,
        "league": receipt.league,
        "round": receipt.round,
        "kickoff": _when(receipt.kickoff),
        "result_backed": receipt.result_backed,
        "quantity": str(receipt.quantity),
        "unit_price": _clp(receipt.unit_price),
        "amount_paid": _clp(receipt.amount_paid),
        "paid_with": receipt.paid_with,
        "purchase_id": receipt.purchase_id,
        "issued": _when(receipt.issued_at),
    }
    escaped = {name: html.escape(value, quote=True) for name, value in values.items()}
    return string.Template(_load("receipt.html")).substitute(escaped, css=_load("receipt.css"))


class WeasyReceiptRenderer:
    """The ``ports.ReceiptRenderer`` on weasyprint; safe to share between threads."""

    def __init__(self) -> None:
        import weasyprint  # noqa: F401  # fail at start, not at the first receipt

        # weasyprint logs seven INFO lines per document; its warnings and errors still show
        logging.getLogger("weasyprint.progress").setLevel(logging.WARNING)

        self._fetcher = _fetcher()

    def render(self, receipt: Receipt) -> bytes:
        import weasyprint

        try:
            document = weasyprint.HTML(string=receipt_html(receipt), url_fetcher=self._fetcher)
            pdf = document.write_pdf()
        except (OSError, RuntimeError) as error:  # e.g. a missing system library or font
            raise Unavailable(f"rendering a receipt failed: {error}") from error
        assert isinstance(pdf, bytes)
        return pdf


def _fetcher() -> Any:
    """A weasyprint URL fetcher that refuses every URL (weasyprint 68+: a ``URLFetcher``)."""
    from weasyprint.urls import URLFetcher

    class _NoNetwork(URLFetcher):  # type: ignore[misc]  # weasyprint has no type hints
        def fetch(self, url: str, headers: object = None) -> NoReturn:
            raise ValueError(f"receipts fetch nothing: {url[:80]!r} refused")

    return _NoNetwork()
