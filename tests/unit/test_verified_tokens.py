"""The memo of verified tokens: it never outlives a token's expiry nor its own bound."""

from __future__ import annotations

import time
from pathlib import Path

from goat_app.auth import DevelopmentTokenVerifier, Identity, VerifiedTokens


def test_a_verified_token_is_remembered_with_its_identity() -> None:
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
    tokens = VerifiedTokens(ttl=0)
    tokens.put("token-a", Identity("dev|alice", expires_at=time.time() + 3600))
    assert tokens.get("token-a") is None


def test_the_memo_is_bounded() -> None:
    tokens = VerifiedTokens(size=2)
    for n in range(5):
        tokens.put(f"token-{n}", Identity(f"dev|{n}"))
    assert tokens.get("token-4") is not None
    assert sum(tokens.get(f"token-{n}") is not None for n in range(5)) <= 2


def test_a_verified_identity_carries_the_token_expiry(tmp_path: Path) -> None:
    verifier = DevelopmentTokenVerifier(tmp_path)
    before = time.time()
    identity = verifier.verify(verifier.issue("alice@example.test", days=1))
    assert identity.expires_at is not None
    assert before + 86_000 < identity.expires_at < before + 86_500
