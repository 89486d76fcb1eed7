"""The jobs the core asks for: typed specs that a ``ports.JobQueue`` carries to a worker.

A job names what to do and for whom, never how; it is safe to run twice (CONTRACT §5).
A queue may fold a job equal to one still waiting into it: equal specs are the same job.
"""

from __future__ import annotations

import attrs

__all__ = ["Job", "MakeReceipt", "Recommend"]


@attrs.frozen
class Recommend:
    """Recompute and store one user's recommendations."""

    user_id: str


@attrs.frozen
class MakeReceipt:
    """Render and store the receipt of one of our accepted purchases."""

    request_id: str


Job = Recommend | MakeReceipt
"""Every job the core queues."""
