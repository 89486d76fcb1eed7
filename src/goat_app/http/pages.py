"""The few HTML pages a payer's browser sees: the sandbox's payment page and goat's own
Webpay return page. Plain server-rendered HTML; every text from outside is escaped."""

from __future__ import annotations

import html
from urllib.parse import urlsplit

from goat_core.model import PurchaseView

__all__ = ["back_link", "page", "purchase_lines"]

_LAYOUT = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title></head>
<body style="font-family: sans-serif; max-width: 36em; margin: 3em auto; padding: 0 1em">
<h1>{heading}</h1>
{body}
<p><a href="{back}">Back to the shop</a></p>
</body></html>
"""


def back_link(frontend_return_url: str | None) -> str:
    """Where "back" leads: the frontend's origin (``GOAT_FRONTEND_RETURN_URL``), else ``/``."""
    if not frontend_return_url:
        return "/"
    parts = urlsplit(frontend_return_url)
    return f"{parts.scheme}://{parts.netloc}/"


def page(title: str, body: str, back: str, *, heading: str | None = None) -> str:
    """A whole page: ``title`` is plain text, ``body`` HTML already escaped."""
    return _LAYOUT.format(
        title=html.escape(f"goat · {title}"),
        heading=html.escape(heading or title),
        body=body,
        back=html.escape(back, quote=True),
    )


def purchase_lines(view: PurchaseView | None, amount: int | None = None) -> str:
    """What is being paid: the fixture's teams, the bonds, the amount (escaped HTML)."""
    lines = []
    if view is not None:
        purchase = view.purchase
        if view.fixture is not None:
            match = f"{view.fixture.home} vs {view.fixture.away}"
            lines.append(
                f"<p><strong>{html.escape(match)}</strong> "
                f"({html.escape(view.fixture.league)}, {html.escape(view.fixture.round)})</p>"
            )
        lines.append(
            f"<p>{purchase.quantity} bond(s) on <strong>{html.escape(view.wire_result)}</strong>"
            f" · purchase <code>{html.escape(purchase.request_id)}</code></p>"
        )
    if amount is not None:
        lines.append(f"<p>Amount: <strong>{amount} CLP</strong></p>")
    return "\n".join(lines)
