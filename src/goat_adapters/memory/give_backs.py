"""The purchase repository's give-backs in memory (``ports.PurchaseRepository``'s
``claim_give_back``, ``give_back_done`` and ``give_backs_pending``).

A give-back is ``(amount, done)`` by request id; its claim time is the purchase's
``updated_at``, as in the ``purchases`` table.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Protocol

from goat_core.model import Purchase

__all__ = ["MemoryGiveBacks"]


class _State(Protocol):
    purchases: dict[str, Purchase]
    give_backs: dict[str, tuple[int, bool]]


class MemoryGiveBacks:
    """Mixed into the memory purchase repository, whose ``s`` is the store's state."""

    s: _State

    def claim_give_back(
        self, request_id: str, amount: int, now: datetime, *, stale_before: datetime | None = None
    ) -> bool:
        purchase, owed = self.s.purchases.get(request_id), self.s.give_backs.get(request_id)
        if purchase is None or (owed and not _stale(purchase, owed, stale_before)):
            return False
        self.s.give_backs[request_id] = (amount, False)
        purchase.updated_at = now
        return True

    def give_back_done(self, request_id: str) -> bool:
        amount, done = self.s.give_backs.get(request_id, (0, True))
        self.s.give_backs[request_id] = (amount, True)
        return not done

    def give_backs_pending(
        self, claimed_before: datetime, limit: int
    ) -> list[tuple[Purchase, int]]:
        found = [
            (purchase, owed[0])
            for request_id, owed in self.s.give_backs.items()
            if _stale(purchase := self.s.purchases[request_id], owed, claimed_before)
        ]
        found.sort(key=lambda pair: (pair[0].created_at, pair[0].request_id))
        return copy.deepcopy(found[:limit])


def _stale(purchase: Purchase, owed: tuple[int, bool], before: datetime | None) -> bool:
    """A give-back still pending, claimed before ``before``."""
    claimed = purchase.updated_at
    return before is not None and not owed[1] and claimed is not None and claimed < before
