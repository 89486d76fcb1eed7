"""The jobs the core asks for: typed specs that a ``ports.JobQueue`` carries to a worker.

A job names what to do and for whom, never how; it is safe to run twice (CONTRACT §5).
A queue may fold a job equal to one still waiting into it: equal specs are the same job.
"""

from __future__ import annotations

import attrs

__all__ = ["EMAIL_EVENTS", "Job", "MakeReceipt", "Recommend", "SendEmail"]


@attrs.frozen
class Recommend:
    """Recompute and store one user's recommendations."""

    user_id: str


@attrs.frozen
class MakeReceipt:
    """Render and store the receipt of one of our accepted purchases."""

    request_id: str


EMAIL_EVENTS = ("accepted", "rejected", "settled")
"""What an email to a buyer tells: their purchase was accepted, rejected, or settled."""


@attrs.frozen
class SendEmail:
    """Tell the buyer of one of our purchases what happened to it (one of ``EMAIL_EVENTS``).

    At most one email goes out per purchase and event, however often the job runs.
    """

    request_id: str
    event: str


Job = Recommend | MakeReceipt | SendEmail
"""Every job the core queues."""
