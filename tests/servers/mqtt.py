"""A real MQTT broker for tests: mosquitto on a free port in a temp dir, else amqtt in-process.

mosquitto runs with persistence on, so persistent sessions and their queued QoS 1
messages survive ``restart()``; the amqtt fallback forgets them (``persistent`` says
which one you got). ``GOAT_TEST_BROKER=amqtt`` forces the fallback.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

MOSQUITTO_CANDIDATES = ("mosquitto", "/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def mosquitto_path() -> str | None:
    """The mosquitto executable, or None if it is not installed (or GOAT_TEST_BROKER=amqtt)."""
    if os.environ.get("GOAT_TEST_BROKER") == "amqtt":
        return None
    for candidate in MOSQUITTO_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


def wait_listening(host: str, port: int, timeout: float = 10.0) -> None:
    """Block until something accepts TCP connections on ``host:port``."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing listens on {host}:{port}") from None
            time.sleep(0.05)


class MqttServer:
    """A broker the tests start, stop and restart on one fixed port."""

    host = "127.0.0.1"

    def __init__(self, directory: Path, port: int | None = None) -> None:
        self.directory = directory
        self.port = port or free_port()
        self.executable = mosquitto_path()
        self.kind = "mosquitto" if self.executable else "amqtt"
        self.persistent = self.executable is not None
        self._process: subprocess.Popen[bytes] | None = None
        self._embedded: object | None = None

    @property
    def url(self) -> str:
        return f"mqtt://{self.host}:{self.port}"

    def start(self) -> MqttServer:
        if self.executable:
            self._start_mosquitto(self.executable)
        else:
            from goat_adapters.mqtt.embedded import EmbeddedBroker

            self._embedded = EmbeddedBroker(self.host, self.port).start()
        wait_listening(self.host, self.port)
        return self

    def stop(self) -> None:
        """Stop gracefully: mosquitto saves its sessions to disk on the way out."""
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)  # were it stalled, it could not stop
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        if self._embedded is not None:
            from goat_adapters.mqtt.embedded import EmbeddedBroker

            assert isinstance(self._embedded, EmbeddedBroker)
            self._embedded.stop()
            self._embedded = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def stall(self, stalled: bool = True) -> None:
        """Freeze mosquitto (SIGSTOP): connections stay open, nothing is answered; then
        ``stall(False)`` lets it go on (SIGCONT)."""
        assert self._process is not None, "only mosquitto can stall"
        self._process.send_signal(signal.SIGSTOP if stalled else signal.SIGCONT)

    def _start_mosquitto(self, executable: str) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        config = self.directory / "mosquitto.conf"
        config.write_text(
            "\n".join(
                [
                    f"listener {self.port} {self.host}",
                    "allow_anonymous true",
                    "persistence true",
                    f"persistence_location {self.directory}/",
                    # as root mosquitto would switch to a user that cannot write the temp dir
                    f"user {pwd.getpwuid(os.getuid()).pw_name}",
                    "max_queued_messages 100000",
                    "max_inflight_messages 200",
                    "set_tcp_nodelay true",
                    f"log_dest file {self.directory}/mosquitto.log",
                    "",
                ]
            )
        )
        self._process = subprocess.Popen(
            [executable, "-c", str(config)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
