"""Email as MIME messages, and ``EmlFileMailer``: the mailer of ``goat serve``.

``goat serve`` sends no mail: each email is written as one ``.eml`` file under
``$GOAT_DATA_DIR/mail/`` (any mail program opens it) and its path is logged.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from pathlib import Path

from goat_core.ports import Email

__all__ = ["EmlFileMailer", "mime_message"]

log = logging.getLogger("goat.mail")

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def mime_message(email: Email, sender: str) -> EmailMessage:
    """``email`` as a multipart/alternative message (text, then HTML) from ``sender``."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = email.to
    message["Subject"] = email.subject
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(email.text)
    message.add_alternative(email.html, subtype="html")
    return message


class EmlFileMailer:
    """The ``ports.Mailer`` that writes each email to ``<directory>/<time>-<to>.eml``."""

    def __init__(self, directory: Path, sender: str) -> None:
        self.directory = directory
        self.sender = sender

    def send(self, email: Email) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        target = self.directory / f"{stamp}-{_UNSAFE.sub('_', email.to)[:80]}.eml"
        fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=".mail-")
        with os.fdopen(fd, "wb") as file:
            file.write(mime_message(email, self.sender).as_bytes())
        os.replace(temporary, target)  # a reader never sees half an email
        log.info("mail to %s (%s) written to %s", email.to, email.subject, target)
