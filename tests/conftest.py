"""Shared fixtures: every test starts with an empty registry, default config, no
listeners and the system clock, so tests never leak state into each other."""
from __future__ import annotations

import pytest

from btk_core import clock, listen_error, reset_all


class FakeClock:
    """A settable clock; ``sleep`` advances it and records the requested pauses."""

    def __init__(self, now_ms: int) -> None:
        self.now = now_ms
        self.sleeps: list[float] = []

    def now_ms(self) -> int:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += int(seconds * 1000)


@pytest.fixture(autouse=True)
def clean_state():
    reset_all()
    yield
    reset_all()


@pytest.fixture
def fake_clock():
    """Install a fake clock at 2024-06-01T00:00Z and return it."""
    fc = FakeClock(1717200000000)
    clock.set_clock(fc.now_ms, fc.sleep)
    return fc


@pytest.fixture
def errors():
    """Collect everything emitted on listen_error."""
    seen: list[BaseException] = []
    listen_error(seen.append)
    return seen


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory):
    """A real Redis on 127.0.0.1 for the whole session (CI installs redis-server)."""
    from tests.redis_server import RedisServer
    server = RedisServer(str(tmp_path_factory.mktemp("redis"))).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def prefect_harness():
    """One Prefect test harness for the whole session (ephemeral API on a temporary database)."""
    from prefect.testing.utilities import prefect_test_harness
    with prefect_test_harness(server_startup_timeout=120):
        yield
