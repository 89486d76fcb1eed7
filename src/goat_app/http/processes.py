"""``goat api --workers N``: N processes answering on one port, each on its own socket.

uvicorn's own workers share one listening socket, and whichever process wakes first
accepts every connection waiting: a burst of keep-alive connections (a load balancer's, a
benchmark's 16 clients) lands on one process while the others idle. Here each process
binds its own socket to the address with ``SO_REUSEPORT`` and the kernel shares the
connections out between them (Linux). A process that dies is started again (at most once
a second); SIGTERM or SIGINT stops them all, and so does the supervisor's death.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import sys
import time
from multiprocessing.connection import wait
from multiprocessing.process import BaseProcess

__all__ = ["serve_processes"]

log = logging.getLogger("goat.api")

STARTUP_FAILURE = 3
"""The exit code of a process that could not start: starting it again would not help."""

STARTING_SECONDS = 10.0
"""A process that cannot start within this long of the supervisor's start stops it all."""


def serve_processes(workers: int, host: str, port: int, *, access_log: bool) -> int:
    """Serve ``goat_app.asgi:create`` from ``workers`` processes until SIGTERM or SIGINT;
    the exit code (1 when the processes could not start)."""
    context = multiprocessing.get_context("spawn")
    stopping: list[int] = []  # the signal handler only appends: it may interrupt anything
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _: stopping.append(signum))
    began = time.monotonic()

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_serve, args=(host, port, access_log, os.getpid()))
        process.start()
        return process, time.monotonic()

    processes = [start() for _ in range(workers)]
    log.info("API processes %s on %s:%d", [p.pid for p, _ in processes], host, port)
    try:
        while not stopping:
            wait([p.sentinel for p, _ in processes], timeout=0.5)  # a process ended, or not
            for index, (process, started) in enumerate(processes):
                if process.exitcode is None or stopping:
                    continue
                if process.exitcode == STARTUP_FAILURE and started - began < STARTING_SECONDS:
                    log.error("API process %s could not start: stopping", process.pid)
                    return 1
                log.warning(
                    "API process %s ended (%s): starting another", process.pid, process.exitcode
                )
                time.sleep(max(0.0, started + 1 - time.monotonic()))  # one start a second
                process.close()
                processes[index] = start()
        return 0
    finally:
        for process, _ in processes:
            if process.exitcode is None:
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        deadline = time.monotonic() + 10
        for process, _ in processes:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()


def _serve(host: str, port: int, access_log: bool, parent: int) -> None:  # pragma: no cover
    # runs in a spawned process (coverage does not follow it): as `goat api` would
    import uvicorn

    from goat_app.cli import UVICORN_OPTIONS, _bind, _exit_cleanly_on_sigterm
    from goat_app.logs import configure_logging
    from goat_app.settings import Settings

    _end_with(parent)
    # Ctrl-C reaches every process of the terminal's group: the supervisor stops them
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _exit_cleanly_on_sigterm()
    configure_logging(Settings.from_env().log_format)
    if not access_log:
        logging.getLogger("goat.access").setLevel(logging.WARNING)
    listening = _bind(host, port, reuse_port=True)
    if listening is None:
        sys.exit(STARTUP_FAILURE)
    config = uvicorn.Config("goat_app.asgi:create", factory=True, **UVICORN_OPTIONS)
    server = uvicorn.Server(config)
    try:
        server.run(sockets=[listening])
    except SystemExit:
        if not server.started:
            sys.exit(STARTUP_FAILURE)
        raise
    if not server.started:
        sys.exit(STARTUP_FAILURE)


def _end_with(parent: int) -> None:  # pragma: no cover
    """Get SIGTERM when the supervisor dies, even by SIGKILL (Linux's PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != parent:  # it died before the request took effect
        sys.exit(0)
