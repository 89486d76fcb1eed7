"""The real clock and random ids (``ports.Clock``, ``ports.IdGenerator``)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

__all__ = ["SystemClock", "UuidIds"]


class SystemClock:
    """The real time, timezone-aware UTC."""

    def now(self) -> datetime:
        return datetime.now(UTC)


class UuidIds:
    """Random UUID4 strings."""

    def new_id(self) -> str:
        return str(uuid.uuid4())
