"""``SmtpMailer``: email over SMTP (smtplib), configured by one URL.

- ``smtp://user:pass@host:port`` (port 25 by default; 587 for submission): STARTTLS when
  the server offers it, plain otherwise (a local relay).
- ``smtps://user:pass@host:port`` (465 by default): TLS from the first byte.

User and password are percent-decoded from the URL; the server's certificate is checked
against the system's CAs. Every connection has a timeout. A server that cannot be
reached, or answers 4xx, is ``Unavailable`` (try later); one that refuses the message for
good (5xx) is ``InvalidInput`` naming ``email``.
"""

from __future__ import annotations

import smtplib
import ssl
from urllib.parse import unquote, urlsplit

from goat_adapters.local.mail import mime_message
from goat_core.errors import InvalidInput, Unavailable
from goat_core.ports import Email

__all__ = ["SmtpMailer"]


class SmtpMailer:
    """The ``ports.Mailer`` on an SMTP server; one connection per email."""

    def __init__(
        self,
        host: str,
        port: int,
        sender: str,
        *,
        implicit_tls: bool = False,
        user: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.sender = sender
        self.implicit_tls = implicit_tls
        self._user = user
        self._password = password
        self.timeout = timeout
        self._tls = tls_context or ssl.create_default_context()

    @classmethod
    def from_url(cls, url: str, sender: str, *, timeout: float = 10.0) -> SmtpMailer:
        """The mailer ``GOAT_SMTP_URL`` names (``smtp://`` or ``smtps://``)."""
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise InvalidInput("GOAT_SMTP_URL", "must be smtp://host[:port] or smtps://...")
        implicit = parts.scheme == "smtps"
        return cls(
            parts.hostname,
            parts.port or (465 if implicit else 25),
            sender,
            implicit_tls=implicit,
            user=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
            timeout=timeout,
        )

    def __repr__(self) -> str:  # never the password
        scheme = "smtps" if self.implicit_tls else "smtp"
        return f"SmtpMailer({scheme}://{self.host}:{self.port})"

    def send(self, email: Email) -> None:
        message = mime_message(email, self.sender)
        try:
            with self._connect() as server:
                if self._user is not None:
                    server.login(self._user, self._password or "")
                server.send_message(message)
        except smtplib.SMTPRecipientsRefused as error:
            codes = [code for code, _ in error.recipients.values()]
            if all(code >= 500 for code in codes):
                raise InvalidInput("email", f"the mail server refused {email.to}") from None
            raise Unavailable(f"the mail server deferred {email.to} ({codes})") from None
        except smtplib.SMTPResponseException as error:
            if error.smtp_code >= 500 and not isinstance(error, smtplib.SMTPAuthenticationError):
                raise InvalidInput(
                    "email", f"the mail server refused it ({error.smtp_code})"
                ) from None
            raise Unavailable(f"the mail server answered {error.smtp_code}") from None
        except (smtplib.SMTPException, OSError) as error:
            raise Unavailable(
                f"the mail server {self.host}:{self.port} cannot be reached"
                f" ({type(error).__name__})"
            ) from None

    def _connect(self) -> smtplib.SMTP:
        if self.implicit_tls:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls)
        server = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        try:
            server.ehlo()
            if server.has_extn("starttls"):
                server.starttls(context=self._tls)
                server.ehlo()
        except BaseException:
            server.close()
            raise
        return server
