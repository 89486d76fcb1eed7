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
from litestar.static_files import create_static_files_router
from litestar.types import ControllerRouterHandler
from swagger_ui_bundle import (  # type: ignore[import-untyped]  # it ships no py.typed
    swagger_ui_path,
)

from goat_app.auth import DevelopmentTokenVerifier
from goat_app.compose import System, build_system
from goat_app.http.cache import TtlCache
from goat_app.http.common import provide_exchange, provide_identity, provide_system
from goat_app.http.controllers import (
    AdminController,
    AuctionsController,
    BondsController,
    FixturesController,
    GroupAdminController,
    JobsController,
    OperationsController,
    PurchasesController,
    ReceiptFilesController,
    RecommendationsController,
    SandboxController,
    UsersController,
    WebpayController,
)
from goat_app.http.controllers.purchases import purchases_first
from goat_app.http.errors import EXCEPTION_HANDLERS
from goat_app.http.middleware import blank_query_values_are_absent
from goat_app.http.observe import (
    MetricsController,
    refusal_noted,
    request_context,
    response_observed,
)
from goat_app.http.schemas import MAX_BODY_BYTES, FixturePageOut
from goat_app.metrics import HttpMetrics
from goat_app.settings import Settings

__all__ = ["HANDLER_THREADS", "SCHEMA_ASSETS", "create_app"]

SCHEMA_ASSETS = "/schema/assets"
"""Where the browsable API's scripts and styles are served from (no CDN: it works offline)."""

HANDLER_THREADS = 32
"""Worker threads for the handlers that block (every one that touches the database).

Set as the event loop's default executor, where Litestar runs them (Python's own default
is the CPU count + 4: 6 on two cores). Each holds one of the pool's connections briefly.
A purchase is a coroutine: it waits for its lot on the loop, and one of these threads
writes the lots, for as long as lots keep coming; a Webpay purchase opens its
transaction in another.
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
    if isinstance(system.verifier, DevelopmentTokenVerifier):
        _ = system.verifier.secret  # made now, so that goat token finds it from the start
    handlers: list[ControllerRouterHandler] = [
        FixturesController,
        PurchasesController,
        UsersController,
        WebpayController,
        RecommendationsController,
        JobsController,
        OperationsController,
        AdminController,
        GroupAdminController,
        BondsController,
        AuctionsController,
        MetricsController,
    ]
    if system.sandbox is not None:
        handlers.append(SandboxController)
    if system.receipt_files is not None:
        handlers.append(ReceiptFilesController)
    handlers.append(
        create_static_files_router(
            SCHEMA_ASSETS, directories=[str(swagger_ui_path)], include_in_schema=False
        )
    )
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
        use_handler_docstrings=True,
        render_plugins=[
            SwaggerRenderPlugin(
                path="/",
                js_url=f"{SCHEMA_ASSETS}/swagger-ui-bundle.js",
                css_url=f"{SCHEMA_ASSETS}/swagger-ui.css",
                standalone_preset_js_url=f"{SCHEMA_ASSETS}/swagger-ui-standalone-preset.js",
                favicon=f"<link rel='icon' href='{SCHEMA_ASSETS}/favicon-32x32.png'>",
            ),
            JsonRenderPlugin(),
        ],
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
        middleware=[request_context, blank_query_values_are_absent, purchases_first],
        after_exception=[refusal_noted],
        before_send=[response_observed],
        openapi_config=openapi,
        cors_config=cors,
        request_max_body_size=MAX_BODY_BYTES,
        state=State(
            {
                "system": system,
                "fixture_pages": TtlCache[FixturePageOut](settings.fixtures_cache_ms / 1000),
                "metrics": HttpMetrics(system),
            }
        ),
        on_startup=[_worker_threads],
        on_shutdown=[system.close] if owned else [],
        logging_config=None,  # Litestar's records go to goat's handler, in goat's format
        debug=False,
    )


def _worker_threads() -> None:
    asyncio.get_running_loop().set_default_executor(
        ThreadPoolExecutor(max_workers=HANDLER_THREADS, thread_name_prefix="goat-http")
    )
