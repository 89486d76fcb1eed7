"""``goat serve`` and ``goat token`` started as a user would, in a fresh data directory."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from goat_adapters.sql import SqlDatabase
from tests.integration.http.support import free_port

pytestmark = pytest.mark.integration


def _goat(
    *arguments: str, env: dict[str, str], timeout: float = 30
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "goat_app.cli", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _environment(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GOAT_")}
    env.update({"GOAT_DATA_DIR": str(data_dir), **extra})
    return env


class Served:
    def __init__(self, url: str, env: dict[str, str], process: subprocess.Popen[bytes], log: Path):
        self.url, self.env, self.process, self.log = url, env, process, log

    def token(self, email: str, *arguments: str) -> str:
        done = _goat("token", email, *arguments, env=self.env)
        assert done.returncode == 0, done.stderr
        lines = done.stdout.splitlines()
        assert len(lines) == 1, done.stdout  # the token alone on its line, nothing else
        return lines[0]

    def get(self, path: str, token: str | None = None) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.get(f"{self.url}{path}", headers=headers, timeout=10)


def _start_serve(data_dir: Path) -> Served:
    """``goat serve`` on free ports, once it answers /health."""
    port = free_port()
    env = _environment(data_dir)
    log = data_dir.parent / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [
                sys.executable, "-m", "goat_app.cli", "serve",
                "--port", str(port), "--mqtt-port", str(free_port()),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, log.read_text()
        try:
            if httpx.get(f"{url}/health", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)
    return Served(url, env, process, log)


def _stop(served: Served) -> int:
    served.process.send_signal(signal.SIGTERM)
    try:
        return served.process.wait(20)
    except subprocess.TimeoutExpired:
        served.process.kill()
        served.process.wait()
        raise


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    """One ``goat serve`` with the embedded broker and simulator on free ports."""
    running = _start_serve(tmp_path_factory.mktemp("serve") / "goat-data")
    yield running
    _stop(running)


def test_serve_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    """SIGTERM ends goat serve with exit code 0 after stopping the API and the broker side."""
    running = _start_serve(tmp_path / "goat-data")
    assert _stop(running) == 0
    text = running.log.read_text()
    assert "Application shutdown complete" in text
    assert "broker side stopped" in text
    assert "Traceback" not in text


def test_serve_prints_the_urls_to_open_and_the_token_hint(served: Served) -> None:
    """At start, goat serve says where the API and its schema are, and how to get a token."""
    text = served.log.read_text()
    assert f"API {served.url}" in text
    assert f"{served.url}/schema" in text
    assert "goat token" in text


def test_serve_creates_the_data_dir_with_its_sqlite_database(served: Served) -> None:
    """The data directory holds the migrated SQLite file."""
    assert (Path(served.env["GOAT_DATA_DIR"]) / "goat.db").is_file()
    assert served.get("/ready").json()["dependencies"]["database"] == "up (sqlite)"


def test_a_token_from_goat_token_is_accepted(served: Served) -> None:
    """``goat token EMAIL`` prints a token that this installation accepts."""
    me = served.get("/users/me", served.token("ana@example.com")).json()
    assert (me["email"], me["admin"]) == ("ana@example.com", False)
    admin = served.get("/users/me", served.token("boss@example.com", "--admin")).json()
    assert admin["admin"] is True


def test_a_token_of_another_installation_is_refused(served: Served, tmp_path: Path) -> None:
    """A development token made with another data directory's secret is a 401."""
    done = _goat("token", "ana@example.com", env=_environment(tmp_path / "other"))
    assert served.get("/users/me", done.stdout.strip()).status_code == 401


def test_the_secret_is_private_to_the_owner(served: Served) -> None:
    """The development signing secret is readable by its owner only."""
    secret = Path(served.env["GOAT_DATA_DIR"]) / "dev-auth-secret"
    assert secret.stat().st_mode & 0o077 == 0


