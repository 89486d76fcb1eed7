"""The Litestar app factory: ``create_app`` builds the API (CONTRACT §4) over a ``System``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from litestar import Litestar
from litestar.config.cors import CORSConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin, SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme
from litestar.types import ControllerRouterHandler

from goat_app.compose import System, build_system
from goat_app.http.cache import TtlCache
from goat_app.http.common import provide_exchange, provide_identity, provide_system
from goat_app.http.controllers import (
    AdminController,
    FixturesController,
    JobsController,
    OperationsController,
    PurchasesController,
    ReceiptFilesController,
    RecommendationsController,
    SandboxController,
    UsersController,
    WebpayController,
)
from goat_app.http.errors import EXCEPTION_HANDLERS
from goat_app.http.middleware import blank_query_values_are_absent
from goat_app.http.schemas import MAX_BODY_BYTES, FixturePageOut
from goat_app.settings import Settings

__all__ = ["HANDLER_THREADS", "create_app"]

HANDLER_THREADS = 32
"""Worker threads for the handlers that block (every one that touches the database).

Litestar runs them on the event loop's default executor, which Python sizes by the CPU
count (6 on two cores): six purchases in flight per process at most, and so lots of at
most six. Purchases wait for their lot without holding a connection; the others hold
one of the pool's briefly.
"""


def create_app(target: Settings | System, *, public_url: str | None = None) -> Litestar:
    """The API over ``target``: an existing system, or one built from settings.

    A system built here is closed when the app shuts down; one passed in belongs to the
    caller. The sandbox's pages are served only when the sandbox is the payment gateway,
    and receipt files only when the receipts are files of this installation.
    """
    if isinstance(target, System):
        system, owned = target, False
    else:
        system, owned = build_system(target, public_url=public_url), True
    settings = system.settings
    handlers: list[ControllerRouterHandler] = [
        FixturesController,
        PurchasesController,
        UsersController,
        WebpayController,
        RecommendationsController,
        JobsController,
        OperationsController,
        AdminController,
    ]
    if system.sandbox is not None:
        handlers.append(SandboxController)
    if system.receipt_files is not None:
        handlers.append(ReceiptFilesController)
    cors = None
    if settings.cors_origins:
        cors = CORSConfig(
            allow_origins=list(settings.cors_origins),
            allow_headers=["Authorization", "Content-Type"],
        )
    openapi = OpenAPIConfig(
        title="goat — CoolGoat bond exchange",
        version="1.0.0",
        description="Fixtures, bond purchases, wallet and Webpay. Errors are RFC 9457 documents.",
        path="/schema",
        render_plugins=[SwaggerRenderPlugin(path="/"), JsonRenderPlugin()],
        components=Components(
            security_schemes={
                "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT")
            }
        ),
    )
    return Litestar(
        route_handlers=handlers,
        dependencies={
            "system": Provide(provide_system, sync_to_thread=False),
            "exchange": Provide(provide_exchange, sync_to_thread=False),
            "identity": Provide(provide_identity),
        },
        exception_handlers=EXCEPTION_HANDLERS,
        middleware=[blank_query_values_are_absent],
        openapi_config=openapi,
        cors_config=cors,
        request_max_body_size=MAX_BODY_BYTES,
        state=State(
            {
                "system": system,
                "fixture_pages": TtlCache[FixturePageOut](settings.fixtures_cache_ms / 1000),
            }
        ),
        on_startup=[_worker_threads],
        on_shutdown=[system.close] if owned else [],
        debug=False,
    )


def _worker_threads() -> None:
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=HANDLER_THREADS, thread_name_prefix="goat-http")
    )
