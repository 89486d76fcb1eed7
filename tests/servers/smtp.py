"""A real SMTP server for tests: aiosmtpd on a free port of 127.0.0.1, keeping what it got.

``tls=True`` offers STARTTLS with a self-signed certificate (``client_context()`` trusts
it); ``implicit_tls=True`` speaks TLS from the first byte (smtps). ``credentials``
requires ``AUTH`` with that user and password.
"""

from __future__ import annotations

import datetime as dt
import email
import email.policy
import ipaddress
import ssl
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import attrs

from tests.servers.mqtt import free_port, wait_listening

__all__ = ["Received", "SmtpServer", "self_signed"]


@attrs.frozen
class Received:
    """One message the server accepted, with whether it came over TLS and who logged in."""

    recipients: tuple[str, ...]
    message: EmailMessage
    tls: bool
    login: str | None


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, written to ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "smtp.crt", directory / "smtp.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _over_tls(smtp: Any, session: Any) -> bool:
    """Whether the session runs over TLS (STARTTLS, or implicit from the first byte)."""
    return session.ssl is not None or smtp.transport.get_extra_info("ssl_object") is not None


class SmtpServer:
    """aiosmtpd's controller on one fixed port; ``received`` is every message accepted."""

    def __init__(
        self,
        directory: Path,
        *,
        tls: bool = False,
        implicit_tls: bool = False,
        credentials: tuple[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.port = port or free_port()
        self.received: list[Received] = []
        self._cert: Path | None = None
        self._server_tls: ssl.SSLContext | None = None
        if tls or implicit_tls:
            self._cert, key = self_signed(directory)
            self._server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self._server_tls.load_cert_chain(self._cert, key)
        self._tls, self._implicit = tls, implicit_tls
        self._credentials = credentials
        self._controller: Any = None

    def client_context(self) -> ssl.SSLContext:
        """A client TLS context that trusts this server's certificate."""
        assert self._cert is not None
        return ssl.create_default_context(cafile=str(self._cert))

    def start(self) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        server = self

        class Handler:
            async def handle_DATA(  # noqa: N802  # the name aiosmtpd calls
                self, smtp: Any, session: Any, envelope: Any
            ) -> str:
                message = email.message_from_bytes(envelope.content, policy=email.policy.default)
                assert isinstance(message, EmailMessage)
                login = session.auth_data.decode() if session.auth_data else None
                server.received.append(
                    Received(tuple(envelope.rcpt_tos), message, _over_tls(smtp, session), login)
                )
                return "250 OK"

        def authenticate(_: Any, __: Any, ___: Any, mechanism: str, data: Any) -> AuthResult:
            if server._credentials is None or mechanism not in ("LOGIN", "PLAIN"):
                return AuthResult(success=False)
            user, password = data.login.decode(), data.password.decode()
            ok = (user, password) == server._credentials
            return AuthResult(success=ok, auth_data=data.login if ok else None)

        options: dict[str, Any] = {}
        if self._tls:
            options["tls_context"] = self._server_tls
        if self._implicit:
            options["ssl_context"] = self._server_tls
        if self._credentials is not None:
            options["authenticator"] = authenticate
            options["auth_required"] = True
        self._controller = Controller(
            Handler(), hostname="127.0.0.1", port=self.port, ready_timeout=10, **options
        )
        self._controller.start()
        wait_listening("127.0.0.1", self.port)

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
