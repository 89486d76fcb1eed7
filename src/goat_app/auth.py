"""Who is calling: bearer JWTs checked against the issuer's keys, or development tokens.

Production (``GOAT_AUTH_ISSUER`` set): RS256 tokens verified with the issuer's JWKS,
issuer and audience; nothing else is accepted. Development (no issuer): ``goat token``
signs HS256 tokens with a random secret generated on first use and kept in
``$GOAT_DATA_DIR/dev-auth-secret``, so only this installation accepts them.
Identity never comes from a body or a query field: only from a verified token.
"""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import attrs
import jwt

from goat_adapters.local.files import installation_secret
from goat_core.errors import GoatError, Unavailable
from goat_core.model import Viewer

__all__ = [
    "ADMIN_PERMISSION",
    "MAX_TOKEN_DAYS",
    "DevelopmentTokenVerifier",
    "Identity",
    "JwksTokenVerifier",
    "NotAuthenticated",
    "TokenRefused",
    "TokenVerifier",
    "VerifiedTokens",
    "development_subject",
    "identity_from_claims",
    "issue_development_token",
]

ADMIN_PERMISSION = "goat:admin"
DEV_ISSUER = "goat-development"
DEV_AUDIENCE = "goat"
DEV_SECRET_FILE = "dev-auth-secret"  # noqa: S105  # a file name, not a secret
MAX_TOKEN_DAYS = 3650
"""The longest a development token may last: ten years (datetimes end in year 9999)."""
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


class NotAuthenticated(GoatError):
    """No token, or a token this installation does not accept (HTTP 401)."""


@attrs.frozen
class Identity:
    """A verified caller: the token's subject and what it says about them."""

    user_id: str
    email: str | None = None
    name: str | None = None
    admin: bool = False
    expires_at: float | None = None  # the token's ``exp``, seconds since the epoch

    @property
    def viewer(self) -> Viewer:
        """Who asks, as the core sees it."""
        return Viewer(self.user_id, self.admin)


class TokenVerifier(Protocol):
    def verify(self, token: str) -> Identity:
        """The identity a valid token carries; raise ``NotAuthenticated`` otherwise."""


def identity_from_claims(claims: dict[str, Any]) -> Identity:
    """Read sub, email, name and the ``goat:admin`` permission from verified claims."""
    subject = claims.get("sub")
    if not isinstance(subject, str) or not subject:
        raise NotAuthenticated("the token has no subject")
    permissions = claims.get("permissions") or []
    email, name, expires = claims.get("email"), claims.get("name"), claims.get("exp")
    return Identity(
        user_id=subject,
        email=email if isinstance(email, str) else None,
        name=name if isinstance(name, str) else None,
        admin=isinstance(permissions, list) and ADMIN_PERMISSION in permissions,
        expires_at=float(expires) if isinstance(expires, int | float) else None,
    )


class VerifiedTokens:
    """The identities of tokens verified lately, so that a client's next requests with the
    same token skip the signature check (and the thread it needs: a key fetch may block).

    An entry lasts until its token expires and at most ``ttl`` seconds (a key the issuer
    withdraws stops being honoured within that time); at most ``size`` tokens are kept.
    """

    def __init__(self, ttl: float = 60, size: int = 10_000) -> None:
        self.ttl = ttl
        self.size = size
        self._kept: dict[str, tuple[float, Identity]] = {}
        self._lock = threading.Lock()

    def get(self, token: str) -> Identity | None:
        """The identity of ``token`` if it was verified lately and has not expired."""
        kept = self._kept.get(token)
        if kept is None or kept[0] <= time.time():
            return None
        return kept[1]

    def put(self, token: str, identity: Identity) -> None:
        """Remember a verified token's identity."""
        until = time.time() + self.ttl
        if identity.expires_at is not None:
            until = min(until, identity.expires_at)
        with self._lock:
            if len(self._kept) >= self.size:
                self._kept.clear()  # a flood of distinct tokens must not grow memory
            self._kept[token] = (until, identity)


