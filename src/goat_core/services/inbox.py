"""What the broker says: fixtures, other groups' purchases, validations, results, auctions.

Every message is applied exactly once (``Inbox.remember`` keeps a digest of each), in
one transaction with its effects. A message that cannot be understood is kept as a dead
letter for an admin; only an unavailable dependency raises, so that the broker delivers
the message again.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Sequence

from goat_core.errors import InvalidInput, MalformedMessage, UnknownFixture
from goat_core.jobs import MakeReceipt
from goat_core.model import (
    Fixture,
    MatchState,
    Purchase,
    PurchaseStatus,
    RequestMessage,
    ValidationMessage,
)
from goat_core.ports import UnitOfWork
from goat_core.services.context import Context
from goat_core.services.settlement import apply_validation, record_results
from goat_core.wire import (
    TOPIC_AUCTIONS,
    TOPIC_HISTORY,
    TOPIC_INFO,
    TOPIC_REQUESTS,
    TOPIC_VALIDATION,
    parse_fixtures,
    parse_history,
    parse_request,
    parse_validation,
)

__all__ = ["Handled", "MessageInbox"]

log = logging.getLogger("goat.core")


class Handled(enum.StrEnum):
    """What applying one broker message did."""

    APPLIED = "applied"
    """It changed something."""
    DUPLICATE = "duplicate"
    """This exact message was applied before."""
    IGNORED = "ignored"
    """Understood, nothing to change: our own echo, a purchase already known."""
    MALFORMED = "malformed"
    """Not understood: kept in the dead letters with the reason."""


class MessageInbox:
    """Applying broker messages to our copy of the exchange."""

    def __init__(self, context: Context) -> None:
        self._context = context

    def receive(self, topic: str, payload: bytes | str) -> Handled:
        """Apply one broker message exactly once; say what happened."""
        text = _text(payload)
        try:
            with self._context.uow() as uow:
                handled, validation = self._receive(uow, topic, text)
                uow.commit()
        except (InvalidInput, UnknownFixture) as error:
            self.keep_dead_letter(topic, text, str(error))
            return Handled.MALFORMED
        if validation is not None:
            self._after_validation(validation, handled == Handled.APPLIED)
        return handled

    def receive_many(self, messages: Sequence[tuple[str, bytes | str]]) -> list[Handled]:
        """Apply several broker messages in one transaction; answer as ``receive`` does for each.

        One commit for the lot is what lets a listener keep up with a busy broker. If any
        message of the lot cannot be applied, the lot is rolled back and each message is
        applied on its own, so a bad message never takes good ones down with it.
        """
        if len(messages) < 2:
            return [self.receive(topic, payload) for topic, payload in messages]
        answers: list[Handled] = []
        validations: list[tuple[ValidationMessage, bool]] = []
        try:
            with self._context.uow() as uow:
                for topic, payload in messages:
                    handled, validation = self._receive(uow, topic, _text(payload))
                    answers.append(handled)
                    if validation is not None:
                        validations.append((validation, handled == Handled.APPLIED))
                uow.commit()
        except (InvalidInput, UnknownFixture):
            return [self.receive(topic, payload) for topic, payload in messages]
        for validation, changed in validations:
            self._after_validation(validation, changed)
        return answers

    def ingest_fixtures(self, fixtures: Sequence[Fixture]) -> int:
        """Store fixtures as fixtures/info says them; new ones get the full count of bonds."""
        context = self._context
        with context.uow() as uow:
            uow.fixtures.upsert_many(fixtures, context.rules.bonds_per_fixture, context.clock.now())
            uow.commit()
        return len(fixtures)

    def record_results(self, states: Sequence[MatchState]) -> int:
        """Apply fixtures/history entries: update fixtures, settle finished ones; how many."""
        context = self._context
        with context.uow() as uow:
            settled = record_results(uow, states, context.rules, context.clock.now())
            uow.commit()
        return settled

    def apply_validation(self, message: ValidationMessage) -> bool:
        """Apply a fixtures/validation verdict (an admin's); True if it decided or parked one."""
        context = self._context
        with context.uow() as uow:
            changed = apply_validation(uow, message, context.rules, context.clock.now())
            uow.commit()
        self._after_validation(message, changed)
        return changed

    def keep_dead_letter(self, topic: str, payload: str, reason: str) -> None:
        """Keep a message that could not be applied, for an admin to inspect."""
        log.warning("kept malformed %s message: %s", topic, reason)
        with self._context.uow() as uow:
            uow.dead_letters.add(topic, payload, reason, self._context.clock.now())
            uow.commit()

    def _receive(
        self, uow: UnitOfWork, topic: str, text: str
    ) -> tuple[Handled, ValidationMessage | None]:
        key = f"{topic}:{hashlib.sha256(text.encode()).hexdigest()}"
        if not uow.inbox.remember(key):
            return Handled.DUPLICATE, None
        rules, now = self._context.rules, self._context.clock.now()
        changed = True
        validation = None
        if topic == TOPIC_INFO:
            uow.fixtures.upsert_many(parse_fixtures(text), rules.bonds_per_fixture, now)
        elif topic == TOPIC_REQUESTS:
            changed = self._record_request(uow, parse_request(text)) is not None
        elif topic == TOPIC_VALIDATION:
            validation = parse_validation(text)
            changed = apply_validation(uow, validation, rules, now)
        elif topic == TOPIC_HISTORY:
            record_results(uow, parse_history(text), rules, now)
        elif topic == TOPIC_AUCTIONS:
            uow.auctions.add(text, now)
        else:
            raise MalformedMessage("topic", f"{topic!r} is not a topic goat reads")
        return (Handled.APPLIED if changed else Handled.IGNORED), validation

    def _record_request(self, uow: UnitOfWork, message: RequestMessage) -> Purchase | None:
        """Record another group's purchase; None for a repeat or our own echo."""
        uow.purchases.lock(message.request_id)  # its validation may be arriving right now
        if uow.purchases.get(message.request_id) is not None:
            return None  # a repeat, or our own purchase coming back from the broker
        rules = self._context.rules
        if message.group_id == rules.group_id:
            log.warning("request %s claims our group but is not ours", message.request_id)
            return None
        fixture = uow.fixtures.get(message.fixture_id)
        if fixture is None:
            raise UnknownFixture(message.fixture_id)
        result = fixture.outcome_of(message.result)
        if result is None:
            raise MalformedMessage(
                "result",
                f"{message.result!r} is neither team of fixture {fixture.id}, '---',"
                " home, away nor draw",
            )
        now = self._context.clock.now()
        reserved = uow.fixtures.reserve(fixture.id, message.quantity)
        purchase = Purchase(
            request_id=message.request_id,
            group_id=message.group_id,
            fixture_id=fixture.id,
            league_name=message.league_name or fixture.league.name,
            round=message.round or fixture.league.round,
            date=message.date or fixture.kickoff.date().isoformat(),
            result=result,
            quantity=message.quantity,
            reserved=reserved,
            wallet=message.wallet,
            created_at=now,
            status=PurchaseStatus.PENDING,
            deposit_token=message.deposit_token,
            seller=message.seller,
            updated_at=now,
        )
        if not uow.purchases.add(purchase):
            uow.fixtures.release(fixture.id, reserved)  # lost a race with the same request
            return None
        if reserved < message.quantity:
            log.warning(
                "request %s of group %s: only %d of %d bonds were left",
                message.request_id,
                message.group_id,
                reserved,
                message.quantity,
            )
        parked = uow.parked.take(message.request_id)
        if parked is not None:
            apply_validation(uow, parked, rules, now)
        return purchase

    def _after_validation(self, message: ValidationMessage, changed: bool) -> None:
        """An accepted purchase of ours gets its receipt made."""
        if not (changed and message.valid):
            return
        with self._context.uow() as uow:
            purchase = uow.purchases.get(message.request_id)
        if purchase is not None and purchase.is_ours:
            self._context.follow_up(MakeReceipt(purchase.request_id))


def _text(payload: bytes | str) -> str:
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload
