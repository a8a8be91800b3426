"""The pytest plugin (entry point ``pytest11: fallacies``): fault fixtures for any test suite.

    def test_checkout_survives_a_slow_shop(link_to):
        shop = link_to("127.0.0.1:8080")
        with shop.latency(800, jitter=200):
            assert checkout(port=shop.port).ok

``fault_proxy`` is one in-process proxy per session (``--fallacies-proxy URL`` uses a
running one instead); each test's faults and links are removed when the test ends,
passed or failed. Sync tests and pytest-asyncio tests alike: the proxy runs on a loop
of its own.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest

from chaos.testing._proxy import FaultProxy, Link, LinkTo
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
