"""Where a purchase was made from (course RF04): located before the purchase, never in its way."""

from __future__ import annotations

from goat_adapters.memory import InMemoryGeolocator
from goat_core.model import Location
from goat_core.services import BuyBonds, Exchange
from tests.unit.support import USER, World

SANTIAGO = Location("8.8.8.8", "Santiago", "Santiago Metropolitan", "Chile", -33.45, -70.66)


class Broken:
    """A geolocator that breaks its promise not to raise."""

    def locate(self, ip: str) -> Location | None:
        raise RuntimeError("boom")


def _with(world: World, geolocator: object) -> Exchange:
    return world.exchange_with(geolocator=geolocator)


def _buy(exchange: Exchange, ip: str | None) -> Location | None:
    command = BuyBonds(USER, 1, "home", 1, wallet=False, client_ip=ip)
    return exchange.buy_bonds(command).purchase.location


def test_a_public_address_is_located_and_kept(world: World) -> None:
    """The geolocator's answer is stored with the purchase."""
    geolocator = InMemoryGeolocator({"8.8.8.8": SANTIAGO})
    exchange = _with(world, geolocator)

    bought = exchange.buy_bonds(BuyBonds(USER, 1, "home", 1, wallet=False, client_ip="8.8.8.8"))

    assert bought.purchase.location == SANTIAGO
    assert world.purchase(bought.purchase.request_id).location == SANTIAGO


def test_private_loopback_and_malformed_addresses_are_not_asked(world: World) -> None:
    """10.x, 192.168.x, 127.0.0.1, ::1, a non-address or none: unknown, the service not asked."""
    geolocator = InMemoryGeolocator({"8.8.8.8": SANTIAGO})
    exchange = _with(world, geolocator)

    found = [
        _buy(exchange, ip) for ip in ("10.0.0.7", "192.168.1.5", "127.0.0.1", "::1", "x", None)
    ]

    assert found == [None] * 6
    assert geolocator.asked == []


def test_a_failing_geolocator_leaves_the_location_unknown(world: World) -> None:
    """A geolocator that raises does not stop the purchase: it has no location."""
    assert _buy(_with(world, Broken()), "8.8.8.8") is None
    assert world.available(1) == 39


def test_texts_from_outside_are_cut(world: World) -> None:
    """A city name longer than 40 characters is cut, so the stored JSON stays small."""
    assert Location("8.8.8.8", city="x" * 100).city == "x" * 40