def test_the_embedded_course_brings_fixtures_and_validates_a_wallet_purchase(
    served: Served,
) -> None:
    """Fixtures arrive from the simulator, and our wallet purchase gets the course's verdict."""
    assert served.get("/ready").json()["dependencies"]["broker"].startswith("connected")
    # Normally under a second. The simulator can publish its first fixtures/info before the
    # listener's subscription is acknowledged (the broker side waits for it only up to 10 s);
    # the simulator then repeats fixtures/info after 60 s, hence the long bound.
    deadline = time.monotonic() + 90
    fixtures = served.get("/fixtures", None).json()["fixtures"]
    while not fixtures and time.monotonic() < deadline:
        time.sleep(0.2)
        fixtures = served.get("/fixtures").json()["fixtures"]
    upcoming = [f for f in fixtures if f["fixture"]["status"]["short"] == "NS"]
    assert upcoming, served.log.read_text()[-4000:]
    token = served.token("buyer@example.com")
    headers = {"Authorization": f"Bearer {token}"}
    httpx.put(f"{served.url}/users/wallet", json={"amount": 1000}, headers=headers)
    bought = httpx.post(
        f"{served.url}/requests",
        json={"fixture_id": upcoming[0]["id"], "result": "home", "quantity": 1, "wallet": True},
        headers=headers,
    )
    assert bought.status_code == 201, bought.text
    request_id = bought.json()["request"]["request_id"]
    deadline = time.monotonic() + 20
    status = "pending"
    while status == "pending" and time.monotonic() < deadline:
        time.sleep(0.2)
        status = served.get(f"/requests/{request_id}", token).json()["status"]
    assert status in ("accepted", "rejected"), served.log.read_text()[-4000:]


def test_a_malformed_setting_stops_with_exit_code_2_and_one_line(tmp_path: Path) -> None:
    """A bad GOAT_* variable is reported in one line naming it, without a traceback."""
    done = _goat("api", env=_environment(tmp_path, GOAT_BOND_PRICE="lots"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "goat: GOAT_BOND_PRICE must be a whole number >= 1, got 'lots'"
    ]


def test_goat_token_refuses_when_an_issuer_is_configured(tmp_path: Path) -> None:
    """With GOAT_AUTH_ISSUER set, tokens come from the issuer, and goat token says so."""
    env = _environment(
        tmp_path, GOAT_AUTH_ISSUER="https://issuer.example/", GOAT_AUTH_AUDIENCE="goat"
    )
    done = _goat("token", "ana@example.com", env=env)
    assert done.returncode == 2
    assert done.stdout == ""
    assert "GOAT_AUTH_ISSUER" in done.stderr


@pytest.mark.parametrize(
    "command",
    [
        [],
        ["serve"],
        ["api"],
        ["listener"],
        ["simulate"],
        ["db"],
        ["db", "upgrade"],
        ["token"],
        ["dead-letters"],
    ],
)
def test_every_command_has_help(command: list[str], tmp_path: Path) -> None:
    """``goat ... --help`` explains each command and exits 0."""
    done = _goat(*command, "--help", env=_environment(tmp_path))
    assert done.returncode == 0
    assert "usage: goat" in done.stdout


def test_db_upgrade_then_dead_letters_lists_what_the_listener_kept(tmp_path: Path) -> None:
    """``goat db upgrade`` migrates the embedded SQLite file; ``goat dead-letters`` lists it."""
    env = _environment(tmp_path)
    assert _goat("db", "upgrade", env=env).returncode == 0
    database = SqlDatabase(f"sqlite:///{tmp_path / 'goat.db'}")
    try:
        with database.unit_of_work() as uow:
            uow.dead_letters.add("fixtures/info", "{broken", "not JSON", datetime.now(UTC))
            uow.commit()
    finally:
        database.dispose()
    done = _goat("dead-letters", env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "1 dead letter(s)"
    assert "fixtures/info: not JSON" in done.stdout
    assert "{broken" in done.stdout
