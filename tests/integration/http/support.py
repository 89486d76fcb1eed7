"""Helpers for the live-server HTTP tests: a goat API subprocess, RS256 tokens, a JWKS server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from goat_core.model import Fixture, League, Odds, Team

AUDIENCE = "https://goat.test/api"
KEY_ID = "goat-test-key"


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Issuer:
    """A stand-in OIDC issuer: an RSA key, its JWKS served on 127.0.0.1, and token minting."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = KEY_ID
        self.jwks: dict[str, list[dict[str, Any]]] = {"keys": []}
        self._publish(self.key, KEY_ID)
        self.public_pem = self.key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.fetches = 0
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path != "/.well-known/jwks.json":
                    self.send_error(404)
                    return
                issuer.fetches += 1
                jwks = json.dumps(issuer.jwks).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(jwks)))
                self.end_headers()
                self.wfile.write(jwks)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def _publish(self, key: rsa.RSAPrivateKey, kid: str) -> None:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        self.jwks["keys"].append({**public, "kid": kid, "use": "sig", "alg": "RS256"})

    def rotate(self) -> None:
        """Sign with a new key from now on, published beside the old one."""
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = f"{KEY_ID}-{len(self.jwks['keys']) + 1}"
        self._publish(self.key, self.kid)

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def claims(self, subject: str, *, admin: bool = False, **overrides: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        claims: dict[str, Any] = {
            "iss": self.url,
            "aud": AUDIENCE,
            "sub": subject,
            "email": f"{subject.split('|')[-1]}@example.com",
            "name": f"User {subject.split('|')[-1]}",
            "permissions": ["goat:admin"] if admin else [],
            "iat": now,
            "exp": now + timedelta(hours=1),
        }
        claims.update(overrides)
        return claims

    def token(self, subject: str, *, admin: bool = False, **overrides: Any) -> str:
        """An RS256 token the API accepts (unless ``overrides`` break it)."""
        return jwt.encode(
            self.claims(subject, admin=admin, **overrides),
            self.key,
            algorithm="RS256",
            headers={"kid": self.kid},
        )


class LiveApi:
    """``goat api`` in a subprocess on a free port of 127.0.0.1, stopped by its pid."""

    def __init__(self, environment: Mapping[str, str], data_dir: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
        env.update(environment)
        env.update({"GOAT_DATA_DIR": str(data_dir), "GOAT_PUBLIC_URL": self.url})
        self.log_path = data_dir / "api.log"
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "goat_app.cli", "api", "--port", str(self.port)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_until_up()

    def _wait_until_up(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"goat api exited: {self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"goat api did not start: {self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def new_fixture(
    *,
    kickoff: datetime | None = None,
    status: str = "NS",
    home: str | None = None,
    away: str | None = None,
) -> Fixture:
    """A fixture with a unique id and unique team names (so filters find only it)."""
    number = uuid.uuid4().int % 10**9 + 10**9
    tag = uuid.uuid4().hex[:8]
    return Fixture(
        id=number,
        kickoff=kickoff or datetime.now(UTC) + timedelta(days=3),
        league=League(id=39, name="Premier League", round="Regular Season - 12"),
        home=Team(id=1, name=home or f"Home {tag}"),
        away=Team(id=2, name=away or f"Away {tag}"),
        status=status,
        odds=Odds(home=Decimal("1.85"), draw=Decimal("3.40"), away=Decimal("4.20")),
    )


def subject() -> str:
    """A user id nobody else in the session uses."""
    return f"auth0|{uuid.uuid4().hex[:12]}"
