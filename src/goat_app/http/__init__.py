"""The HTTP API (CONTRACT §4) on Litestar: ``create_app`` builds it over a ``System``."""

from goat_app.http.app import HANDLER_THREADS, create_app

__all__ = ["HANDLER_THREADS", "create_app"]
