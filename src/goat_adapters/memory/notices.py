"""In-memory receipt renderer and mailer, with recorders: ``rendered`` and ``sent``."""

from __future__ import annotations

from goat_core.errors import Unavailable
from goat_core.ports import Email, Receipt

__all__ = ["InMemoryMailer", "InMemoryReceiptRenderer"]


class InMemoryReceiptRenderer:
    """Records each receipt in ``rendered`` and answers a small stand-in document."""

    def __init__(self) -> None:
        self.rendered: list[Receipt] = []

    def render(self, receipt: Receipt) -> bytes:
        self.rendered.append(receipt)
        return f"%PDF-1.7 receipt {receipt.purchase_id}\n".encode()


class InMemoryMailer:
    """Records each email in ``sent``; ``down = True`` makes the mail system unreachable."""

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.down = False

    def send(self, email: Email) -> None:
        if self.down:
            raise Unavailable("the mail server is down")
        self.sent.append(email)
