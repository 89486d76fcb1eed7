"""What a process goat owns does once it has built what it runs."""

from __future__ import annotations

import gc

__all__ = ["keep_startup_objects"]


def keep_startup_objects() -> None:
    """Take what the process has built so far out of the garbage collector's sight.

    For a process goat owns (``goat api`` and each of its workers, ``goat serve``,
    ``goat listener``, ``goat worker``, ``goat jobs``), once its system and app are
    built: ~175,000 objects (the app and its schemas, SQLAlchemy's metadata, the system)
    live as long as the process, yet each full collection walked them all, 70-90 ms in
    which the process did nothing else, every few seconds under load (the tail of the
    latency figures). Not for a process that builds systems and drops them, such as a
    test run: what is kept is never freed.
    """
    gc.collect()
    gc.freeze()
