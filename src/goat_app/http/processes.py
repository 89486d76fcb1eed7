"""``goat api --workers N``: N processes answering on one port, each on its own socket.

uvicorn's own workers share one listening socket, and whichever process wakes first
accepts every connection waiting: a burst of keep-alive connections (a load balancer's, a
benchmark's 16 clients) lands on one process while the others idle. Here each process
binds its own socket to the address with ``SO_REUSEPORT`` and the kernel shares the
connections out between them. A process that dies is started again; SIGTERM or SIGINT
stops them all.
"""

from __future__ import annotations

import logging
import multiprocessing
import signal
import sys
import threading
from multiprocessing.process import BaseProcess

__all__ = ["serve_processes"]

log = logging.getLogger("goat.api")

STARTUP_FAILURE = 3
"""The exit code of a process that could not start: starting it again would not help."""


def serve_processes(workers: int, host: str, port: int, *, access_log: bool) -> int:
    """Serve ``goat_app.asgi:create`` from ``workers`` processes until SIGTERM or SIGINT;
    the exit code (1 when a process could not start)."""
    context = multiprocessing.get_context("spawn")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())

    def start() -> BaseProcess:
        process = context.Process(target=_serve, args=(host, port, access_log))
        process.start()
        return process

    processes = [start() for _ in range(workers)]
    log.info("API processes %s on %s:%d", [p.pid for p in processes], host, port)
    try:
        while not stop.wait(0.5):
            for index, process in enumerate(processes):
                if process.exitcode is None:
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    log.error("API process %s could not start: stopping", process.pid)
                    return 1
                log.warning(
                    "API process %s ended (%s): starting another", process.pid, process.exitcode
                )
                processes[index] = start()
        return 0
    finally:
        for process in processes:
            if process.exitcode is None:
                process.terminate()  # SIGTERM: uvicorn finishes the requests under way
        for process in processes:
            process.join(30)
            if process.exitcode is None:
                process.kill()


def _serve(host: str, port: int, access_log: bool) -> None:  # pragma: no cover
    # runs in a spawned process (coverage does not follow it): as `goat api` would
    import uvicorn

    from goat_app.cli import UVICORN_OPTIONS, _bind, _exit_cleanly_on_sigterm
    from goat_app.logs import configure_logging
    from goat_app.settings import Settings

    configure_logging(Settings.from_env().log_format)
    if not access_log:
        logging.getLogger("goat.access").setLevel(logging.WARNING)
    listening = _bind(host, port, reuse_port=True)
    if listening is None:
        sys.exit(STARTUP_FAILURE)
    _exit_cleanly_on_sigterm()
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
