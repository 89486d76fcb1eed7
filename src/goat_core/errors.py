"""The one error tree of goat.

Every error the core raises, and every error an adapter lets out, is a ``GoatError``::

    GoatError
    ├── NotFound                  something named by id does not exist (HTTP 404)
    │   ├── UnknownFixture
    │   ├── UnknownPurchase
    │   ├── UnknownLot            the group's inventory has no such lot
    │   ├── UnknownAuction
    │   └── UnknownProposal
    ├── Conflict                  the request is valid but the state forbids it (HTTP 409)
    │   ├── NotEnoughBonds
    │   ├── NotAccepted
    │   ├── PaymentNotFinished    the payer has not finished on the payment page yet
    │   ├── LotTooSmall           a lot holds fewer bonds than asked
    │   └── Busy                  a lock was not granted in time; safe to retry
    │       └── Deadlock          the database broke a lock cycle by aborting this transaction
    ├── Forbidden                 the caller is known but may not do this (HTTP 403)
    ├── NotEnoughMoney            the wallet cannot pay (HTTP 402)
    ├── FixtureStarted            the fixture is no longer on sale (HTTP 422)
    ├── InvalidInput              a value from outside is wrong; ``field`` names it (HTTP 400/422)
    │   └── MalformedMessage      a broker message that cannot be understood
    ├── PaymentError              the payment provider failed or answered nonsense
    └── Unavailable               a dependency (database, broker, queue, ...) cannot be reached
        └── NotAllPublished       the broker acknowledged only the first messages of a batch
"""

from __future__ import annotations

__all__ = [
    "Busy",
    "Conflict",
    "Deadlock",
    "FixtureStarted",
    "Forbidden",
    "GoatError",
    "InvalidInput",
    "LotTooSmall",
    "MalformedMessage",
    "NotAccepted",
    "NotAllPublished",
    "NotEnoughBonds",
    "NotEnoughMoney",
    "NotFound",
    "PaymentError",
    "PaymentNotFinished",
    "Unavailable",
    "UnknownAuction",
    "UnknownFixture",
    "UnknownLot",
    "UnknownProposal",
    "UnknownPurchase",
]


class GoatError(Exception):
    """Root of every error goat raises on purpose."""


class NotFound(GoatError):
    """The thing asked for does not exist (or is not visible to the caller)."""


class UnknownFixture(NotFound):
    def __init__(self, fixture_id: int) -> None:
        super().__init__(f"fixture {fixture_id} is unknown")
        self.fixture_id = fixture_id


class UnknownPurchase(NotFound):
    def __init__(self, request_id: str) -> None:
        super().__init__(f"purchase {request_id} is unknown")
        self.request_id = request_id


class UnknownLot(NotFound):
    def __init__(self, lot_id: str) -> None:
        super().__init__(f"lot {lot_id} is unknown")
        self.lot_id = lot_id


class UnknownAuction(NotFound):
    def __init__(self, auction_id: str) -> None:
        super().__init__(f"auction {auction_id} is unknown")
        self.auction_id = auction_id


class UnknownProposal(NotFound):
    def __init__(self, proposal_id: str) -> None:
        super().__init__(f"proposal {proposal_id} is unknown")
        self.proposal_id = proposal_id


class Conflict(GoatError):
    """The request is well formed but the current state does not allow it."""


class NotEnoughBonds(Conflict):
    def __init__(self, fixture_id: int, wanted: int) -> None:
        super().__init__(f"fixture {fixture_id} has fewer than {wanted} bonds available")
        self.fixture_id = fixture_id
        self.wanted = wanted


class NotAccepted(Conflict):
    """The purchase is not accepted, so it has no receipt."""


class PaymentNotFinished(Conflict):
    """The payment provider has no decision of the payer for this transaction yet."""


class LotTooSmall(Conflict):
    def __init__(self, lot_id: str, wanted: int) -> None:
        super().__init__(f"lot {lot_id} holds fewer than {wanted} bonds")
        self.lot_id = lot_id
        self.wanted = wanted


class Busy(Conflict):
    """A lock was not granted within the configured bound; retrying is safe."""


class Deadlock(Busy):
    """The database broke a lock cycle by aborting this transaction: nothing of it was
    kept, and the other side goes on, so trying again at once is safe and likely to
    succeed."""


class Forbidden(GoatError):
    """The caller is known but may not do this (an admin's task)."""


class NotEnoughMoney(GoatError):
    def __init__(self, user_id: str, wanted: int) -> None:
        super().__init__(f"the wallet cannot pay {wanted} CLP")
        self.user_id = user_id
        self.wanted = wanted


class FixtureStarted(GoatError):
    def __init__(self, fixture_id: int) -> None:
        super().__init__(f"fixture {fixture_id} has already started")
        self.fixture_id = fixture_id


class InvalidInput(GoatError):
    """A value that came from outside is wrong. ``field`` names it (dotted path)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}" if field else reason)
        self.field = field
        self.reason = reason


class MalformedMessage(InvalidInput):
    """A broker message that cannot be understood; it is kept for inspection."""


class PaymentError(GoatError):
    """The payment provider failed or answered something we cannot use."""


class Unavailable(GoatError):
    """A dependency cannot be reached right now."""


class NotAllPublished(Unavailable):
    """The broker acknowledged the first ``acknowledged`` messages of a batch, not the rest."""

    def __init__(self, acknowledged: int, reason: str) -> None:
        super().__init__(reason)
        self.acknowledged = acknowledged
