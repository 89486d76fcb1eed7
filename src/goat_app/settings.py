"""Settings from the environment (12-factor), read once at start and validated.

Every setting is optional: an unset one keeps the embedded default of ``goat serve``.
A malformed one raises ``SettingsError`` whose message is one line naming the variable.
No secret has a default.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

import attrs

from goat_core.model import Rules

__all__ = ["Settings", "SettingsError", "WebpayEnv"]

WebpayEnv = Literal["sandbox", "integration", "production"]


_PATH_SCHEMES = ("sqlite", "unix", "postgresql", "postgresql+psycopg")
"""URL schemes that may name a file or socket path instead of a host."""


class SettingsError(Exception):
    """A setting is missing or malformed; the message names it."""


@attrs.frozen
class Settings:
    data_dir: Path = Path(".goat")
    database_url: str | None = None
    mqtt_url: str | None = None
    mqtt_client_id: str | None = None
    mqtt_share_group: str | None = None
    """Listeners subscribe as ``$share/<group>/<topic>`` and split the messages (off: None)."""
    group_id: str = "15"
    bond_price: int = 1000
    bonds_per_fixture: int = 40
    redis_url: str | None = None
    jobs_url: str | None = None
    webpay_env: WebpayEnv = "sandbox"
    webpay_commerce_code: str | None = None
    webpay_api_key: str | None = attrs.field(default=None, repr=False)
    geolocation_url: str | None = None
    """An ip-api.com-style JSON service locating buyers' IPs (``{ip}`` or appended; unset: none)."""
    trusted_proxies: tuple[str, ...] = ()
    """Networks whose ``X-Forwarded-For`` is believed (``GOAT_TRUSTED_PROXIES``, commas)."""
    public_url: str | None = None
    frontend_return_url: str | None = None
    s3_bucket: str | None = None
    s3_endpoint_url: str | None = None
    smtp_url: str | None = attrs.field(default=None, repr=False)
    mail_from: str = "goat@localhost"
    group_name: str = "goat"
    """Who signs receipts and emails (``GOAT_GROUP_NAME``)."""
    auth_issuer: str | None = None
    auth_audience: str | None = None
    auth_jwks_url: str | None = None
    cors_origins: tuple[str, ...] = ()
    lock_timeout_ms: int = 2000
    fixtures_cache_ms: int = 1000
    """How long a page of GET /fixtures may be served from memory (0: never)."""
    listener_port: int | None = None
    """Where ``goat listener`` answers ``/health``, ``/ready`` and ``/metrics`` (unset: none)."""
    worker_port: int | None = None
    """Where ``goat worker`` answers ``/health`` and ``/metrics`` (unset: none)."""
    log_format: Literal["text", "json"] = "text"
    """``json``: one JSON object per log line (``goat_app.logs``)."""

    @property
    def rules(self) -> Rules:
        return Rules(
            group_id=self.group_id,
            bond_price=self.bond_price,
            bonds_per_fixture=self.bonds_per_fixture,
        )

    @property
    def database(self) -> str:
        """The database URL: the setting, or the embedded SQLite file under the data dir."""
        return self.database_url or f"sqlite:///{(self.data_dir / 'goat.db').resolve()}"

    @property
    def development_auth(self) -> bool:
        """No issuer configured: tokens from ``goat token`` are accepted, and only those."""
        return self.auth_issuer is None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ

        def text(name: str) -> str | None:
            value = env.get(f"GOAT_{name}", "").strip()
            return value or None

        def url(name: str, schemes: tuple[str, ...]) -> str | None:
            value = text(name)
            if value is None:
                return None
            parts = urlsplit(value)
            # a file or socket URL may name only a path; any other must name a host
            where = parts.netloc or (parts.path if parts.scheme in _PATH_SCHEMES else "")
            if parts.scheme not in schemes or not where:
                allowed = " or ".join(f"{scheme}://" for scheme in schemes)
                raise SettingsError(f"GOAT_{name} must be a URL starting with {allowed}")
            try:
                parts.port  # noqa: B018  # parsing the port is the check: it raises if bad
            except ValueError:
                raise SettingsError(f"GOAT_{name} has a port that is not a number") from None
            return value

        def number(name: str, default: int, minimum: int = 1) -> int:
            value = text(name)
            if value is None:
                return default
            if not (value.isascii() and value.isdigit()) or int(value) < minimum:
                raise SettingsError(
                    f"GOAT_{name} must be a whole number >= {minimum}, got {value!r}"
                )
            return int(value)

        webpay_env = text("WEBPAY_ENV") or "sandbox"
        if webpay_env not in ("sandbox", "integration", "production"):
            raise SettingsError(
                f"GOAT_WEBPAY_ENV must be sandbox, integration or production, got {webpay_env!r}"
            )
        commerce_code, api_key = text("WEBPAY_COMMERCE_CODE"), text("WEBPAY_API_KEY")
        if webpay_env == "production":
            # never fall back on Transbank's public test commerce in production
            for name, value in (("COMMERCE_CODE", commerce_code), ("API_KEY", api_key)):
                if value is None:
                    raise SettingsError(
                        f"GOAT_WEBPAY_{name} is required when GOAT_WEBPAY_ENV=production"
                    )
            if not (text("PUBLIC_URL") or text("FRONTEND_RETURN_URL")):
                # else Webpay sends payers back to http://127.0.0.1:8000, which they can't reach
                raise SettingsError(
                    "GOAT_PUBLIC_URL or GOAT_FRONTEND_RETURN_URL is required when "
                    "GOAT_WEBPAY_ENV=production (where Webpay sends payers back)"
                )
        if (commerce_code is None) != (api_key is None) and webpay_env == "integration":
            raise SettingsError("GOAT_WEBPAY_COMMERCE_CODE and GOAT_WEBPAY_API_KEY go together")
        s3_bucket, s3_endpoint = text("S3_BUCKET"), url("S3_ENDPOINT_URL", ("http", "https"))
        if s3_endpoint and not s3_bucket:
            # an endpoint alone would silently keep receipts on local files
            raise SettingsError("GOAT_S3_BUCKET is required when GOAT_S3_ENDPOINT_URL is set")
        mail_from = text("MAIL_FROM") or "goat@localhost"
        if "@" not in mail_from or any(c in mail_from for c in "\r\n"):
            raise SettingsError(f"GOAT_MAIL_FROM must be an email address, got {mail_from!r}")
        audience = text("AUTH_AUDIENCE")
        issuer = url("AUTH_ISSUER", ("https", "http"))
        if issuer and not audience:
            raise SettingsError("GOAT_AUTH_AUDIENCE is required when GOAT_AUTH_ISSUER is set")
        if not issuer and (audience or text("AUTH_JWKS_URL")):
            # a typo in the issuer's name must not leave production on development tokens
            raise SettingsError("GOAT_AUTH_ISSUER is required when GOAT_AUTH_AUDIENCE is set")
        database_url = url("DATABASE_URL", ("postgresql", "postgresql+psycopg", "sqlite"))
        share_group = text("MQTT_SHARE_GROUP")
        if share_group is not None and any(c in share_group for c in "/+#$"):
            raise SettingsError("GOAT_MQTT_SHARE_GROUP must be a name without / + # or $")
        log_format = text("LOG_FORMAT") or "text"
        if log_format not in ("text", "json"):
            raise SettingsError(f"GOAT_LOG_FORMAT must be text or json, got {log_format!r}")
        return cls(
            data_dir=Path(text("DATA_DIR") or ".goat"),
            database_url=database_url,
            mqtt_url=url("MQTT_URL", ("mqtt", "tcp")),
            mqtt_client_id=text("MQTT_CLIENT_ID"),
            mqtt_share_group=share_group,
            group_id=text("GROUP_ID") or "15",
            bond_price=number("BOND_PRICE", 1000),
            bonds_per_fixture=number("BONDS_PER_FIXTURE", 40),
            redis_url=url("REDIS_URL", ("redis", "rediss", "unix")),
            jobs_url=url("JOBS_URL", ("http", "https")),
            webpay_env=webpay_env,  # type: ignore[arg-type]  # checked against the Literal above
            webpay_commerce_code=commerce_code,
            webpay_api_key=api_key,
            geolocation_url=url("GEOLOCATION_URL", ("http", "https")),
            trusted_proxies=_networks(text("TRUSTED_PROXIES")),
            public_url=url("PUBLIC_URL", ("http", "https")),
            frontend_return_url=url("FRONTEND_RETURN_URL", ("http", "https")),
            s3_bucket=s3_bucket,
            s3_endpoint_url=s3_endpoint,
            smtp_url=_smtp_url(url("SMTP_URL", ("smtp", "smtps"))),
            mail_from=mail_from,
            group_name=text("GROUP_NAME") or "goat",
            auth_issuer=issuer,
            auth_audience=audience,
            auth_jwks_url=url("AUTH_JWKS_URL", ("https", "http")),
            cors_origins=tuple(
                o.strip() for o in (text("CORS_ORIGINS") or "").split(",") if o.strip()
            ),
            lock_timeout_ms=number("LOCK_TIMEOUT_MS", 2000),
            fixtures_cache_ms=number("FIXTURES_CACHE_MS", 1000, minimum=0),
            listener_port=number("LISTENER_PORT", 0, minimum=0) or None,
            worker_port=number("WORKER_PORT", 0, minimum=0) or None,
            log_format=log_format,  # type: ignore[arg-type]  # checked against the Literal above
        )


def _smtp_url(value: str | None) -> str | None:
    """``GOAT_SMTP_URL`` must name a host (``smtp://user:pass@host:port``)."""
    if value is not None and not urlsplit(value).hostname:
        raise SettingsError("GOAT_SMTP_URL must name a host: smtp(s)://[user:pass@]host[:port]")
    return value


def _networks(value: str | None) -> tuple[str, ...]:
    """``GOAT_TRUSTED_PROXIES``: addresses or networks (``10.0.0.0/8``), comma separated."""
    found = []
    for item in (value or "").split(","):
        if item.strip():
            try:
                found.append(str(ipaddress.ip_network(item.strip(), strict=False)))
            except ValueError:
                raise SettingsError(
                    f"GOAT_TRUSTED_PROXIES must be IP addresses or networks, got {item.strip()!r}"
                ) from None
    return tuple(found)
