"""Receipts and mail from the settings: the adapters ``compose.build_system`` puts in.

``goat serve`` (nothing set): receipts are files under ``$GOAT_DATA_DIR/receipts/`` that
goat serves with signed links, and emails ``.eml`` files under ``$GOAT_DATA_DIR/mail/``.
``GOAT_S3_BUCKET`` puts receipts on S3, ``GOAT_SMTP_URL`` sends mail. Each says where in
one start-up line.
"""

from __future__ import annotations

import logging

from goat_adapters.local import EmlFileMailer, FileReceiptStore
from goat_app.settings import Settings
from goat_core.ports import Mailer, ReceiptRenderer, ReceiptStore

__all__ = ["build_mailer", "build_receipt_store", "build_renderer"]

log = logging.getLogger("goat.compose")


def build_receipt_store(settings: Settings, public_url: str) -> ReceiptStore:
    """S3 when ``GOAT_S3_BUCKET`` is set, else files under the data dir that goat serves."""
    if settings.s3_bucket is not None:
        from goat_adapters.s3 import S3ReceiptStore  # only S3 installations need boto3

        where = settings.s3_endpoint_url or "AWS"
        log.info("receipts: s3://%s on %s (presigned links)", settings.s3_bucket, where)
        return S3ReceiptStore(settings.s3_bucket, endpoint_url=settings.s3_endpoint_url)
    directory = settings.data_dir / "receipts"
    log.info("receipts: files under %s", directory.resolve())
    return FileReceiptStore(directory, public_url)


def build_renderer() -> ReceiptRenderer | None:
    """The weasyprint renderer, or None (logged: receipts stay "being made") without it."""
    try:
        from goat_adapters.pdf import WeasyReceiptRenderer

        return WeasyReceiptRenderer()
    except (ImportError, OSError) as error:  # goat without [pdf], or pango missing
        log.warning("receipts are not rendered: weasyprint cannot load (%s)", error)
        return None


def build_mailer(settings: Settings) -> Mailer:
    """SMTP when ``GOAT_SMTP_URL`` is set, else ``.eml`` files under the data dir."""
    if settings.smtp_url is not None:
        from goat_adapters.mail import SmtpMailer

        mailer = SmtpMailer.from_url(settings.smtp_url, settings.mail_from)
        log.info("mail: %r from %s", mailer, settings.mail_from)
        return mailer
    directory = settings.data_dir / "mail"
    log.info("mail: written as .eml files under %s (not sent)", directory.resolve())
    return EmlFileMailer(directory, settings.mail_from)
