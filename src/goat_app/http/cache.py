"""A tiny time-bounded memo for answers every visitor asks for (the first fixtures pages).

Listings may lag the database by at most ``ttl`` seconds; anything that moves money or
bonds re-reads the database inside its own transaction, so a stale listing can never
oversell.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TtlCache"]

T = TypeVar("T")


class TtlCache(Generic[T]):
    """Values by key for ``ttl`` seconds; at most ``size`` keys (then it starts over)."""

    def __init__(self, ttl: float, size: int = 1024) -> None:
        self.ttl = ttl
        self.size = size
        self._values: dict[Hashable, tuple[float, T]] = {}
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value kept for ``key`` if still fresh, else ``compute()`` (kept for next time)."""
        if self.ttl <= 0:
            return compute()
        now = time.monotonic()
        kept = self._values.get(key)
        if kept is not None and kept[0] > now:
            return kept[1]
        value = compute()
        with self._lock:
            if len(self._values) >= self.size:
                self._values.clear()  # a burst of distinct filters must not grow memory
            self._values[key] = (now + self.ttl, value)
        return value
