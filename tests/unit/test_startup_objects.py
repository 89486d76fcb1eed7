"""What a process of goat's own keeps out of the garbage collector's sight, and what an
app built inside someone else's process does not."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

from goat_app.testing import MemoryApp


def test_the_asgi_factory_keeps_what_it_built(tmp_path: Path) -> None:
    """uvicorn's factory (every ``goat api`` worker) builds the app, then freezes it: a full
    collection no longer walks the ~175,000 objects that live as long as the process."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
    env["GOAT_DATA_DIR"] = str(tmp_path)
    script = "import gc; from goat_app.asgi import create; create(); print(gc.get_freeze_count())"
    ran = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, check=True
    )
    assert int(ran.stdout.split()[-1]) > 50_000


def test_an_app_built_in_a_test_or_a_library_freezes_nothing() -> None:
    """``create_app`` inside a process goat does not own (a test run, a library's user)
    leaves the collector alone: what it froze would never be freed."""
    before = gc.get_freeze_count()
    with MemoryApp() as api:
        assert api.client.get("/fixtures").status_code == 200
    assert gc.get_freeze_count() == before
