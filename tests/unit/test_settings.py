"""Settings come from the environment; a bad one is one error line naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from goat_app.settings import Settings, SettingsError


def test_an_empty_environment_gives_the_embedded_defaults() -> None:
    """With no GOAT_* variable, goat runs embedded: SQLite in ./.goat, dev auth, group 15."""
    settings = Settings.from_env({})

    assert settings.database == f"sqlite:///{(Path('.goat') / 'goat.db').resolve()}"
    assert settings.mqtt_url is None
    assert settings.development_auth
    assert (settings.rules.group_id, settings.rules.bond_price) == ("15", 1000)
    assert settings.rules.bonds_per_fixture == 40


def test_values_are_read_from_the_environment() -> None:
    """Each GOAT_* variable sets its setting."""
    settings = Settings.from_env(
        {
            "GOAT_DATABASE_URL": "postgresql://goat@db/goat",
            "GOAT_MQTT_URL": "mqtt://user:pass@broker:1883",
            "GOAT_GROUP_ID": "7",
            "GOAT_BONDS_PER_FIXTURE": "10",
            "GOAT_AUTH_ISSUER": "https://tenant.auth0.com/",
            "GOAT_AUTH_AUDIENCE": "goat-api",
            "GOAT_CORS_ORIGINS": "http://a.example, http://b.example",
        }
    )

    assert settings.database == "postgresql://goat@db/goat"
    assert settings.mqtt_url == "mqtt://user:pass@broker:1883"
    assert (settings.rules.group_id, settings.rules.bonds_per_fixture) == ("7", 10)
    assert not settings.development_auth
    assert settings.cors_origins == ("http://a.example", "http://b.example")


@pytest.mark.parametrize(
    ("environment", "named"),
    [
        ({"GOAT_DATABASE_URL": "mysql://db/goat"}, "GOAT_DATABASE_URL"),
        ({"GOAT_MQTT_URL": "broker:1883"}, "GOAT_MQTT_URL"),
        ({"GOAT_MQTT_URL": "mqtt://broker:port"}, "GOAT_MQTT_URL"),
        ({"GOAT_BOND_PRICE": "1.5"}, "GOAT_BOND_PRICE"),
        ({"GOAT_BONDS_PER_FIXTURE": "0"}, "GOAT_BONDS_PER_FIXTURE"),
        ({"GOAT_WEBPAY_ENV": "live"}, "GOAT_WEBPAY_ENV"),
        ({"GOAT_BOND_PRICE": "²"}, "GOAT_BOND_PRICE"),
        ({"GOAT_WEBPAY_ENV": "production"}, "GOAT_WEBPAY_COMMERCE_CODE"),
        (
            {"GOAT_WEBPAY_ENV": "production", "GOAT_WEBPAY_COMMERCE_CODE": "597012345678"},
            "GOAT_WEBPAY_API_KEY",
        ),
        ({"GOAT_TRUSTED_PROXIES": "10.0.0.1, proxy"}, "GOAT_TRUSTED_PROXIES"),
        ({"GOAT_GEOLOCATION_URL": "ip-api.com/json"}, "GOAT_GEOLOCATION_URL"),
        ({"GOAT_AUTH_ISSUER": "https://tenant.auth0.com/"}, "GOAT_AUTH_AUDIENCE"),
        ({"GOAT_AUTH_AUDIENCE": "goat-api"}, "GOAT_AUTH_ISSUER"),
        ({"GOAT_REDIS_URL": "http://127.0.0.1:6379/0"}, "GOAT_REDIS_URL"),
        ({"GOAT_JOBS_URL": "jobs:8001"}, "GOAT_JOBS_URL"),
        ({"GOAT_SMTP_URL": "mail:25"}, "GOAT_SMTP_URL"),
        ({"GOAT_SMTP_URL": "smtp://:25"}, "GOAT_SMTP_URL"),
        ({"GOAT_S3_ENDPOINT_URL": "http://minio:9000"}, "GOAT_S3_BUCKET"),
        ({"GOAT_MAIL_FROM": "goat"}, "GOAT_MAIL_FROM"),
        (
            {
                "GOAT_WEBPAY_ENV": "production",
                "GOAT_WEBPAY_COMMERCE_CODE": "597012345678",
                "GOAT_WEBPAY_API_KEY": "secret",
            },
            "GOAT_PUBLIC_URL or GOAT_FRONTEND_RETURN_URL",
        ),
        ({"GOAT_PUBLIC_URL": "http:goat.example"}, "GOAT_PUBLIC_URL"),
        ({"GOAT_FRONTEND_RETURN_URL": "https:/paid"}, "GOAT_FRONTEND_RETURN_URL"),
        ({"GOAT_GEOLOCATION_URL": "http:ip-api.com/json"}, "GOAT_GEOLOCATION_URL"),
    ],
)
def test_a_malformed_setting_is_one_line_naming_it(environment: dict[str, str], named: str) -> None:
    """A missing or malformed setting raises SettingsError: one line, naming the variable."""
    with pytest.raises(SettingsError) as raised:
        Settings.from_env(environment)

    message = str(raised.value)
    assert named in message
    assert "\n" not in message


def test_secrets_are_not_shown_in_the_settings_repr() -> None:
    """The Webpay API key stays out of logs."""
    settings = Settings.from_env({"GOAT_WEBPAY_API_KEY": "s3cr3t-key"})

    assert "s3cr3t" not in repr(settings)


def test_redis_and_the_jobs_service_are_accepted() -> None:
    """GOAT_REDIS_URL and GOAT_JOBS_URL swap the in-process jobs for rq and the jobs service."""
    settings = Settings.from_env(
        {"GOAT_REDIS_URL": "redis://127.0.0.1:6379/0", "GOAT_JOBS_URL": "http://jobs:8001"}
    )

    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert settings.jobs_url == "http://jobs:8001"


def test_receipts_and_mail_settings_are_accepted() -> None:
    """S3, SMTP, the sender and the group name are read; the SMTP password stays out of logs."""
    settings = Settings.from_env(
        {
            "GOAT_S3_BUCKET": "goat-receipts",
            "GOAT_S3_ENDPOINT_URL": "http://minio:9000",
            "GOAT_SMTP_URL": "smtps://goat:pa55word@mail.example.com:465",
            "GOAT_MAIL_FROM": "receipts@goat.example",
            "GOAT_GROUP_NAME": "Grupo 15",
        }
    )

    assert (settings.s3_bucket, settings.s3_endpoint_url) == ("goat-receipts", "http://minio:9000")
    assert settings.smtp_url == "smtps://goat:pa55word@mail.example.com:465"
    assert (settings.mail_from, settings.group_name) == ("receipts@goat.example", "Grupo 15")
    assert "pa55word" not in repr(settings)


def test_production_with_a_public_address_starts() -> None:
    """GOAT_WEBPAY_ENV=production with its credentials and a public URL is accepted."""
    production = {
        "GOAT_WEBPAY_ENV": "production",
        "GOAT_WEBPAY_COMMERCE_CODE": "597012345678",
        "GOAT_WEBPAY_API_KEY": "secret",
    }

    public = Settings.from_env({**production, "GOAT_PUBLIC_URL": "https://api.example"})
    frontend = Settings.from_env({**production, "GOAT_FRONTEND_RETURN_URL": "https://s.example/"})

    assert public.public_url == "https://api.example"
    assert frontend.frontend_return_url == "https://s.example/"


def test_file_and_socket_urls_may_name_only_a_path() -> None:
    """SQLite, PostgreSQL socket and Redis socket URLs need no host."""
    settings = Settings.from_env(
        {
            "GOAT_DATABASE_URL": "postgresql:///goat?host=/run/postgresql",
            "GOAT_REDIS_URL": "unix:///run/redis.sock",
        }
    )

    assert settings.database_url == "postgresql:///goat?host=/run/postgresql"
    assert settings.redis_url == "unix:///run/redis.sock"
