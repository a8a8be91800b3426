"""The pytest plugin (entry point ``pytest11: fallacies``): fault fixtures for any test suite.

    def test_checkout_survives_a_slow_shop(link_to):
        shop = link_to("127.0.0.1:8080")
        with shop.latency(800, jitter=200):
            assert checkout(port=shop.port).ok

``dns_zone`` is an authoritative DNS server for a zone the test sets records in, and
``lying_ntp(offset_s=30)`` an SNTP server that far off. ``fault_proxy`` is one
in-process proxy per session (``--fallacies-proxy URL`` uses a
running one instead); each test's faults and links are removed when the test ends,
passed or failed. Sync tests and pytest-asyncio tests alike: the proxy runs on a loop
of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Literal

import pytest

from chaos.testing._loop import BackgroundLoop
from chaos.testing._proxy import FaultProxy, Link, LinkTo
from chaos.testing._servers import LyingNtp, TestZone
from services.common.admin_token import token_from_env


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("fallacies", "fault injection (fallacies)")
    group.addoption(
        "--fallacies-proxy",
        default=None,
        metavar="URL",
        help="a running fault proxy of the project's to use instead of an in-process one "
        "(admin token from $FALLACIES_ADMIN_TOKEN)",
    )


@pytest.fixture(scope="session")
def _fallacies_proxy_session(request: pytest.FixtureRequest) -> Iterator[FaultProxy]:
    url = request.config.getoption("--fallacies-proxy")
    proxy = FaultProxy(url, token=token_from_env() if url else None)
    with proxy:
        yield proxy


@pytest.fixture
def fault_proxy(_fallacies_proxy_session: FaultProxy) -> Iterator[FaultProxy]:
    """The session's fault proxy; what this test leaves in force is removed at its end."""
    yield _fallacies_proxy_session
    _fallacies_proxy_session.revert_all()


@pytest.fixture
def link_to(fault_proxy: FaultProxy) -> LinkTo:
    """``link_to("host:port", protocol="udp")``: a new link to any service."""

    def make(
        upstream: str, *, protocol: Literal["tcp", "udp"] = "tcp", name: str | None = None
    ) -> Link:
        return fault_proxy.link(upstream, protocol=protocol, name=name)

    return make


@pytest.fixture(scope="session")
def _fallacies_loop() -> Iterator[BackgroundLoop]:
    loop = BackgroundLoop("fallacies-servers")
    yield loop
    loop.close()


@pytest.fixture
def dns_zone(_fallacies_loop: BackgroundLoop) -> Iterator[TestZone]:
    """An authoritative DNS server for ``test.`` that this test controls (``zone.set``)."""
    zone = TestZone(_fallacies_loop)
    yield zone
    zone.stop()


@pytest.fixture
def lying_ntp(_fallacies_loop: BackgroundLoop) -> Iterator[Callable[..., LyingNtp]]:
    """``lying_ntp(offset_s=30)``: an SNTP server that far off; stopped when the test ends."""
    started: list[LyingNtp] = []

    def make(*, offset_s: float = 0.0, drift_ppm: float = 0.0) -> LyingNtp:
        server = LyingNtp(_fallacies_loop, offset_s=offset_s, drift_ppm=drift_ppm)
        started.append(server)
        return server

    yield make
    for server in started:
        server.stop()
