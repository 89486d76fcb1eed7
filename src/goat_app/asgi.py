"""ASGI entry for uvicorn: ``uvicorn --factory goat_app.asgi:create``.

Nothing is built at import: the factory reads the settings when uvicorn calls it, in
each worker process.
"""

from __future__ import annotations

from litestar import Litestar

from goat_app.http import create_app
from goat_app.settings import Settings
from goat_app.startup import keep_startup_objects

__all__ = ["create"]


def create() -> Litestar:
    """The API from the environment's settings, in a process of its own (uvicorn's)."""
    app = create_app(Settings.from_env())
    keep_startup_objects()
    return app
