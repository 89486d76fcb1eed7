"""Geolocation adapters (``ports.Geolocator``): ``HttpGeolocator`` over an ip-api.com-style
JSON service, with the standard library alone."""

from goat_adapters.geo.http import HttpGeolocator

__all__ = ["HttpGeolocator"]
