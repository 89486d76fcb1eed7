"""The unit tests' world: the library's ``World`` harness, plus the shared broker samples."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from goat_adapters.memory.world import KICKOFF, NOW, World, make_fixture, request_payload

__all__ = [
    "DATA",
    "KICKOFF",
    "NOW",
    "OTHER_USER",
    "PEER",
    "USER",
    "World",
    "make_fixture",
    "request_payload",
    "sample",
    "sample_text",
]

DATA = Path(__file__).parent / "data"
USER = "auth0|alice"
OTHER_USER = "auth0|bob"
PEER = "6"


def sample(name: str) -> Any:
    """A copy of one of the shared broker samples, parsed."""
    return json.loads((DATA / name).read_text())


def sample_text(name: str) -> str:
    """One of the shared broker samples as sent."""
    return (DATA / name).read_text()
