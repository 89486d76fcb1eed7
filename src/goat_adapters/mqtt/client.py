"""What every paho client of goat shares: the broker's address and how a client is made."""

from __future__ import annotations

from urllib.parse import unquote, urlsplit

import attrs
import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from goat_core.errors import InvalidInput

__all__ = ["BrokerAddress", "connect_in_background", "failed", "new_client"]


@attrs.frozen
class BrokerAddress:
    """Where the broker is, from ``GOAT_MQTT_URL`` (``mqtt://user:pass@host:port``)."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = attrs.field(default=None, repr=False)

    @classmethod
    def from_url(cls, url: str) -> BrokerAddress:
        """Parse ``mqtt://`` or ``tcp://`` URLs; the port defaults to 1883."""
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "tcp") or not parts.hostname:
            raise InvalidInput("mqtt_url", "must look like mqtt://user:pass@host:port")
        try:
            port = parts.port or 1883
        except ValueError:
            raise InvalidInput("mqtt_url", "the port must be a number") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )

    @property
    def url(self) -> str:
        """The address as a URL, without the password."""
        user = f"{self.username}@" if self.username else ""
        return f"mqtt://{user}{self.host}:{self.port}"


def new_client(
    address: BrokerAddress, client_id: str, clean_session: bool, *, manual_ack: bool = False
) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        clean_session=clean_session,
        protocol=mqtt.MQTTv311,
        manual_ack=manual_ack,
    )
    if address.username:
        client.username_pw_set(address.username, address.password)
    client.reconnect_delay_set(min_delay=1, max_delay=10)
    return client


def connect_in_background(client: mqtt.Client, address: BrokerAddress) -> None:
    """Connect, and reconnect whenever the connection drops, in paho's network thread."""
    client.connect_async(address.host, address.port, keepalive=30)
    client.loop_start()


def failed(reason_code: ReasonCode | int) -> bool:
    if isinstance(reason_code, ReasonCode):
        return bool(reason_code.is_failure)
    return reason_code != 0
