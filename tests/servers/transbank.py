"""A local Transbank for tests: an HTTPS server speaking Webpay Plus REST v1.2.

transbank-sdk always calls Transbank's own hosts (``webpay3gint.transbank.cl`` for
integration, ``webpay3g.transbank.cl`` for production): it has no base URL setting. So
this server is also the HTTP proxy the SDK's ``requests`` is pointed at (``HTTPS_PROXY``):
it answers ``CONNECT`` to those hosts itself, speaks TLS with a certificate that trustme
issued for them (``REQUESTS_CA_BUNDLE`` trusts its CA) and serves the documented API:

- ``POST   /rswebpaytransaction/api/webpay/v1.2/transactions`` → ``{token, url}``
- ``PUT    .../transactions/{token}`` → commit: the full answer, once; then 422
- ``GET    .../transactions/{token}`` → status (``INITIALIZED`` before the payer finished)
- ``POST   .../transactions/{token}/refunds`` → ``{"type": "REVERSED"}`` or 422

Errors are ``{"error_message"}`` with 401 (bad credentials), 404 and 422 as Transbank
answers. ``down`` refuses every connection (the proxy answers 502), ``delay`` holds every
answer that long after doing the work (an answer lost to a timeout).
"""

from __future__ import annotations

import http.server
import json
import secrets
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import attrs
import trustme

from tests.servers.mqtt import free_port

__all__ = ["BASE", "FakeTransbank", "Trade", "running_transbank"]

HOSTS = ("webpay3gint.transbank.cl", "webpay3g.transbank.cl")
BASE = "/rswebpaytransaction/api/webpay/v1.2/transactions"


@attrs.define
class Trade:
    """One transaction as Transbank keeps it."""

    token: str
    buy_order: str
    session_id: str
    amount: int
    return_url: str
    status: str = "INITIALIZED"
    paid: bool | None = None
    committed: bool = False


@attrs.define
class FakeTransbank:
    """The server's state and switches; ``proxy`` is the ``HTTPS_PROXY`` to use."""

    proxy: str
    ca_bundle: Path
    commerce_code: str
    api_key: str
    trades: dict[str, Trade] = attrs.Factory(dict)
    calls: list[tuple[str, str]] = attrs.Factory(list)
    down: bool = False
    delay: float = 0.0
    lock: threading.Lock = attrs.Factory(threading.Lock)

    def pay(self, token: str) -> None:
        """The payer paid on Webpay's page: the bank authorized."""
        with self.lock:
            self.trades[token].paid = True

    def refuse(self, token: str) -> None:
        """The payer's bank refused."""
        with self.lock:
            self.trades[token].paid = False

    def environment(self) -> dict[str, str]:
        """What makes transbank-sdk (requests) talk to this server."""
        return {
            "HTTPS_PROXY": self.proxy,
            "https_proxy": self.proxy,
            "REQUESTS_CA_BUNDLE": str(self.ca_bundle),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }

    # -- the API ---------------------------------------------------------------------

    def answer(
        self, method: str, path: str, headers: Any, body: bytes
    ) -> tuple[int, dict[str, Any]]:
        """Transbank's answer to one request: a status and a JSON body."""
        self.calls.append((method, path))
        if (headers.get("Tbk-Api-Key-Id"), headers.get("Tbk-Api-Key-Secret")) != (
            self.commerce_code,
            self.api_key,
        ):
            return 401, {"error_message": "Not Authorized"}
        if not path.startswith(BASE):
            return 404, {"error_message": "Not found"}
        rest = path[len(BASE) :].strip("/").split("/")
        with self.lock:
            if method == "POST" and rest == [""]:
                return self._create(json.loads(body))
            trade = self.trades.get(rest[0])
            if trade is None:
                return 422, {"error_message": "Invalid value for parameter: token"}
            if method == "PUT" and len(rest) == 1:
                return self._commit(trade)
            if method == "GET" and len(rest) == 1:
                return 200, self._shape(trade)
            if method == "POST" and rest[1:] == ["refunds"]:
                return self._refund(trade, int(json.loads(body)["amount"]))
        return 404, {"error_message": "Not found"}

    def _create(self, fields: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        token = secrets.token_hex(32)
        self.trades[token] = Trade(
            token,
            str(fields["buy_order"]),
            str(fields["session_id"]),
            int(fields["amount"]),
            str(fields["return_url"]),
        )
        return 200, {"token": token, "url": f"https://{HOSTS[0]}/webpayserver/initTransaction"}

    def _commit(self, trade: Trade) -> tuple[int, dict[str, Any]]:
        if trade.committed:
            return 422, {"error_message": "Invalid status '1' for transaction while authorizing"}
        if trade.paid is None:
            return 422, {"error_message": "Invalid status '0' for transaction while authorizing"}
        trade.committed = True
        trade.status = "AUTHORIZED" if trade.paid else "FAILED"
        return 200, self._shape(trade)

    def _refund(self, trade: Trade, amount: int) -> tuple[int, dict[str, Any]]:
        if trade.status != "AUTHORIZED" or amount > trade.amount:
            return 422, {"error_message": "Transaction can not be refunded"}
        trade.status = "REVERSED"
        return 200, {"type": "REVERSED"}

    @staticmethod
    def _shape(trade: Trade) -> dict[str, Any]:
        shape: dict[str, Any] = {
            "vci": "TSY",
            "amount": trade.amount,
            "status": trade.status,
            "buy_order": trade.buy_order,
            "session_id": trade.session_id,
            "card_detail": {"card_number": "6623"},
            "accounting_date": "1130",
            "transaction_date": "2026-11-30T04:10:00.000Z",
            "payment_type_code": "VN",
            "installments_number": 0,
        }
        if trade.status != "INITIALIZED":
            shape["authorization_code"] = "1213" if trade.paid else "000000"
            shape["response_code"] = 0 if trade.paid else -1
        return shape


def _handler(bank: FakeTransbank, tls: ssl.SSLContext) -> type[http.server.BaseHTTPRequestHandler]:
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # the base's name
            pass

        def do_CONNECT(self) -> None:  # http.server's naming
            host = self.path.split(":")[0]
            if bank.down or host not in HOSTS:
                self.send_response(502)
                self.send_header("Content-Length", "0")
                self.end_headers()
                self.close_connection = True
                return
            self.send_response(200, "Connection established")
            self.end_headers()
            self.wfile.flush()
            secured = tls.wrap_socket(self.connection, server_side=True)
            self.connection = secured
            self.rfile = secured.makefile("rb")
            self.wfile = secured.makefile("wb", buffering=0)  # type: ignore[assignment]  # a raw writer, as the base uses
            self.close_connection = False  # the tunnel's requests follow on this socket

        def serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            status, answer = bank.answer(self.command, self.path, self.headers, body)
            if bank.delay:
                time.sleep(bank.delay)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PUT = do_POST = serve  # noqa: N815  # http.server's naming

    return Handler


class _Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


@contextmanager
def running_transbank(directory: Path, commerce_code: str, api_key: str) -> Iterator[FakeTransbank]:
    """Start the server on a free port of 127.0.0.1 for these credentials; stop it after."""
    authority = trustme.CA()
    certificate = authority.issue_cert(*HOSTS)
    tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    certificate.configure_cert(tls)
    bundle = directory / "transbank-ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    port = free_port()
    bank = FakeTransbank(f"http://127.0.0.1:{port}", bundle, commerce_code, api_key)
    server = _Server(("127.0.0.1", port), _handler(bank, tls))
    thread = threading.Thread(target=server.serve_forever, name="fake-transbank", daemon=True)
    thread.start()
    try:
        yield bank
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
