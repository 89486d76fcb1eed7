"""Who may call: RS256 tokens from the issuer's JWKS, checked for issuer, audience and expiry.

Every forged or broken token below is refused with 401; a valid one of another user sees
nothing of the first user's purchases.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from goat_app.auth import DevelopmentTokenVerifier, JwksTokenVerifier, NotAuthenticated
from goat_core.errors import Unavailable
from goat_core.model import Fixture
from tests.integration.http.conftest import User
from tests.integration.http.support import AUDIENCE, Issuer, LiveApi, free_port, subject

pytestmark = pytest.mark.integration


def _me(api: LiveApi, token: str) -> httpx.Response:
    return httpx.get(f"{api.url}/users/me", headers={"Authorization": f"Bearer {token}"})


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.json()["title"] == "Unauthorized"


def test_a_valid_token_is_accepted(api: LiveApi, issuer: Issuer) -> None:
    """The control: a token signed by the issuer's key, for our audience, is accepted."""
    assert _me(api, issuer.token(subject())).status_code == 200


def test_no_token_is_a_401(anonymous: httpx.Client) -> None:
    """A user endpoint without Authorization answers 401 with WWW-Authenticate."""
    _assert_refused(anonymous.get("/users/me"))


def test_a_non_bearer_scheme_is_a_401(anonymous: httpx.Client, issuer: Issuer) -> None:
    """``Authorization: Basic ...`` is not a bearer token."""
    _assert_refused(anonymous.get("/users/me", headers={"Authorization": "Basic dXNlcjpwYXNz"}))


def test_an_expired_token_is_a_401(api: LiveApi, issuer: Issuer) -> None:
    """A token past its ``exp`` is refused."""
    past = datetime.now(UTC) - timedelta(minutes=5)
    _assert_refused(_me(api, issuer.token(subject(), exp=past, iat=past - timedelta(hours=1))))


def test_a_wrong_issuer_is_a_401(api: LiveApi, issuer: Issuer) -> None:
    """A token whose ``iss`` is another issuer is refused even with a valid signature."""
    _assert_refused(_me(api, issuer.token(subject(), iss="https://evil.example/")))


def test_a_wrong_audience_is_a_401(api: LiveApi, issuer: Issuer) -> None:
    """A token for another API is refused."""
    _assert_refused(_me(api, issuer.token(subject(), aud="https://other.example/api")))


def test_an_unknown_key_id_is_a_401(api: LiveApi, issuer: Issuer) -> None:
    """A token signed by a key the JWKS does not list is refused."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(issuer.claims(subject()), stranger, algorithm="RS256", headers={"kid": "x"})
    _assert_refused(_me(api, token))


def test_a_known_key_id_with_another_key_is_a_401(api: LiveApi, issuer: Issuer) -> None:
    """A token claiming the issuer's kid but signed by another key fails the signature check."""
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    token = jwt.encode(
        issuer.claims(subject()), stranger, algorithm="RS256", headers={"kid": "goat-test-key"}
    )
    _assert_refused(_me(api, token))


def test_alg_none_is_a_401(api: LiveApi, issuer: Issuer) -> None:
    """An unsigned token (``alg: none``) is refused."""
    claims = issuer.claims(subject())
    claims = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    token = f"{_b64({'alg': 'none', 'typ': 'JWT', 'kid': 'goat-test-key'})}.{_b64(claims)}."
    _assert_refused(_me(api, token))


def test_hs256_signed_with_the_public_key_is_a_401(api: LiveApi, issuer: Issuer) -> None:
    """The algorithm-confusion attack: HS256 keyed with the issuer's public key is refused."""
    claims = issuer.claims(subject())
    claims = {k: int(v.timestamp()) if isinstance(v, datetime) else v for k, v in claims.items()}
    header = _b64({"alg": "HS256", "typ": "JWT", "kid": "goat-test-key"})
    body = _b64(claims)
    mac = hmac.new(issuer.public_pem, f"{header}.{body}".encode(), hashlib.sha256).digest()
    signature = base64.urlsafe_b64encode(mac).rstrip(b"=").decode()
    _assert_refused(_me(api, f"{header}.{body}.{signature}"))


def test_a_development_token_is_refused_in_production(api: LiveApi, tmp_path: Path) -> None:
    """With an issuer configured, tokens from ``goat token`` are not accepted."""
    token = DevelopmentTokenVerifier(tmp_path).issue("dev@example.com", admin=True)
    _assert_refused(_me(api, token))


def test_garbage_is_a_401(api: LiveApi) -> None:
    """A bearer value that is not a JWT at all is refused, not a 500."""
    _assert_refused(_me(api, "not-a-jwt"))


def test_another_user_gets_404_for_a_purchase_and_sees_only_their_own(
    user: User, new_user: Callable[..., User], seed: Callable[..., Fixture]
) -> None:
    """User B cannot see user A's purchase (404, no existence leak) and lists only B's own."""
    fixture = seed()
    user.top_up(1000)
    request_id = user.buy(fixture).json()["request"]["request_id"]
    other = new_user()
    other.top_up(1000)
    own = other.buy(fixture).json()["request"]["request_id"]
    missing = other.http.get(f"/requests/{request_id}")
    assert missing.status_code == 404
    assert missing.json() == other.http.get("/requests/no-such-id").json() | {
        "detail": missing.json()["detail"]
    }
    assert [r["request_id"] for r in other.http.get("/requests").json()["requests"]] == [own]
    assert [r["request_id"] for r in user.http.get("/requests").json()["requests"]] == [request_id]
    assert other.http.get("/users/wallet").json() == {"wallet": 0}


def test_a_rotated_key_is_picked_up_and_unknown_kids_do_not_flood_the_issuer() -> None:
    """A token signed with a newly published key is accepted; made-up kids refetch rarely."""
    own = Issuer()
    try:
        verifier = JwksTokenVerifier(own.url, AUDIENCE)
        assert verifier.verify(own.token("auth0|before")).user_id == "auth0|before"
        own.rotate()
        assert verifier.verify(own.token("auth0|after")).user_id == "auth0|after"
        fetches = own.fetches
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for n in range(20):
            forged = jwt.encode(
                own.claims("auth0|x"), stranger, algorithm="RS256", headers={"kid": f"made-up-{n}"}
            )
            with pytest.raises(NotAuthenticated):
                verifier.verify(forged)
        assert own.fetches - fetches <= 1
    finally:
        own.close()


def test_an_unreachable_issuer_is_unavailable_not_unauthenticated(issuer: Issuer) -> None:
    """When the JWKS cannot be fetched the caller is told to retry (503), not refused (401)."""
    verifier = JwksTokenVerifier(issuer.url, AUDIENCE, f"http://127.0.0.1:{free_port()}/jwks")
    with pytest.raises(Unavailable):
        verifier.verify(issuer.token(subject()))
