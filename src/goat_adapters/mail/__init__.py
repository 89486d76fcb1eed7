"""Email over SMTP: ``SmtpMailer``, a ``ports.Mailer`` (stdlib smtplib, from GOAT_SMTP_URL)."""

from goat_adapters.mail.smtp import SmtpMailer

__all__ = ["SmtpMailer"]
