"""Telling our buyers: a PDF receipt per accepted purchase, an email per event.

Both run as jobs (``MakeReceipt``, ``SendEmail``), which may run twice or fail and be
tried again; both are made safe for that here:

- A receipt is rendered once: if the store already holds one for the purchase, nothing
  is rendered (two workers racing may both render; the store keeps one, same content).
- An email is sent once per purchase and event. Before sending, a transaction
  asks ``uow.inbox`` whether the key ``mail:{request_id}:{event}`` was recorded (and
  rolls back); after the mail system accepted the email, another records it. A mail
  server that is down fails the job, which is tried again: mail is delayed, never lost.
  The price is a duplicate if the process dies between the server's acceptance and the
  record (see docs/decisions.md).
"""

from __future__ import annotations

import html
import logging
from datetime import datetime

from goat_core.errors import InvalidInput
from goat_core.jobs import EMAIL_EVENTS
from goat_core.model import (
    RECEIPT_STATUSES,
    Fixture,
    LedgerKind,
    Outcome,
    Purchase,
    PurchaseStatus,
    User,
)
from goat_core.ports import Email, Mailer, Receipt, ReceiptRenderer, ReceiptStore
from goat_core.services.context import Context

__all__ = ["Notices", "format_clp"]

log = logging.getLogger("goat.core")


_EVENT_STATUSES = {
    "accepted": RECEIPT_STATUSES,
    "rejected": frozenset({PurchaseStatus.REJECTED}),
    "settled": frozenset({PurchaseStatus.WON, PurchaseStatus.LOST}),
}


def format_clp(amount: int) -> str:
    """``12345`` → ``$12.345 CLP`` (Chilean thousands separator)."""
    return f"${amount:,} CLP".replace(",", ".")


