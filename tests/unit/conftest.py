from __future__ import annotations

import pytest

from goat_core.services import Handled
from tests.unit.support import World, make_fixture


@pytest.fixture
def world() -> World:
    """An exchange with one upcoming fixture (id 1, Arsenal v Chelsea) and nothing else."""
    world = World()
    assert world.add_fixtures(make_fixture(1)) == Handled.APPLIED
    return world
