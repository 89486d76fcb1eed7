"""``HttpGeolocator``: where an IP address is, from an ip-api.com-style JSON service.

``GOAT_GEOLOCATION_URL`` names the service: ``{ip}`` in it is replaced by the address
(``http://ip-api.com/json/{ip}``), else the address is appended as a path segment. The
answer is JSON with ``country``, ``regionName`` (or ``region``), ``city``, ``lat`` and
``lon``; ``"status": "fail"`` (ip-api's way of saying it does not know) is an unknown
location. Each call waits at most ``timeout`` seconds in all (a wall-clock deadline, not
urllib's per-socket-operation timeout: a service dripping its answer byte by byte is
given up on time). Answers, known or not, are kept in a small cache for ``ttl`` seconds,
so that a burst of purchases costs one call per buyer; a failure (unreachable, slow, an
HTTP error) only for ``failure_ttl`` seconds, so one bad minute does not blind an hour.
It never raises: any failure is an unknown location.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from goat_core.model import Location

__all__ = ["HttpGeolocator"]

log = logging.getLogger("goat.geo")

_MAX_BODY = 65536


class HttpGeolocator:
    """``ports.Geolocator`` over HTTP (urllib), with a total deadline and an LRU cache."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float = 0.3,
        ttl: float = 3600.0,
        failure_ttl: float = 60.0,
        cache_size: int = 4096,
        workers: int = 8,
    ) -> None:
        self.url = url
        self.timeout = timeout
        self.ttl = ttl
        self.failure_ttl = failure_ttl
        self.cache_size = cache_size
        self._cache: OrderedDict[str, tuple[float, Location | None]] = OrderedDict()
        self._lock = threading.Lock()
        # the calls run here so that the caller's wait ends at the deadline whatever the
        # socket does; a call given up on ends by itself soon after (its own deadline)
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="goat-geo")

    def locate(self, ip: str) -> Location | None:
        """The service's location of ``ip``; None if it fails, is slow or does not know."""
        now = time.monotonic()
        with self._lock:
            cached = self._cache.get(ip)
            if cached is not None and now < cached[0]:
                self._cache.move_to_end(ip)
                return cached[1]
        deadline = now + self.timeout
        try:
            found, answered = self._pool.submit(self._ask, ip, deadline).result(self.timeout)
        except FutureTimeout:
            log.info("could not locate %s: no answer within %.3f s", ip, self.timeout)
            found, answered = None, False
        with self._lock:
            self._cache[ip] = (now + (self.ttl if answered else self.failure_ttl), found)
            self._cache.move_to_end(ip)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return found

    def _ask(self, ip: str, deadline: float) -> tuple[Location | None, bool]:
        """The location and whether the service answered (a failure is not an answer)."""
        quoted = urllib.parse.quote(ip, safe="")
        if "{ip}" in self.url:
            target = self.url.replace("{ip}", quoted)
        else:
            target = f"{self.url.rstrip('/')}/{quoted}"
        try:
            with urllib.request.urlopen(  # noqa: S310  # GOAT_GEOLOCATION_URL: http(s) only
                target, timeout=self.timeout
            ) as answer:
                body = bytearray()
                while chunk := answer.read1(4096):
                    body += chunk
                    if time.monotonic() > deadline or len(body) > _MAX_BODY:
                        raise TimeoutError("the answer came too slowly or is too long")
            parsed = json.loads(body)
        except (OSError, ValueError) as error:  # unreachable, slow, an HTTP error, not JSON
            log.info("could not locate %s: %s", ip, error)
            return None, False
        return _location(ip, parsed), True


def _location(ip: str, body: Any) -> Location | None:
    if not isinstance(body, dict) or body.get("status", "success") != "success":
        return None

    def text(*names: str) -> str | None:
        for name in names:
            value = body.get(name)
            if isinstance(value, str) and value.strip():
                # JSON may escape a lone surrogate, which no UTF-8 text can hold: "?"
                return value.strip().encode("utf-8", "replace").decode("utf-8")
        return None

    def number(name: str) -> float | None:
        value = body.get(name)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return None
        return float(value)

    location = Location(
        ip=ip,
        city=text("city"),
        region=text("regionName", "region"),
        country=text("country"),
        lat=number("lat"),
        lon=number("lon"),
    )
    if location.country is None and location.city is None and location.lat is None:
        return None
    return location