class JwksTokenVerifier:
    """RS256 tokens from an OIDC issuer (Auth0, ...), checked against its JWKS."""

    def __init__(self, issuer: str, audience: str, jwks_url: str | None = None) -> None:
        self.issuer = issuer
        self.audience = audience
        self.jwks_url = jwks_url or f"{issuer.rstrip('/')}/.well-known/jwks.json"
        # the key set is cached for five minutes
        self._keys = jwt.PyJWKClient(self.jwks_url, lifespan=300, timeout=5)
        self._refreshed = float("-inf")
        self._lock = threading.Lock()

    def _key(self, kid: object) -> jwt.PyJWK:
        """The issuer's key ``kid``; an unknown kid refetches the set at most once a minute.

        Rotated keys are picked up, and a flood of made-up key ids cannot turn into a
        flood of requests to the issuer.
        """
        for key in self._keys.get_jwk_set().keys:
            if key.key_id == kid:
                return key
        with self._lock:
            now = time.monotonic()
            if now - self._refreshed < 60:
                raise NotAuthenticated("the token's key id is not one of the issuer's")
            self._refreshed = now
        for key in self._keys.get_jwk_set(refresh=True).keys:
            if key.key_id == kid:
                return key
        raise NotAuthenticated("the token's key id is not one of the issuer's")

    def verify(self, token: str) -> Identity:
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") != "RS256":
                raise NotAuthenticated("only RS256 tokens are accepted")
            key = self._key(header.get("kid"))
            claims = jwt.decode(
                token,
                key.key,
                algorithms=["RS256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWKClientConnectionError as error:
            raise Unavailable(f"the issuer's keys cannot be fetched: {error}") from None
        except jwt.PyJWTError as error:
            raise NotAuthenticated(f"invalid token: {error}") from None
        return identity_from_claims(claims)


def development_subject(email: str) -> str:
    """The user id of a development token issued for ``email``."""
    return f"dev|{email}"


class DevelopmentTokenVerifier:
    """HS256 tokens signed with this installation's own random secret.

    The secret is kept in ``$GOAT_DATA_DIR/dev-auth-secret`` (made on first use), or given
    (``secret=``: e.g. a process that must not touch the disk, as ``goat_app.testing``).
    """

    def __init__(self, data_dir: Path | None = None, *, secret: bytes | None = None) -> None:
        if data_dir is None and secret is None:
            raise ValueError("a development verifier needs a data directory or a secret")
        self.data_dir = data_dir
        self._secret = secret

    @property
    def secret(self) -> bytes:
        if self._secret is None:
            assert self.data_dir is not None  # checked by __init__
            self._secret = installation_secret(self.data_dir, DEV_SECRET_FILE)
        return self._secret

    def verify(self, token: str) -> Identity:
        try:
            claims = jwt.decode(
                token,
                self.secret,
                algorithms=["HS256"],
                audience=DEV_AUDIENCE,
                issuer=DEV_ISSUER,
                options={"require": ["exp", "sub", "iss", "aud"]},
            )
        except jwt.PyJWTError as error:
            raise NotAuthenticated(f"invalid token: {error}") from None
        return identity_from_claims(claims)

    def issue(self, email: str, *, admin: bool = False, days: int = 30) -> str:
        """A token for ``email`` (the subject is derived from it), valid for ``days``."""
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": DEV_ISSUER,
            "aud": DEV_AUDIENCE,
            "sub": development_subject(email),
            "email": email,
            "name": email.split("@")[0],
            "permissions": [ADMIN_PERMISSION] if admin else [],
            "iat": now,
            "exp": now + timedelta(days=days),
        }
        return jwt.encode(claims, self.secret, algorithm="HS256")


class TokenRefused(GoatError):
    """``goat token`` cannot make this token; the message says why, in one line."""


def issue_development_token(data_dir: Path, email: str, *, admin: bool, days: int) -> str:
    """A development token signed with the secret of the installation kept in ``data_dir``.

    The secret is the one ``goat serve`` made there; none is created here, since a token
    signed with a fresh secret would be refused by the server.
    """
    email = email.strip()
    if not _EMAIL.fullmatch(email):
        raise TokenRefused(f"{email!r} is not an email address (name@domain)")
    if not 1 <= days <= MAX_TOKEN_DAYS:
        raise TokenRefused(f"--days must be between 1 and {MAX_TOKEN_DAYS}, not {days}")
    path = (data_dir / DEV_SECRET_FILE).resolve()
    try:
        secret = path.read_bytes().strip()
    except FileNotFoundError:
        raise TokenRefused(
            f"no development secret at {path}: start goat serve first, or run goat token "
            "where the server runs (or with its GOAT_DATA_DIR)"
        ) from None
    except OSError as error:
        raise TokenRefused(f"cannot read the development secret at {path}: {error}") from None
    return DevelopmentTokenVerifier(secret=secret).issue(email, admin=admin, days=days)
