"""What the broker says: fixtures, other groups' purchases, validations, results, auctions.

Every message is applied exactly once (``Inbox.remember`` keeps a digest of each), in
one transaction with its effects; our own requests coming back from the broker apply
nothing and are only looked up. A message that cannot be understood is kept as a dead
letter for an admin; only an unavailable dependency raises, so that the broker delivers
the message again.

Messages may overtake what they depend on. A validation before its request is parked for
the request (``settlement.apply_validation``); another group's request for a fixture that
fixtures/info has not announced yet is parked for the fixture and applied, as it would
have been on arrival, in the transaction that stores the fixture. A request still parked
after ``PARKED_REQUEST_BOUND`` becomes a dead letter that says why.
"""

from __future__ import annotations

import enum
import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from goat_core.errors import InvalidInput, MalformedMessage
from goat_core.model import (
    Fixture,
    MatchState,
    Outcome,
    Purchase,
    PurchaseStatus,
    RequestMessage,
    ValidationMessage,
)
from goat_core.ports import ParkedRequest, UnitOfWork
from goat_core.services.auction_messages import apply_auction
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
from goat_core.wire_auctions import parse_auction

__all__ = ["PARKED_REQUEST_BOUND", "Handled", "MessageInbox"]

log = logging.getLogger("goat.core")

