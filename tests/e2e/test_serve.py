"""``goat serve`` and ``goat token`` started as a user would, in a fresh data directory."""

from __future__ import annotations

import os
import re
import signal
import socket
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


def _start_serve(data_dir: Path, **extra: str) -> Served:
    """``goat serve`` on free ports, once it says it is running (it answers /health then)."""
    port = free_port()
    env = _environment(data_dir, **extra)
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
    while "goat is running" not in log.read_text():
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.1)
    assert httpx.get(f"{url}/health", timeout=5).status_code == 200
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


def test_goat_token_without_the_servers_secret_says_where_it_looked(tmp_path: Path) -> None:
    """Where no goat serve made a secret, goat token makes none and names the path it read."""
    other = tmp_path / "other"
    done = _goat("token", "ana@example.com", env=_environment(other))
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert str((other / "dev-auth-secret").resolve()) in line
    assert not other.exists()


def test_goat_token_finds_the_secret_of_the_default_data_dir(served: Served) -> None:
    """Without GOAT_DATA_DIR, goat token reads ./.goat of the current directory, as serve does."""
    data_dir = Path(served.env["GOAT_DATA_DIR"])
    env = {k: v for k, v in served.env.items() if k != "GOAT_DATA_DIR"}
    (data_dir.parent / ".goat").symlink_to(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "goat_app.cli", "token", "ana@example.com"],
        env=env,
        cwd=data_dir.parent,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert served.get("/users/me", done.stdout.strip()).status_code == 200


@pytest.mark.parametrize(
    ("arguments", "reason"),
    [
        (["ana@example.com", "--days", "0"], "--days must be between 1 and 3650"),
        (["ana@example.com", "--days", "-3"], "--days must be between 1 and 3650"),
        (["ana@example.com", "--days", "99999999999"], "--days must be between 1 and 3650"),
        ([""], "is not an email address"),
        (["ana"], "is not an email address"),
        (["ana @example.com"], "is not an email address"),
    ],
)
def test_goat_token_refuses_bad_input_in_one_line(
    served: Served, arguments: list[str], reason: str
) -> None:
    """A non-positive or huge --days, or an address that is not an email, is one line, exit 1."""
    done = _goat("token", *arguments, env=served.env)
    assert done.returncode == 1
    assert done.stdout == ""
    [line] = done.stderr.strip().splitlines()
    assert line.startswith("goat: ")
    assert reason in line


def test_serve_allows_the_local_dev_servers_by_default(served: Served) -> None:
    """Under goat serve, a UI on Vite's or CRA's dev server may call the API (CORS), and
    the start says so."""
    for origin in ("http://localhost:5173", "http://127.0.0.1:3000"):
        answer = httpx.options(
            f"{served.url}/users/me",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
            timeout=10,
        )
        assert answer.headers.get("access-control-allow-origin") == origin
    other = httpx.get(f"{served.url}/health", headers={"Origin": "http://evil.example"}, timeout=10)
    assert "access-control-allow-origin" not in other.headers
    assert "CORS: allowing the local dev servers http://localhost:5173" in served.log.read_text()


def test_serve_logs_in_one_format(served: Served) -> None:
    """Every log line of goat serve (goat's, uvicorn's, Litestar's) has goat's format."""
    stamped = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.-]+: ")
    said = ("goat is running", "CORS: allowing", "development auth:")
    for line in served.log.read_text().splitlines():
        assert line.startswith(said) or stamped.match(line), line


def test_serve_on_a_taken_port_says_so_in_one_line(tmp_path: Path) -> None:
    """With the port taken, goat serve exits 1 with one line and prints no URL."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = _goat(
            "serve", "--port", str(port), "--mqtt-port", str(free_port()),
            env=_environment(tmp_path / "goat-data"),
        )  # fmt: skip
    assert done.returncode == 1
    assert "goat is running" not in done.stdout
    [line] = done.stderr.strip().splitlines()
    assert line.startswith(f"goat: cannot listen on 127.0.0.1:{port}")


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


def test_the_frontend_guide_calls_work_in_order(served: Served) -> None:
    """The calls docs/frontend.md lists, in its order, answer what it says to read."""
    token = served.token("guide@example.com")
    api = httpx.Client(
        base_url=served.url, headers={"Authorization": f"Bearer {token}"}, timeout=10
    )
    with api:
        me = api.get("/users/me").json()
        assert (me["email"], me["admin"]) == ("guide@example.com", False)
        deadline = time.monotonic() + 90  # the simulator's first fixtures (see above)
        page = api.get("/fixtures", params={"page": 1, "count": 25, "status": "upcoming"})
        while not page.json()["fixtures"] and time.monotonic() < deadline:
            time.sleep(0.2)
            page = api.get("/fixtures", params={"page": 1, "count": 25, "status": "upcoming"})
        fixture = page.json()["fixtures"][0]
        assert fixture["fixture"]["status"]["short"] == "NS"
        assert api.get(f"/fixtures/{fixture['id']}").json()["id"] == fixture["id"]
        home = fixture["teams"]["home"]["name"]

        assert api.put("/users/wallet", json={"amount": 5000}).json() == {"wallet": 5000}
        original = {"group_id": "15", "user_id": 1, "deposit_token": "", "status": "pending"}
        body = {**original, "fixture_id": fixture["id"], "result": home, "quantity": 1}
        by_wallet = api.post("/requests", json={**body, "wallet": True})
        assert by_wallet.status_code == 201, by_wallet.text
        assert by_wallet.json()["payment"] is None

        by_webpay = api.post("/requests", json={**body, "wallet": False}).json()
        payment = by_webpay["payment"]
        # the payer approves on the sandbox's page, which sends the browser back with token_ws
        pressed = httpx.post(f"{payment['url']}/approve", follow_redirects=False, timeout=10)
        assert f"token_ws={payment['token']}" in pressed.headers["location"]
        request_id = by_webpay["request"]["request_id"]
        committed = api.post("/webpay/commit", json={"token": payment["token"], "request_id": ""})
        assert committed.json()["status"] == "accepted", committed.text

        mine = api.get("/requests", params={"page": 1, "count": 25}).json()
        assert mine["total"] == 2
        for request in mine["requests"]:
            assert (request["result"], request["result_name"]) == ("home", home)
            assert request["fixture"]["home"] == home
        assert api.get(f"/requests/{request_id}/receipt").status_code in (200, 202)
        assert api.get("/users/wallet").json() == {"wallet": 4000}
        assert api.post("/recommendations").status_code == 202
        assert "recommendations" in api.get("/recommendations").json()
        assert api.get("/workers/heartbeat").json()["available"] in (True, False)
