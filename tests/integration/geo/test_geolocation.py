"""Locating buyers: ``HttpGeolocator`` against a local ip-api.com-style stand-in, and the
live API locating the address a purchase came from (``X-Forwarded-For`` believed only from
a trusted proxy)."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from goat_adapters.geo import HttpGeolocator
from goat_adapters.local import SystemClock
from goat_adapters.memory import InMemoryJobQueue, InMemoryPaymentGateway, SequentialIds
from goat_adapters.sql import SqlDatabase, upgrade
from goat_app.auth import DevelopmentTokenVerifier
from goat_core.model import Location
from goat_core.services import Exchange
from goat_core.wire import TOPIC_INFO, render_fixtures
from tests.integration.http.support import LiveApi, new_fixture
from tests.servers.mqtt import free_port

SANTIAGO: dict[str, object] = {
    "status": "success",
    "country": "Chile",
    "regionName": "Santiago Metropolitan",
    "city": "Santiago",
    "lat": -33.45,
    "lon": -70.66,
}


class Stand:
    """The stand-in's switches by address: 8.8.8.8 answers, 9.9.9.9 fails (500), 1.1.1.1
    answers too late, 6.6.6.6 drips its answer a byte every 50 ms, 4.4.4.4 is unknown
    (``"status": "fail"``), 5.5.5.5 names a city with a lone surrogate; ``asked`` records
    paths."""

    def __init__(self) -> None:
        self.asked: list[str] = []


@pytest.fixture
def stand() -> Iterator[tuple[str, Stand]]:
    """The stand-in service on a free port; its URL template and its record."""
    record = Stand()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # base's name
            pass

        def do_GET(self) -> None:  # http.server's naming
            record.asked.append(self.path)
            ip = self.path.rsplit("/", 1)[-1]
            body: dict[str, object] = {"status": "fail", "message": "reserved range"}
            status = 200
            if ip == "8.8.8.8":
                body = SANTIAGO
            elif ip == "9.9.9.9":
                status, body = 500, {"error": "down"}
            elif ip == "1.1.1.1":
                time.sleep(1.0)
                body = SANTIAGO
            elif ip == "5.5.5.5":
                body = {**SANTIAGO, "city": "Santiago\ud800"}  # a lone surrogate, escaped
            data = json.dumps(SANTIAGO if ip == "6.6.6.6" else body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if ip != "6.6.6.6":
                self.wfile.write(data)
                return
            for byte in data:  # a byte every 50 ms: each read is quick, the answer is not
                try:
                    self.wfile.write(bytes([byte]))
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
                time.sleep(0.05)

    server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/json/{{ip}}", record
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_an_answer_is_a_location_and_is_cached(stand: tuple[str, Stand]) -> None:
    """The service's answer becomes a Location; asking again is served from the cache."""
    url, record = stand
    geolocator = HttpGeolocator(url)

    first, again = geolocator.locate("8.8.8.8"), geolocator.locate("8.8.8.8")

    assert first == Location(
        "8.8.8.8", "Santiago", "Santiago Metropolitan", "Chile", -33.45, -70.66
    )
    assert again == first
    assert record.asked == ["/json/8.8.8.8"]


def test_a_name_with_a_lone_surrogate_is_kept_as_utf8_text(stand: tuple[str, Stand]) -> None:
    """JSON can escape half a surrogate pair, which UTF-8 cannot encode (the purchase
    that carries the location could then not be stored): it becomes "?"."""
    url, _ = stand
    found = HttpGeolocator(url).locate("5.5.5.5")
    assert found is not None
    assert found.city == "Santiago?"
    assert found.city.encode("utf-8")


def test_a_failure_or_an_unknown_address_is_no_location(stand: tuple[str, Stand]) -> None:
    """A 500, a "fail" answer or an unreachable service: None, never an exception."""
    url, _ = stand
    down = HttpGeolocator(f"http://127.0.0.1:{free_port()}/json/{{ip}}")

    assert HttpGeolocator(url).locate("9.9.9.9") is None
    assert HttpGeolocator(url).locate("4.4.4.4") is None
    assert down.locate("8.8.8.8") is None


