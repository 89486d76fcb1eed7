"""A dependency that is down answers 503 with a problem that says nothing of the internals."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.integration.http.support import LiveApi, free_port


def test_a_database_outage_is_a_503_without_hosts_or_driver_messages(tmp_path: Path) -> None:
    """With the database unreachable, GET /fixtures is a 503 problem naming no host or port."""
    port = free_port()
    server = LiveApi({"GOAT_DATABASE_URL": f"postgresql://goat@127.0.0.1:{port}/goat"}, tmp_path)
    try:
        answer = httpx.get(f"{server.url}/fixtures", timeout=10)
    finally:
        server.stop()

    assert answer.status_code == 503
    problem = answer.json()
    assert problem["status"] == 503
    assert "127.0.0.1" not in problem["detail"]
    assert str(port) not in problem["detail"]
    assert "retry" in problem["detail"]
