"""Building the providers of ``compose``'s system from ``Settings``: the payment gateway,
the geolocator and the token verifier.

- ``GOAT_WEBPAY_ENV=sandbox`` (the default): the embedded sandbox, its transactions in the
  database when there is one (every API process serves every payment), else in memory.
- ``integration``: Transbank's integration servers through transbank-sdk, with
  ``GOAT_WEBPAY_COMMERCE_CODE``/``GOAT_WEBPAY_API_KEY`` or Transbank's public test commerce.
- ``production``: Transbank's production servers; both settings are required (``Settings``
  refuses to start without them).
- ``GOAT_GEOLOCATION_URL``: buyers are located there (``HttpGeolocator``); unset: not at all.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from goat_adapters.geo import HttpGeolocator
from goat_adapters.webpay import SandboxPaymentGateway
from goat_app.auth import DevelopmentTokenVerifier, JwksTokenVerifier, TokenVerifier
from goat_app.settings import Settings, SettingsError
from goat_core.ports import Geolocator, PaymentGateway

if TYPE_CHECKING:
    from goat_adapters.sql import SqlDatabase

__all__ = ["build_geolocator", "build_payments", "build_verifier"]


def build_payments(
    settings: Settings, base_url: str, database: SqlDatabase | None
) -> PaymentGateway:
    """The payment gateway ``GOAT_WEBPAY_ENV`` asks for; the sandbox's page is at ``base_url``."""
    if settings.webpay_env == "sandbox":
        if database is None:
            return SandboxPaymentGateway(base_url)
        from goat_adapters.webpay.sandbox_sql import SqlSandboxStore

        return SandboxPaymentGateway(base_url, SqlSandboxStore(database.engine))
    try:
        from goat_adapters.webpay.transbank import TransbankPaymentGateway
    except ImportError:  # pragma: no cover  # the server extra brings it
        raise SettingsError(
            f"GOAT_WEBPAY_ENV={settings.webpay_env} needs transbank-sdk: pip install goat[webpay]"
        ) from None
    if settings.webpay_env == "integration":
        return TransbankPaymentGateway.integration(
            settings.webpay_commerce_code, settings.webpay_api_key
        )
    if settings.webpay_commerce_code is None or settings.webpay_api_key is None:
        raise SettingsError("GOAT_WEBPAY_COMMERCE_CODE and GOAT_WEBPAY_API_KEY are required")
    return TransbankPaymentGateway(
        settings.webpay_commerce_code, settings.webpay_api_key, production=True
    )


def build_geolocator(settings: Settings) -> Geolocator | None:
    """The geolocator at ``GOAT_GEOLOCATION_URL``, or None (buyers are not located)."""
    if settings.geolocation_url is None:
        return None
    return HttpGeolocator(settings.geolocation_url)


def build_verifier(settings: Settings) -> TokenVerifier:
    """The verifier the settings ask for: the issuer's JWKS, or development tokens."""
    if settings.auth_issuer is not None and settings.auth_audience is not None:
        return JwksTokenVerifier(
            settings.auth_issuer, settings.auth_audience, settings.auth_jwks_url
        )
    return DevelopmentTokenVerifier(settings.data_dir)