PARKED_REQUEST_BOUND = timedelta(hours=24)
"""How long another group's request waits for its fixture before it is a dead letter."""
_EXPIRED_PER_MESSAGE = 100


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
        except InvalidInput as error:
            self.keep_dead_letter(topic, text, str(error))
            return Handled.MALFORMED
        if handled == Handled.APPLIED and (validation is not None or topic == TOPIC_HISTORY):
            self._context.jobs_queued()  # a purchase decided or settled may have queued jobs
        return handled

    def receive_many(self, messages: Sequence[tuple[str, bytes | str]]) -> list[Handled]:
        """Apply several broker messages in few transactions; answer as ``receive`` does for each.

        One commit for many messages is what lets a listener keep up with a busy broker,
        and each run of other groups' requests is applied together, a few statements for
        the whole run (``_record_requests``). A message that may pay a buyer (a final
        result; a rejection, which refunds our purchase; a verdict on our purchase, which
        settles it when its fixture has ended) is applied alone: a buyer's row is then
        locked before any fixture's, as a lot of purchases locks them, and never after a
        fixture another message took, nor before one another message takes (either could
        deadlock with a purchase). If any message of a transaction cannot be applied, it
        is rolled back and each of its messages is applied on its own, so a bad message
        never takes good ones down. A busy database may stop the lot after some of its
        transactions committed: received again, their messages are duplicates.
        """
        if len(messages) < 2:
            return [self.receive(topic, payload) for topic, payload in messages]
        answers: list[Handled] = []
        decided = False  # a validation decided a purchase: its jobs wait for the relay
        lot: list[tuple[str, str]] = []
        for topic, payload in messages:
            text = _text(payload)
            if not self._may_pay(topic, text):
                lot.append((topic, text))
                continue
            decided |= self._receive_together(lot, answers)
            decided |= self._receive_together([(topic, text)], answers)
            lot = []
        decided |= self._receive_together(lot, answers)
        if decided:
            self._context.jobs_queued()
        return answers

    def _may_pay(self, topic: str, text: str) -> bool:
        """Whether applying a message may credit a buyer's wallet: a final result pays the
        winners; a rejection refunds our purchase; a verdict on our purchase settles it
        if its fixture ended. (A verdict is found ours by its purchase, not its group:
        an acceptance naming another group for our purchase of an ended fixture is missed,
        and a deadlock it causes is broken and retried.)"""
        if topic == TOPIC_HISTORY:
            return True
        if topic != TOPIC_VALIDATION:
            return False
        try:
            verdict = parse_validation(text)
        except InvalidInput:
            return False  # a dead letter pays no one
        return not verdict.valid or verdict.group_id == self._context.rules.group_id

    def _receive_together(self, texts: Sequence[tuple[str, str]], answers: list[Handled]) -> bool:
        """Apply ``texts`` in one transaction, adding their answers to ``answers``; whether
        a validation decided a purchase (its jobs are queued)."""
        if len(texts) < 2:
            answers.extend(self.receive(topic, text) for topic, text in texts)
            return False  # receive told the relay itself
        got: list[Handled] = []
        decided = False
        try:
            with self._context.uow() as uow:
                start = 0
                while start < len(texts):
                    topic, text = texts[start]
                    if topic == TOPIC_REQUESTS:
                        end = start + 1
                        while end < len(texts) and texts[end][0] == TOPIC_REQUESTS:
                            end += 1
                        run = [text for _, text in texts[start:end]]
                        got.extend(self._record_requests(uow, run))
                        start = end
                        continue
                    handled, validation = self._receive(uow, topic, text)
                    got.append(handled)
                    decided |= validation is not None and handled == Handled.APPLIED
                    start += 1
                uow.commit()
        except InvalidInput:
            answers.extend(self.receive(topic, text) for topic, text in texts)
            return False
        answers.extend(got)
        return decided

    def ingest_fixtures(self, fixtures: Sequence[Fixture]) -> int:
        """Store fixtures as fixtures/info says them; new ones get the full count of bonds."""
        context = self._context
        with context.uow() as uow:
            now = context.clock.now()
            uow.parked_requests.lock()
            uow.fixtures.upsert_many(fixtures, context.rules.bonds_per_fixture, now)
            self._apply_parked(uow, now)
            uow.commit()
        return len(fixtures)

    def record_results(self, states: Sequence[MatchState]) -> int:
        """Apply fixtures/history entries: update fixtures, settle finished ones; how many."""
        context = self._context
        with context.uow() as uow:
            settled = record_results(uow, states, context.rules, context.clock.now())
            uow.commit()
        if settled:
            context.jobs_queued()  # the winners' recomputes
        return settled

    def apply_validation(self, message: ValidationMessage) -> bool:
        """Apply a fixtures/validation verdict (an admin's); True if it decided or parked one."""
        context = self._context
        with context.uow() as uow:
            changed = apply_validation(uow, message, context.rules, context.clock.now())
            uow.commit()
        if changed:
            self._context.jobs_queued()  # a decided purchase may have queued jobs
        return changed

    def keep_dead_letter(self, topic: str, payload: str, reason: str) -> None:
        """Keep a message that could not be applied, for an admin to inspect; once, however
        often the broker delivers it (its digest is remembered apart from applied ones)."""
        with self._context.uow() as uow:
            if not uow.inbox.remember(f"dead:{_digest(topic, payload)}"):
                log.info("malformed %s message already kept: %s", topic, reason)
                return
            # PostgreSQL's text holds no NUL: a payload with one must still be kept
            payload, reason = payload.replace("\0", "\ufffd"), reason.replace("\0", "\ufffd")
            uow.dead_letters.add(topic, payload, reason, self._context.clock.now())
            uow.commit()
        log.warning("kept malformed %s message: %s", topic, reason)

    def _receive(
        self, uow: UnitOfWork, topic: str, text: str
    ) -> tuple[Handled, ValidationMessage | None]:
        request = parse_request(text) if topic == TOPIC_REQUESTS else None
        if request is not None and request.group_id == self._context.rules.group_id:
            self._our_echoes(uow, [request])
            return Handled.IGNORED, None
        key = _digest(topic, text)
        if not uow.inbox.remember(key):
            return Handled.DUPLICATE, None
        rules, now = self._context.rules, self._context.clock.now()
        changed = True
        validation = None
        if request is not None:
            changed = self._record_request(uow, request, text)
        elif topic == TOPIC_INFO:
            fixtures = parse_fixtures(text)
            uow.parked_requests.lock()  # before the fixtures: see ``ParkedRequests.lock``
            uow.fixtures.upsert_many(fixtures, rules.bonds_per_fixture, now)
            self._apply_parked(uow, now)
        elif topic == TOPIC_VALIDATION:
            validation = parse_validation(text)
            changed = apply_validation(uow, validation, rules, now)
        elif topic == TOPIC_HISTORY:
            record_results(uow, parse_history(text), rules, now)
        elif topic == TOPIC_AUCTIONS:
            message = parse_auction(text)
            uow.auctions.add(text, now)  # as received, for inspection
            changed = apply_auction(uow, message, rules, now)
        else:
            raise MalformedMessage("topic", f"{topic!r} is not a topic goat reads")
        return (Handled.APPLIED if changed else Handled.IGNORED), validation

    def _our_echoes(self, uow: UnitOfWork, messages: Sequence[RequestMessage]) -> None:
        """Our own purchases coming back from the broker: nothing to apply, nothing to
        remember (they are stored before they are announced). One that is not ours
        claims our group: it is ignored, with a warning."""
        if not messages:
            return
        known = uow.purchases.known({message.request_id for message in messages})
        for message in messages:
            if message.request_id not in known:
                log.warning("request %s claims our group but is not ours", message.request_id)

    def _record_request(
        self,
        uow: UnitOfWork,
        message: RequestMessage,
        text: str,
        received_at: datetime | None = None,
    ) -> bool:
        """Record another group's purchase, or park it for its fixture; False for a repeat.
        ``received_at`` is when it arrived, if that was not now."""
        uow.purchases.lock(message.request_id)  # its validation may be arriving right now
        if uow.purchases.get(message.request_id) is not None:
            return False  # a repeat
        fixture = uow.fixtures.get(message.fixture_id)
        if fixture is None:
            # fixtures/info may be storing it right now: wait for that, then look again,
            # so that the request is either applied or parked where the fixture finds it
            uow.parked_requests.lock()
            fixture = uow.fixtures.get(message.fixture_id)
        if fixture is None:
            now = self._context.clock.now()
            parked = ParkedRequest(message.request_id, message.fixture_id, text, now)
            if uow.parked_requests.park(parked):
                log.info("request %s waits for fixture %d", message.request_id, message.fixture_id)
            return True
        return self._record_purchase(uow, message, fixture, received_at) is not None

    def _record_purchase(
        self,
        uow: UnitOfWork,
        message: RequestMessage,
        fixture: Fixture,
        received_at: datetime | None,
    ) -> Purchase | None:
        """Reserve what is left for another group's purchase and record it pending."""
        result = _outcome(message, fixture)
        now = self._context.clock.now()
        reserved = uow.fixtures.reserve(fixture.id, message.quantity)
        purchase = _peer_purchase(message, fixture, result, reserved, received_at or now, now)
        if not uow.purchases.add(purchase):
            uow.fixtures.release(fixture.id, reserved)  # lost a race with the same request
            return None
        _log_short(purchase)
        parked = uow.parked.take(message.request_id)
        if parked is not None:
            apply_validation(uow, parked, self._context.rules, now)
        return purchase

    def _record_requests(self, uow: UnitOfWork, texts: Sequence[str]) -> list[Handled]:
        """Apply a run of fixtures/requests messages as ``_receive`` would one by one, with
        a few statements for the whole run instead of several per message.

        Our own echoes are looked up together and go no further (``_our_echoes``). Of
        the others, the inbox remembers them all at once; their request ids are locked together;
        the fixtures are read and their bonds reserved together (each fixture's bonds
        shared out in the order of the messages, as one by one); the purchases inserted
        together; the validations parked for them taken together. A request whose fixture
        is not stored takes the path of ``_record_request``.
        """
        answers = [Handled.IGNORED] * len(texts)
        group = self._context.rules.group_id
        theirs: list[tuple[int, RequestMessage, str]] = []
        ours: list[RequestMessage] = []
        for index, text in enumerate(texts):
            message = parse_request(text)
            if message.group_id == group:
                ours.append(message)
            else:
                theirs.append((index, message, text))
        self._our_echoes(uow, ours)
        keys = {index: _digest(TOPIC_REQUESTS, text) for index, _, text in theirs}
        new = uow.inbox.remember_many(set(keys.values())) if keys else set()
        fresh: list[tuple[int, RequestMessage, str]] = []
        for index, message, text in theirs:
            if keys[index] in new:
                new.discard(keys[index])  # the same message twice in the run: once
                fresh.append((index, message, text))
            else:
                answers[index] = Handled.DUPLICATE
        if not fresh:
            return answers
        known = uow.purchases.lock_many({message.request_id for _, message, _ in fresh})
        fixtures = uow.fixtures.get_many({message.fixture_id for _, message, _ in fresh})
        buying: list[tuple[int, RequestMessage, Fixture, Outcome]] = []
        for index, message, text in fresh:
            if message.request_id in known:
                continue  # a repeat
            fixture = fixtures.get(message.fixture_id)
            if fixture is None:  # rare: the one-by-one path, which may park it
                if self._record_request(uow, message, text):
                    answers[index] = Handled.APPLIED
                continue
            known.add(message.request_id)
            buying.append((index, message, fixture, _outcome(message, fixture)))
        if not buying:
            return answers
        # A validation parked for one of them is applied right after its purchase, before
        # the next message reserves anything, as one by one (a rejection gives bonds back).
        parked = uow.parked.take_many({message.request_id for _, message, _, _ in buying})
        chunk: list[tuple[int, RequestMessage, Fixture, Outcome]] = []
        for item in buying:
            chunk.append(item)
            validation = parked.get(item[1].request_id)
            if validation is not None or item is buying[-1]:
                self._buy_together(uow, chunk, validation, answers)
                chunk = []
        return answers

    def _buy_together(
        self,
        uow: UnitOfWork,
        buying: Sequence[tuple[int, RequestMessage, Fixture, Outcome]],
        validation: ValidationMessage | None,
        answers: list[Handled],
    ) -> None:
        """Reserve and record other groups' purchases, each fixture's bonds shared out in
        their order; then apply ``validation`` (parked for the last one), if any."""
        wanted: dict[int, int] = {}
        for _, message, fixture, _ in buying:
            wanted[fixture.id] = wanted.get(fixture.id, 0) + message.quantity
        left = uow.fixtures.reserve_many(wanted)
        now = self._context.clock.now()
        purchases = []
        for _, message, fixture, result in buying:
            reserved = min(left.get(fixture.id, 0), message.quantity)
            left[fixture.id] = left.get(fixture.id, 0) - reserved
            purchases.append(_peer_purchase(message, fixture, result, reserved, now, now))
        added = uow.purchases.add_many(purchases)
        for (index, _, _, _), purchase in zip(buying, purchases, strict=True):
            if purchase.request_id in added:
                answers[index] = Handled.APPLIED
                _log_short(purchase)
            else:  # lost a race with the same request
                uow.fixtures.release(purchase.fixture_id, purchase.reserved)
        if validation is None:
            return
        if validation.request_id in added:
            apply_validation(uow, validation, self._context.rules, now)
        else:
            uow.parked.park(validation, now)  # not ours to apply: keep it as it was

    def _apply_parked(self, uow: UnitOfWork, now: datetime) -> None:
        """Apply the parked requests whose fixture is stored now; give up on the old ones.

        Called with ``uow.parked_requests.lock()`` held. A parked request applies as it
        would have on arrival, whatever the fixture's state now (started, sold out: it
        reserves what is left).
        """
        for late in uow.parked_requests.take_expired(
            now - PARKED_REQUEST_BOUND, _EXPIRED_PER_MESSAGE
        ):
            reason = (
                f"fixture {late.fixture_id} was not announced within"
                f" {PARKED_REQUEST_BOUND.total_seconds() / 3600:g} h of this request"
                f" (waiting since {late.parked_at.isoformat()})"
            )
            log.warning("request %s: %s", late.request_id, reason)
            uow.dead_letters.add(TOPIC_REQUESTS, late.payload, reason, now)
        for parked in uow.parked_requests.take_arrived():
            try:
                message = parse_request(parked.payload)
                self._record_request(uow, message, parked.payload, parked.parked_at)
            except InvalidInput as error:  # e.g. a result naming neither team
                log.warning("kept malformed %s message: %s", TOPIC_REQUESTS, error)
                uow.dead_letters.add(TOPIC_REQUESTS, parked.payload, str(error), now)
            else:
                log.info(
                    "request %s applied: fixture %d arrived", parked.request_id, parked.fixture_id
                )


