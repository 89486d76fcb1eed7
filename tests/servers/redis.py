"""A real Redis for tests: Debian's ``redis-server`` on a free port in a temp dir.

Nothing is saved to disk (``--save ''``, ``--appendonly no``): ``stop()`` and ``start()``
again is a Redis that lost everything, as after a crash without persistence.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from tests.servers.mqtt import free_port, wait_listening

__all__ = [
    "RAN_KEY",
    "REDIS_CANDIDATES",
    "RedisServer",
    "WorkerProcess",
    "record_job",
    "redis_server_path",
    "stall_first_job",
]

ROOT = Path(__file__).resolve().parents[2]
RAN_KEY = "goat:test:ran"
"""Where ``record_job`` notes every job it ran, as JSON ``[kind, fields]``."""

REDIS_CANDIDATES = ("redis-server", "/usr/bin/redis-server", "/usr/local/bin/redis-server")


def redis_server_path() -> str | None:
    """The redis-server executable, or None if it is not installed."""
    for candidate in REDIS_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


class RedisServer:
    """A redis-server the tests start and stop on one fixed port."""

    host = "127.0.0.1"

    def __init__(self, executable: str, directory: Path, port: int | None = None) -> None:
        self.executable = executable
        self.directory = directory
        self.port = port or free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://{self.host}:{self.port}/0"

    def start(self) -> RedisServer:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._process = subprocess.Popen(
            [
                self.executable,
                "--port",
                str(self.port),
                "--bind",
                self.host,
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
                "--logfile",
                str(self.directory / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_listening(self.host, self.port)
        return self

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def record_job(kind: str, **fields: object) -> None:
    """A job function for tests: takes the job as goat's worker does, then notes it in Redis."""
    from rq import get_current_job

    from goat_adapters.rq import take

    take(kind, fields)
    current = get_current_job()
    assert current is not None
    current.connection.rpush(RAN_KEY, json.dumps([kind, fields]))


STARTS_KEY = "goat:test:starts"


def stall_first_job(kind: str, **fields: object) -> None:
    """A job function for tests: the first start of any job hangs (to be killed), later ones
    run as ``record_job``; every start is counted in ``STARTS_KEY``."""
    import time

    from rq import get_current_job

    current = get_current_job()
    assert current is not None
    if current.connection.incr(STARTS_KEY) == 1:
        time.sleep(3600)
    record_job(kind, **fields)


class WorkerProcess:
    """A worker in a subprocess of its own session (``kill()`` takes its children too)."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], log: Path) -> None:
        self.log = log
        environment = {**os.environ, "PYTHONPATH": str(ROOT), **env}
        with log.open("ab") as out:
            self.process = subprocess.Popen(
                list(command),
                cwd=ROOT,
                env=environment,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    @classmethod
    def goat(cls, redis_url: str, log: Path, *arguments: str, **env: str) -> WorkerProcess:
        """``goat worker`` on ``redis_url`` with ``env`` added to this process's environment."""
        command = [sys.executable, "-m", "goat_app.cli", "worker", *arguments]
        return cls(command, {"GOAT_REDIS_URL": redis_url, **env}, log)

    @classmethod
    def recording(cls, redis_url: str, log: Path, *, grace: int = 60) -> WorkerProcess:
        """goat's rq worker without goat's system, for the test job functions above.

        It looks for abandoned jobs every second; they are abandoned ``grace`` seconds
        after their timeout.
        """
        script = (
            "import sys; from goat_adapters.rq import redis_from_url, run_worker; "
            "run_worker(redis_from_url(sys.argv[1]), maintenance_interval=1, "
            "abandoned_grace=int(sys.argv[2]))"
        )
        return cls([sys.executable, "-c", script, redis_url, str(grace)], {}, log)

    def kill(self) -> None:
        """SIGKILL the worker and everything it started: no cleanup runs."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        """SIGTERM: rq finishes the current job and leaves; killed if it takes too long."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def output(self) -> str:
        return self.log.read_text(errors="replace")
