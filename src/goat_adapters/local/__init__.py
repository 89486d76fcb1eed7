"""Adapters that need no server: the system clock and ids, files, mail files, in-process jobs."""

from goat_adapters.local.files import FileReceiptStore, installation_secret
from goat_adapters.local.jobs import InProcessJobQueue
from goat_adapters.local.mail import EmlFileMailer, mime_message
from goat_adapters.local.system import SystemClock, UuidIds

__all__ = [
    "EmlFileMailer",
    "FileReceiptStore",
    "InProcessJobQueue",
    "SystemClock",
    "UuidIds",
    "installation_secret",
    "mime_message",
]
