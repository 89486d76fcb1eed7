"""The memo of verified tokens: it never outlives a token's expiry nor its own bound."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from goat_app.auth import DevelopmentTokenVerifier, Identity, NotAuthenticated, VerifiedTokens
from goat_core.model import Viewer


def test_a_verified_token_is_remembered_with_its_identity() -> None:
    """A token put in the memo is found again with its identity; another is not."""
    tokens = VerifiedTokens()
    alice = Identity("dev|alice", expires_at=time.time() + 3600)
    tokens.put("token-a", alice)
    assert tokens.get("token-a") == alice
    assert tokens.get("token-b") is None


def test_a_token_past_its_expiry_is_forgotten() -> None:
    """A token that expires while remembered is not honoured a moment longer."""
    tokens = VerifiedTokens(ttl=3600)
    tokens.put("expired", Identity("dev|alice", expires_at=time.time() - 1))
    assert tokens.get("expired") is None


def test_no_token_is_remembered_longer_than_the_bound() -> None:
    """With a bound of zero seconds, nothing is remembered even for a valid token."""
    tokens = VerifiedTokens(ttl=0)
    tokens.put("token-a", Identity("dev|alice", expires_at=time.time() + 3600))
    assert tokens.get("token-a") is None


def test_the_memo_is_bounded() -> None:
    """The memo never holds more tokens than its size."""
    tokens = VerifiedTokens(size=2)
    for n in range(5):
        tokens.put(f"token-{n}", Identity(f"dev|{n}"))
    assert tokens.get("token-4") is not None
    assert sum(tokens.get(f"token-{n}") is not None for n in range(5)) <= 2


def test_a_verified_identity_carries_the_token_expiry(tmp_path: Path) -> None:
    """The identity of a development token carries the token's exp, in seconds."""
    verifier = DevelopmentTokenVerifier(tmp_path)
    before = time.time()
    identity = verifier.verify(verifier.issue("alice@example.test", days=1))
    assert identity.expires_at is not None
    assert before + 86_000 < identity.expires_at < before + 86_500


def test_a_development_verifier_with_a_given_secret_writes_nothing(tmp_path: Path) -> None:
    """A verifier given its secret accepts its own tokens, refuses others', and uses no file."""
    verifier = DevelopmentTokenVerifier(secret=b"x" * 32)
    stranger = DevelopmentTokenVerifier(tmp_path)

    assert verifier.verify(verifier.issue("alice@example.test")).user_id == "dev|alice@example.test"
    with pytest.raises(NotAuthenticated):
        verifier.verify(stranger.issue("alice@example.test"))
    assert verifier.data_dir is None


def test_identity_tells_the_core_who_asks() -> None:
    """An identity's viewer carries its user id and whether it is an admin."""
    assert Identity("dev|boss", admin=True).viewer == Viewer("dev|boss", admin=True)
