"""The ``goat`` command: ``serve``, ``api``, ``listener``, ``jobs``, ``worker``,
``simulate``, ``db upgrade``, ``token`` and ``dead-letters``.

A missing or malformed setting stops the process with exit code 2 and one line naming
the variable; nothing else is printed for it.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import attrs

from goat_app.logs import configure_logging
from goat_app.settings import Settings, SettingsError
from goat_core.errors import GoatError

__all__ = ["main"]

log = logging.getLogger("goat.cli")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
DEFAULT_JOBS_PORT = 8001
UVICORN_OPTIONS: dict[str, Any] = {
    "access_log": False,  # goat.access: one line per request, with its id
    "log_level": "info",
    "log_config": None,  # goat's own log format for uvicorn's lines too
    # the client's address is the peer's: X-Forwarded-For is read by goat itself, and
    # only from GOAT_TRUSTED_PROXIES (uvicorn would believe any local peer's)
    "proxy_headers": False,
}
"""How every goat HTTP process runs uvicorn."""


def _listen_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (%(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port to listen on (%(default)s)"
    )
    parser.add_argument(
        "--no-access-log", action="store_true", help="do not log every request (faster)"
    )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="goat",
        description="CoolGoat bond exchange: API, broker listener and tools. "
        "Configured by GOAT_* environment variables (see the README).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="the whole system in one process (SQLite, embedded broker and simulator, "
        "Webpay sandbox, in-process jobs)",
        description="Run the API, the embedded MQTT broker with the course simulator, the "
        "listener and the outbox relay in one process. Setting GOAT_DATABASE_URL or "
        "GOAT_MQTT_URL swaps the embedded part for the real one.",
    )
    _listen_arguments(serve)
    serve.add_argument(
        "--mqtt-port", type=int, default=1883, help="embedded broker port (%(default)s)"
    )

    api = commands.add_parser(
        "api",
        help="the HTTP API (production process)",
        description="Serve the HTTP API with uvicorn over the configured database.",
    )
    _listen_arguments(api)
    api.add_argument(
        "--workers", type=int, default=1, help="API processes sharing the port (%(default)s)"
    )

    commands.add_parser(
        "listener",
        help="apply broker messages and send the outbox (production process)",
        description="Listen to GOAT_MQTT_URL, apply every message once, and publish the outbox.",
    )

    simulate = commands.add_parser(
        "simulate",
        help="drive a broker with simulated course traffic",
        description="Publish fixtures, other groups' purchases, validations and results.",
    )
    simulate.add_argument("--broker", required=True, help="broker URL, mqtt://user:pass@host:port")
    simulate.add_argument("--group", default=None, help="our group id (GOAT_GROUP_ID)")

    db = commands.add_parser("db", help="database maintenance", description="Database tasks.")
    db_commands = db.add_subparsers(dest="db_command", required=True, metavar="TASK")
    db_commands.add_parser(
        "upgrade",
        help="run the migrations up to the newest",
        description="Bring GOAT_DATABASE_URL (or the embedded SQLite file) to the newest schema.",
    )

    token = commands.add_parser(
        "token",
        help="print a development token",
        description="Print a bearer token that this installation accepts (development auth, "
        "only when GOAT_AUTH_ISSUER is unset). The token is printed alone on its line.",
    )
    token.add_argument("email", help="the user's email; the subject is derived from it")
    token.add_argument("--admin", action="store_true", help="grant the goat:admin permission")
    token.add_argument("--days", type=int, default=30, help="validity in days (%(default)s)")

    dead = commands.add_parser(
        "dead-letters",
        help="list kept malformed broker messages",
        description="Broker messages that could not be applied, newest first.",
    )
    dead.add_argument("--page", type=int, default=1, help="page (%(default)s)")
    dead.add_argument("--count", type=int, default=25, help="per page (%(default)s)")

    worker = commands.add_parser(
        "worker",
        help="run goat's background jobs from Redis (production process)",
        description="An rq worker on GOAT_REDIS_URL running goat's jobs (recommendations, "
        "receipts); any number of them on one Redis. Retries wait their backoff.",
    )
    worker.add_argument(
        "--queues", nargs="+", default=["goat"], help="queues to work, in order (goat)"
    )
    worker.add_argument(
        "--abandoned-after",
        type=int,
        default=60,
        metavar="SECONDS",
        help="a job whose worker died runs again this long after its timeout (%(default)s)",
    )
    worker.add_argument("--burst", action="store_true", help="leave once the queues are empty")

    jobs = commands.add_parser(
        "jobs",
        help="the jobs service: queue and follow jobs over HTTP (production process)",
        description="Serve POST /job, GET /job/{id} and GET /heartbeat over GOAT_REDIS_URL.",
    )
    _listen_arguments(jobs)
    jobs.set_defaults(port=DEFAULT_JOBS_PORT)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``goat`` console script."""
    arguments = _parser().parse_args(argv)
    commands: dict[str, Callable[[argparse.Namespace, Settings], int]] = {
        "serve": _serve,
        "api": _api,
        "listener": _listener,
        "simulate": _simulate,
        "db": _db,
        "token": _token,
        "dead-letters": _dead_letters,
        "worker": _worker,
        "jobs": _jobs,
    }
    try:
        settings = Settings.from_env()
        configure_logging(settings.log_format)  # GOAT_LOG_FORMAT=json: JSON lines
        # Alembic lists every plugin it loads at INFO; the migrations it runs stay visible
        logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
        return commands[arguments.command](arguments, settings)
    except SettingsError as error:
        print(f"goat: {error}", file=sys.stderr)
        return 2
    except GoatError as error:
        print(f"goat: {error}", file=sys.stderr)
        return 1
    except ModuleNotFoundError as error:  # installed as a library, without the extras
        if error.name is None or error.name.split(".")[0] in ("goat_core", "goat_adapters"):
            raise
        print(
            f"goat: {error.name} is not installed: the goat commands need the server extra,"
            " pip install 'goat[server]'",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        return 130


def _exit_cleanly_on_sigterm() -> None:
    """Make SIGTERM end the process through ``finally`` blocks, with exit code 0.

    uvicorn shuts down gracefully on SIGTERM and then raises the signal again; with the
    default handler that would kill the process before our own cleanup runs.
    """

    def leave(signum: int, frame: object) -> None:
        raise SystemExit(0)

    signal.signal(signal.SIGTERM, leave)


def _public_url(settings: Settings, host: str, port: int) -> str:
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104  # comparing, not binding
    return settings.public_url or f"http://{shown}:{port}"


DEV_ORIGINS = (
    "http://localhost:5173",
    "http://127.0.0.1:5173",
    "http://localhost:3000",
    "http://127.0.0.1:3000",
)
"""The local dev servers (Vite, Create React App) that ``goat serve`` allows by default."""


def _serve(arguments: argparse.Namespace, settings: Settings) -> int:
    import uvicorn  # heavy imports only for the commands that need them

    from goat_app.compose import BrokerOptions, build_system, upgrade_database
    from goat_app.http import create_app
    from goat_app.simulator import SimulatorConfig
    from goat_app.startup import keep_startup_objects

    _exit_cleanly_on_sigterm()
    _access_lines(arguments)
    # the port first: taken, nothing else starts and no other process's URL is printed
    listening = _bind(arguments.host, arguments.port)
    if listening is None:
        return 1
    dev_origins = not settings.cors_origins
    if dev_origins:
        settings = attrs.evolve(settings, cors_origins=DEV_ORIGINS)
    try:
        upgrade_database(settings)
        url = _public_url(settings, arguments.host, arguments.port)
        # the simulated season is kept beside the database: a restart resumes it
        season = SimulatorConfig(state_file=settings.data_dir / "simulator.json")
        broker = BrokerOptions(embedded_port=arguments.mqtt_port, simulator=season)
        system = build_system(settings, public_url=url, broker=broker)
        try:
            server = uvicorn.Server(uvicorn.Config(create_app(system), **UVICORN_OPTIONS))
            keep_startup_objects()
            lines = [f"goat is running: API {url}  OpenAPI {url}/schema"]
            if dev_origins:
                lines.append(
                    f"CORS: allowing the local dev servers {', '.join(DEV_ORIGINS)} "
                    "(GOAT_CORS_ORIGINS replaces them)"
                )
            if settings.development_auth:
                lines.append(
                    "development auth: get a token with  goat token you@example.com [--admin]"
                )
            threading.Thread(
                target=_announce_when_answering,
                args=(server, listening.getsockname(), lines),
                name="goat-announce",
                daemon=True,
            ).start()
            server.run(sockets=[listening])
        finally:
            system.close()
    finally:
        listening.close()
    return 0


def _access_lines(arguments: argparse.Namespace) -> None:
    """``--no-access-log`` silences goat's access lines (uvicorn's own are off: goat's
    carry the request id, the route and the purchase)."""
    if arguments.no_access_log:
        logging.getLogger("goat.access").setLevel(logging.WARNING)


def _bind(host: str, port: int, *, reuse_port: bool = False) -> socket.socket | None:
    """A socket bound to ``host:port`` for uvicorn, or None after saying why in one line.

    ``reuse_port``: other sockets with the option may bind the same address (the
    processes of ``goat api --workers``); without it, the port must be free of them too.
    """
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        reason = error.strerror or str(error)
        print(
            f"goat: cannot listen on {host}:{port}: {reason} (another goat serve? try --port)",
            file=sys.stderr,
        )
        return None
    sock.set_inheritable(True)
    return sock


def _announce_when_answering(
    server: Any, address: tuple[Any, ...], lines: Sequence[str], timeout: float = 60
) -> None:
    """Print ``lines`` once the API answers /health on ``address``; never if it does not."""
    host, port = address[0], address[1]
    if host in ("0.0.0.0", "::"):  # noqa: S104  # comparing, not binding
        host = "127.0.0.1" if host == "0.0.0.0" else "::1"  # noqa: S104  # comparing
    shown = f"[{host}]" if ":" in host else host
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not server.should_exit:
        if server.started:
            try:
                health = f"http://{shown}:{port}/health"
                with urllib.request.urlopen(health, timeout=2) as answer:
                    if answer.status == 200:
                        print("\n".join(lines), flush=True)
                        return
            except OSError:
                pass
        time.sleep(0.05)


def _api(arguments: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from goat_app.http import create_app
    from goat_app.startup import keep_startup_objects

    _exit_cleanly_on_sigterm()
    _access_lines(arguments)
    if arguments.workers > 1:
        from goat_app.http.processes import serve_processes

        # the port first: taken, no process starts
        listening = _bind(arguments.host, arguments.port)
        if listening is None:
            return 1
        port = int(listening.getsockname()[1])
        listening.close()
        # each process builds its own system from the environment
        os.environ.setdefault("GOAT_PUBLIC_URL", _public_url(settings, arguments.host, port))
        return serve_processes(
            arguments.workers, arguments.host, port, access_log=not arguments.no_access_log
        )
    url = _public_url(settings, arguments.host, arguments.port)
    common = {"host": arguments.host, "port": arguments.port, **UVICORN_OPTIONS}
    app = create_app(settings, public_url=url)
    keep_startup_objects()
    uvicorn.run(app, **common)
    return 0


def _listener(arguments: argparse.Namespace, settings: Settings) -> int:
    from goat_app.listener import run_listener

    run_listener(settings)
    return 0


def _simulate(arguments: argparse.Namespace, settings: Settings) -> int:
    from goat_app.compose import start_simulator
    from goat_app.listener import wait_for_signal

    handle = start_simulator(arguments.broker, arguments.group or settings.group_id)
    try:
        wait_for_signal()
    finally:
        handle.stop()
    return 0


def _db(arguments: argparse.Namespace, settings: Settings) -> int:
    from goat_app.compose import upgrade_database

    upgrade_database(settings)
    log.info("database is at the newest schema")
    return 0


def _token(arguments: argparse.Namespace, settings: Settings) -> int:
    from goat_app.auth import issue_development_token

    if not settings.development_auth:
        print(
            "goat: GOAT_AUTH_ISSUER is set: tokens come from that issuer, not from goat token",
            file=sys.stderr,
        )
        return 2
    token = issue_development_token(
        settings.data_dir, arguments.email, admin=arguments.admin, days=arguments.days
    )
    print(token)
    return 0


def _dead_letters(arguments: argparse.Namespace, settings: Settings) -> int:
    from goat_app.compose import build_system
    from goat_core.model import Viewer

    system = build_system(settings)
    try:
        # whoever runs goat on this installation is its operator
        found = system.exchange.dead_letters(
            Viewer("goat-cli", admin=True), max(arguments.page, 1), max(arguments.count, 1)
        )
    finally:
        system.close()
    print(f"{found.total} dead letter(s)")
    for letter in found.items:
        print(
            f"#{letter.id} {letter.received_at:%Y-%m-%d %H:%M:%S} {letter.topic}: {letter.reason}"
        )
        print(f"    {letter.payload[:200]}")
    return 0


def _worker(arguments: argparse.Namespace, settings: Settings) -> int:
    from goat_app.worker import work

    # rq's worker handles SIGTERM itself: it finishes the current job, then leaves
    work(
        settings,
        arguments.queues,
        abandoned_grace=max(arguments.abandoned_after, 1),
        maintenance_interval=max(arguments.abandoned_after, 1),
        burst=arguments.burst,
    )
    return 0


def _jobs(arguments: argparse.Namespace, settings: Settings) -> int:
    import uvicorn

    from goat_app.compose import build_rq_queue
    from goat_app.jobs_service import create_jobs_app
    from goat_app.startup import keep_startup_objects

    _exit_cleanly_on_sigterm()
    queue = build_rq_queue(settings)
    try:
        app = create_jobs_app(queue)
        keep_startup_objects()
        uvicorn.run(
            app,
            host=arguments.host,
            port=arguments.port,
            **{**UVICORN_OPTIONS, "access_log": not arguments.no_access_log},
        )
    finally:
        queue.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