def _digest(topic: str, text: str) -> str:
    """The inbox's key for a message: its topic and the SHA-256 of its text."""
    return f"{topic}:{hashlib.sha256(text.encode()).hexdigest()}"


def _text(payload: bytes | str) -> str:
    return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else payload


def _outcome(message: RequestMessage, fixture: Fixture) -> Outcome:
    result = fixture.outcome_of(message.result)
    if result is None:
        raise MalformedMessage(
            "result",
            f"{message.result!r} is neither team of fixture {fixture.id}, '---',"
            " home, away nor draw",
        )
    return result


def _peer_purchase(
    message: RequestMessage,
    fixture: Fixture,
    result: Outcome,
    reserved: int,
    created_at: datetime,
    now: datetime,
) -> Purchase:
    """Another group's purchase as recorded here, pending its validation."""
    return Purchase(
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
        created_at=created_at,
        status=PurchaseStatus.PENDING,
        deposit_token=message.deposit_token,
        seller=message.seller,
        updated_at=now,
    )


def _log_short(purchase: Purchase) -> None:
    if purchase.reserved < purchase.quantity:
        log.warning(
            "request %s of group %s: only %d of %d bonds were left",
            purchase.request_id,
            purchase.group_id,
            purchase.reserved,
            purchase.quantity,
        )
