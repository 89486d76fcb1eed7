"""``goat api --workers 2``: both processes take connections, a dead one is replaced, all
stop together, and a taken port is refused in one line."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_production import Processes
from tests.integration.http.support import free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.integration


@pytest.fixture
def workers(sqlite_url: str, tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
    env.update(GOAT_DATA_DIR=str(tmp_path / "data"), GOAT_DATABASE_URL=sqlite_url)
    processes = Processes(env, tmp_path)
    processes.run("db", "upgrade")
    port = free_port()
    supervisor = processes.start("api", "api", "--port", str(port), "--workers", "2")
    try:
        wait_until(
            lambda: len(_serving(supervisor.pid, port)) == 2,
            timeout=60,
            what=f"two listening processes:\n{processes.logs()}",
        )
        yield supervisor, port
    finally:
        processes.stop()


def _children(pid: int) -> list[int]:
    found = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in found.read_text().split()] if found.exists() else []


def _sockets(pid: int) -> set[str]:
    """The inodes of the process's sockets."""
    inodes = set()
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    except OSError:  # the process (or that descriptor) ended meanwhile
        pass
    return inodes


def _tcp(port: int, state: str) -> set[str]:
    """The inodes of local TCP sockets on ``port`` in ``state`` (0A listening, 01 connected)."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == state:
            inodes.add(fields[9])
    return inodes


def _serving(supervisor: int, port: int) -> list[int]:
    """The supervisor's children with a socket listening on ``port``."""
    listening = _tcp(port, "0A")
    return [child for child in _children(supervisor) if _sockets(child) & listening]


def test_both_processes_take_connections(
    workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    """16 keep-alive clients connecting at once are shared out, not all taken by one."""
    supervisor, port = workers
    clients = [httpx.Client(base_url=f"http://127.0.0.1:{port}") for _ in range(16)]
    try:
        for client in clients:
            assert client.get("/health").status_code == 200
        connected = _tcp(port, "01")
        holding = [len(_sockets(child) & connected) for child in _serving(supervisor.pid, port)]
    finally:
        for client in clients:
            client.close()
    assert sum(holding) == 16
    assert min(holding) > 0


def test_a_dead_process_is_replaced_and_all_stop_together(
    workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    supervisor, port = workers
    first, _ = _serving(supervisor.pid, port)
    os.kill(first, signal.SIGKILL)
    wait_until(
        lambda: (
            len(_serving(supervisor.pid, port)) == 2 and first not in _serving(supervisor.pid, port)
        ),
        timeout=60,
        what="a replacement process",
    )
    serving = _serving(supervisor.pid, port)
    assert httpx.get(f"http://127.0.0.1:{port}/health").status_code == 200
    supervisor.send_signal(signal.SIGTERM)
    assert supervisor.wait(30) == 0
    for pid in serving:
        assert _ended(pid)


def _ended(pid: int) -> bool:
    """Whether the process is gone (or a zombie its new parent has not reaped yet)."""
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text().split("State:")[1]
    except FileNotFoundError:
        return True


def test_a_taken_port_is_refused_in_one_line(tmp_path: Path, sqlite_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
    env.update(GOAT_DATA_DIR=str(tmp_path / "data"), GOAT_DATABASE_URL=sqlite_url)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "goat_app.cli", "api", "--port", str(port), "--workers", "2"],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
    assert done.returncode == 1
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"goat: cannot listen on 127.0.0.1:{port}")


def test_the_processes_end_with_a_killed_supervisor(
    workers: tuple[subprocess.Popen[bytes], int],
) -> None:
    """SIGKILL leaves the supervisor no time to stop them: they stop by themselves."""
    supervisor, port = workers
    serving = _serving(supervisor.pid, port)
    supervisor.kill()
    supervisor.wait(10)
    wait_until(lambda: all(_ended(pid) for pid in serving), timeout=30, what="their end")