class Notices:
    """Receipts and emails for our users' purchases."""

    def __init__(
        self,
        context: Context,
        *,
        receipts: ReceiptStore | None,
        renderer: ReceiptRenderer | None,
        mailer: Mailer | None,
        group_name: str,
    ) -> None:
        self._context = context
        self._receipts = receipts
        self._renderer = renderer
        self._mailer = mailer
        self._group_name = group_name

    # -- receipts ----------------------------------------------------------------------

    def make_receipt(self, request_id: str) -> str | None:
        """Render and store the receipt of one of our accepted (or settled) purchases.

        Answers its URL; None when the purchase has none (not ours, not accepted, no
        renderer or store configured). A receipt already stored is kept as it is.
        """
        if self._receipts is None or self._renderer is None:
            log.info("receipt for %s: no renderer or store configured", request_id)
            return None
        existing = self._receipts.url(request_id)
        if existing is not None:
            return existing
        receipt = self.receipt_of(request_id)
        if receipt is None:
            return None
        url = self._receipts.put(request_id, self._renderer.render(receipt))
        log.info("receipt for %s stored", request_id)
        return url

    def receipt_of(self, request_id: str) -> Receipt | None:
        """What the receipt of a purchase says, or None if it has no receipt."""
        found = self._read(request_id)
        if found is None:
            return None
        purchase, fixture, user = found
        if purchase.status not in RECEIPT_STATUSES:
            log.info("receipt for %s: the purchase is %s", request_id, purchase.status)
            return None
        price = self._paid_per_bond(purchase)
        return Receipt(
            group_name=self._group_name,
            buyer_name=user.name or user.email or user.id,
            buyer_email=user.email,
            home=fixture.home.name,
            away=fixture.away.name,
            league=fixture.league.name,
            round=fixture.league.round,
            kickoff=fixture.kickoff,
            result_backed=_backed(purchase, fixture),
            quantity=purchase.quantity,
            unit_price=price,
            amount_paid=purchase.quantity * price,
            paid_with="Wallet" if purchase.wallet else "Webpay",
            purchase_id=purchase.request_id,
            issued_at=self._context.clock.now(),
        )

    def _paid_per_bond(self, purchase: Purchase) -> int:
        """The bond price, or what a bond of a group lot cost its buyer (CONTRACT §4b):
        such a purchase reserved nothing on the fixture, and its wallet entry says."""
        rules = self._context.rules
        if purchase.reserved or str(purchase.seller) != rules.group_id or not purchase.user_id:
            return rules.bond_price
        with self._context.uow() as uow:
            entries = uow.wallets.ledger(purchase.user_id)
        paid = -sum(
            e.amount
            for e in entries
            if e.reference == purchase.request_id and e.kind is LedgerKind.PURCHASE
        )
        return paid // purchase.quantity if paid > 0 else rules.bond_price

    # -- email -------------------------------------------------------------------------

    def send_email(self, request_id: str, event: str) -> bool:
        """Email the buyer what ``event`` did to their purchase, once; True if sent now."""
        if event not in EMAIL_EVENTS:
            log.error("email for %s: unknown event %r", request_id, event)
            return False
        if self._mailer is None:
            log.info("email for %s (%s): no mailer configured", request_id, event)
            return False
        key = f"mail:{request_id}:{event}"
        with self._context.uow() as uow:
            already = not uow.inbox.remember(key)  # a question only: rolled back
        if already:
            return False
        found = self._read(request_id)
        if found is None:
            return False
        purchase, fixture, user = found
        if purchase.status not in _EVENT_STATUSES[event]:
            log.warning("email for %s (%s): the purchase is %s", request_id, event, purchase.status)
            return False
        if not user.email:
            log.warning("email for %s (%s): the buyer has no email on record", request_id, event)
            self._record(key)  # logged once, not at every run
            return False
        link = self.make_receipt(request_id) if event != "rejected" else None
        try:
            self._mailer.send(self._email(user.email, event, purchase, fixture, user, link))
        except InvalidInput as error:  # refused for good: trying again would not help
            log.error("email for %s (%s) refused: %s", request_id, event, error)
            self._record(key)
            return False
        self._record(key)
        log.info("email for %s (%s) sent", request_id, event)
        return True

    def _record(self, key: str) -> None:
        with self._context.uow() as uow:
            uow.inbox.remember(key)
            uow.commit()

    def _email(
        self,
        to: str,
        event: str,
        purchase: Purchase,
        fixture: Fixture,
        user: User,
        link: str | None,
    ) -> Email:
        match = f"{fixture.home.name} vs {fixture.away.name}"
        bonds = f"{purchase.quantity} bond{'s' if purchase.quantity != 1 else ''}"
        backed = _backed(purchase, fixture)
        if event == "accepted":
            subject = f"Purchase accepted: {match}"
            news = f"Your purchase of {bonds} on {backed} was accepted."
        elif event == "rejected":
            subject = f"Purchase rejected: {match}"
            refund = " The money was returned to your wallet." if purchase.wallet else ""
            news = (
                f"Your purchase of {bonds} on {backed} was rejected; the bonds went back.{refund}"
            )
        elif purchase.status == PurchaseStatus.WON:
            subject = f"You won: {match}"
            news = (
                f"Your {bonds} on {backed} won: {format_clp(purchase.payout or 0)}"
                " were credited to your wallet."
            )
        else:
            subject = f"Settled: {match}"
            news = f"Your {bonds} on {backed} did not win this time."
        hello = f"Hello {user.name or to},"
        facts = [
            ("Match", match),
            ("League", f"{fixture.league.name}, {fixture.league.round}"),
            ("Kick-off", _when(fixture.kickoff)),
            ("Purchase", purchase.request_id),
        ]
        text_lines = [hello, "", news, ""]
        text_lines += [f"{name}: {value}" for name, value in facts]
        if link:
            text_lines += ["", f"Your receipt: {link}"]
        text_lines += ["", f"— {self._group_name}"]
        e = html.escape
        rows = "".join(f"<tr><th>{e(n)}</th><td>{e(v)}</td></tr>" for n, v in facts)
        receipt = f'<p><a href="{e(link)}">Download your receipt (PDF)</a></p>' if link else ""
        body = (
            f"<!doctype html><html><body><p>{e(hello)}</p><p>{e(news)}</p>"
            f"<table>{rows}</table>{receipt}<p>— {e(self._group_name)}</p></body></html>"
        )
        return Email(to=to, subject=subject, text="\n".join(text_lines) + "\n", html=body)

    def _read(self, request_id: str) -> tuple[Purchase, Fixture, User] | None:
        """Our purchase with its fixture and buyer, or None (logged) when one is missing."""
        with self._context.uow() as uow:
            purchase = uow.purchases.get(request_id)
            if purchase is None or purchase.user_id is None:
                log.info("%s is not a purchase of ours", request_id)
                return None
            fixture = uow.fixtures.get(purchase.fixture_id)
            user = uow.users.get(purchase.user_id)
        if fixture is None or user is None:
            log.error("%s: its fixture or its buyer is unknown", request_id)
            return None
        return purchase, fixture, user


def _backed(purchase: Purchase, fixture: Fixture) -> str:
    if purchase.result == Outcome.HOME:
        return fixture.home.name
    if purchase.result == Outcome.AWAY:
        return fixture.away.name
    return "Draw"


def _when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M %Z").strip()