def test_a_slow_service_is_given_up_quickly(stand: tuple[str, Stand]) -> None:
    """An answer later than the timeout (300 ms) is no location, and the wait is short."""
    url, _ = stand
    started = time.monotonic()

    assert HttpGeolocator(url).locate("1.1.1.1") is None
    assert time.monotonic() - started < 0.8


def test_a_dripping_answer_is_given_up_at_the_deadline(stand: tuple[str, Stand]) -> None:
    """The timeout is a total deadline: an answer dripping a byte every 50 ms is no location."""
    url, _ = stand
    started = time.monotonic()

    assert HttpGeolocator(url).locate("6.6.6.6") is None
    assert time.monotonic() - started < 0.5


def test_a_failure_is_cached_briefly_an_answer_for_the_ttl(stand: tuple[str, Stand]) -> None:
    """A failed call is asked again once failure_ttl passed; an answer (even unknown) is kept."""
    url, record = stand
    geolocator = HttpGeolocator(url, failure_ttl=0.0)

    for _ in range(2):
        assert geolocator.locate("9.9.9.9") is None
        assert geolocator.locate("4.4.4.4") is None

    assert record.asked.count("/json/9.9.9.9") == 2
    assert record.asked.count("/json/4.4.4.4") == 1


def _live_api(tmp_path: Path, name: str, **settings: str) -> tuple[LiveApi, str, int]:
    """``goat api`` on its own SQLite file with one fixture; a token for a user of it."""
    url = f"sqlite:///{tmp_path / f'{name}.db'}"
    upgrade(url)
    fixture = new_fixture()
    database = SqlDatabase(url)
    core = Exchange(
        uow=database.unit_of_work,
        payments=InMemoryPaymentGateway(),
        jobs=InMemoryJobQueue(),
        clock=SystemClock(),
        ids=SequentialIds(),
    )
    core.receive(TOPIC_INFO, render_fixtures([fixture]))
    database.dispose()
    data = tmp_path / name
    environment = {"GOAT_DATABASE_URL": url, **settings}
    api = LiveApi(environment, data)
    token = DevelopmentTokenVerifier(data).issue("buyer@example.com")
    return api, token, fixture.id


def _buy(api: LiveApi, token: str, fixture_id: int, forwarded: str) -> dict[str, Any]:
    answer = httpx.post(
        f"{api.url}/requests",
        json={"fixture_id": fixture_id, "result": "home", "quantity": 1, "wallet": False},
        headers={"Authorization": f"Bearer {token}", "X-Forwarded-For": forwarded},
        timeout=10,
    )
    assert answer.status_code == 201, answer.text
    request = answer.json()["request"]
    assert isinstance(request, dict)
    return request


def test_a_trusted_proxy_s_forwarded_address_is_located(
    tmp_path: Path, stand: tuple[str, Stand]
) -> None:
    """Behind a trusted proxy the buyer's address is the forwarded one, and it is located."""
    url, _ = stand
    api, token, fixture_id = _live_api(
        tmp_path, "trusted", GOAT_GEOLOCATION_URL=url, GOAT_TRUSTED_PROXIES="127.0.0.1"
    )
    try:
        located = _buy(api, token, fixture_id, "10.1.1.1, 8.8.8.8")
        unknown = _buy(api, token, fixture_id, "9.9.9.9")  # the service fails: no location
        listed = httpx.get(
            f"{api.url}/requests/{located['request_id']}",
            headers={"Authorization": f"Bearer {token}"},
            timeout=10,
        ).json()
    finally:
        api.stop()

    assert located["location"] == {
        "ip": "8.8.8.8",
        **{k: SANTIAGO[k] for k in ("city", "country", "lat", "lon")},
        "region": "Santiago Metropolitan",
    }
    assert listed["location"] == located["location"]
    assert unknown["location"] is None
    assert unknown["status"] == "pending_payment"


def test_a_spoofed_forwarded_address_from_an_untrusted_peer_is_ignored(
    tmp_path: Path, stand: tuple[str, Stand]
) -> None:
    """Without a trusted proxy the peer (loopback here) counts: not located, never asked."""
    url, record = stand
    api, token, fixture_id = _live_api(tmp_path, "untrusted", GOAT_GEOLOCATION_URL=url)
    try:
        bought = _buy(api, token, fixture_id, "8.8.8.8")
    finally:
        api.stop()

    assert bought["location"] is None
    assert record.asked == []
