"""Typed jobs as rq carries them: a kind and string fields, and back.

A job crosses Redis as ``(kind, fields)``, e.g. ``("recommend", {"user_id": "auth0|a"})``:
plain strings that any worker version reads, never a pickled object. ``job_from`` is the
one parser of that form (the worker and the jobs service use it); a wrong kind or field
raises ``InvalidInput`` naming it.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from goat_core.errors import InvalidInput
from goat_core.jobs import Job, MakeReceipt, Recommend, SendEmail

__all__ = ["KINDS", "job_from", "spec_of"]

KINDS: dict[str, type[Recommend] | type[MakeReceipt] | type[SendEmail]] = {
    "recommend": Recommend,
    "receipt": MakeReceipt,
    "mail": SendEmail,
}
"""Every job's name on the wire (CONTRACT §5), and its spec."""


def spec_of(job: Job) -> tuple[str, dict[str, str]]:
    """The kind and fields that carry ``job`` through Redis."""
    for kind, spec in KINDS.items():
        if type(job) is spec:
            return kind, {name: str(value) for name, value in attrs.asdict(job).items()}
    raise TypeError(f"not a job: {job!r}")  # unreachable while KINDS lists every Job


def job_from(kind: object, fields: Mapping[str, object], *, prefix: str = "") -> Job:
    """The job named ``kind`` with ``fields``; ``InvalidInput`` names what is wrong.

    ``prefix`` is put before a field's name in the error (``arguments.user_id``).
    """
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if spec is None:
        raise InvalidInput("job", f"must be one of {', '.join(sorted(KINDS))}")
    names = [field.name for field in attrs.fields(spec)]
    for name in fields:
        if name not in names:
            raise InvalidInput(f"{prefix}{name}", f"is not an argument of the {kind} job")
    values: dict[str, str] = {}
    for name in names:
        value = fields.get(name)
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(f"{prefix}{name}", "must be a non-empty string")
        values[name] = value
    return spec(**values)
