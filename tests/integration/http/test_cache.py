"""The memo behind GET /fixtures: fresh values are reused, stale ones recomputed."""

from __future__ import annotations

import time

from goat_app.http.cache import TtlCache


def test_a_fresh_value_is_reused_and_a_stale_one_recomputed() -> None:
    """Within ``ttl`` the first value is answered again; after it, the value is computed anew."""
    cache: TtlCache[int] = TtlCache(ttl=0.05)
    calls = iter(range(10))
    assert cache.get("page-1", lambda: next(calls)) == 0
    assert cache.get("page-1", lambda: next(calls)) == 0
    assert cache.get("page-2", lambda: next(calls)) == 1
    time.sleep(0.06)
    assert cache.get("page-1", lambda: next(calls)) == 2


def test_a_zero_ttl_never_keeps_anything() -> None:
    """``GOAT_FIXTURES_CACHE_MS=0`` makes every listing read the database."""
    cache: TtlCache[int] = TtlCache(ttl=0)
    calls = iter(range(10))
    assert [cache.get("k", lambda: next(calls)) for _ in range(3)] == [0, 1, 2]


def test_the_number_of_keys_is_bounded() -> None:
    """Many distinct filters cannot grow the memo beyond its size."""
    cache: TtlCache[int] = TtlCache(ttl=60, size=4)
    for key in range(100):
        cache.get(key, lambda: 0)
    assert len(cache._values) <= 4
