"""Webpay adapters (``ports.PaymentGateway``).

- ``sandbox``: the embedded sandbox of ``goat serve``, its transactions in memory or, with
  ``sandbox_sql.SqlSandboxStore``, in the database (any number of API processes).
- ``transbank``: Webpay Plus (REST) through transbank-sdk, for Transbank's integration
  and production environments. Import it from its module: it needs the ``webpay`` extra.
"""

from goat_adapters.webpay.sandbox import (
    MemorySandboxStore,
    SandboxDecision,
    SandboxPaymentGateway,
    SandboxStore,
    SandboxTransaction,
)

__all__ = [
    "MemorySandboxStore",
    "SandboxDecision",
    "SandboxPaymentGateway",
    "SandboxStore",
    "SandboxTransaction",
]
