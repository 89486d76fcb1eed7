"""One job relay among the processes on one PostgreSQL database (the job lease)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from goat_app.compose import System, build_system
from goat_app.relay import OutboxRelay
from goat_app.settings import Settings
from goat_core.model import Outcome
from goat_core.services import BuyBonds
from tests.contract.builders import fixture
from tests.integration.mqtt.support import wait_until

pytestmark = pytest.mark.integration

USER = "auth0|job-lease"


def relay_of(system: System) -> OutboxRelay:
    assert system.job_relay is not None
    return system.job_relay


def buy(system: System) -> None:
    """A wallet purchase, which queues a ``Recommend`` job for its buyer."""
    system.exchange.buy_bonds(
        BuyBonds(USER, 1, Outcome.HOME, 1, True, return_url="http://r.invalid")
    )


def test_one_process_relays_the_jobs_and_another_takes_over_when_it_stops(
    tmp_path: Path, fresh_database_url: str
) -> None:
    """Two processes' systems (``goat api``, ``goat listener``) on one database: one job
    relay hands the jobs over, the other stands by; when the first stops, the other does."""
    systems = [
        build_system(Settings(data_dir=tmp_path / name, database_url=fresh_database_url))
        for name in ("one", "two")
    ]
    try:
        later = datetime.now(UTC) + timedelta(days=30)
        systems[0].exchange.ingest_fixtures([fixture(1, kickoff=later)])
        systems[0].exchange.top_up(USER, 100_000)
        wait_until(lambda: any(relay_of(s).publishing for s in systems), 10, "a job relay")
        time.sleep(0.5)  # the other relay has asked for the lease meanwhile
        assert [relay_of(s).publishing for s in systems].count(True) == 1
        (holder,) = [s for s in systems if relay_of(s).publishing]
        (standby,) = [s for s in systems if s is not holder]

        buy(standby)  # its job is handed over by the holder's relay
        wait_until(lambda: standby.exchange.jobs_backlog() == 0, 10, "the job handed over")
        assert not relay_of(standby).publishing

        holder.close()
        wait_until(lambda: relay_of(standby).publishing, 10, "the standby taking over")
        buy(standby)
        wait_until(lambda: standby.exchange.jobs_backlog() == 0, 10, "the next job handed over")
    finally:
        for system in systems:
            system.close()
