"""Against a real client: ntpsec's ntpdate (a shim over ntpdig).

ntpdig only ever asks port 123 (its ``-p`` means samples, not port). So the server
binds port 123 -- allowed, the tests run as root -- on a random address of the
127.0.0.0/8 loopback block, which keeps runs side by side from colliding and leaves
127.0.0.1:123 alone for a real NTP daemon. A collision is retried on a fresh address.
"""

from __future__ import annotations

import asyncio
import random
import re
from collections.abc import AsyncIterator

import aiohttp
import pytest
from prometheus_client.registry import CollectorRegistry

from services.common.errors import PortInUseError
from services.ntp import NTPServer
from tests.conftest import require_tool

# e.g. "2026-01-05 10:00:00.123456 (+0000) +5.000196 +/- 0.000315 127.9.8.7 s1 no-leap"
REPORT = re.compile(
    r"(?P<offset>[+-]\d+\.\d+)\s+\+/-\s+(?P<error>\d+\.\d+)\s+(?P<host>\S+)"
    r"(?:\s+\S+)?\s+s(?P<stratum>\d+)\s+(?P<leap>\S+)\s*$",
    re.MULTILINE,
)
TOLERANCE = 0.050  # seconds, the bound


def random_loopback() -> str:
    return f"127.{random.randint(1, 254)}.{random.randint(0, 255)}.{random.randint(1, 254)}"


@pytest.fixture
async def on_port_123() -> AsyncIterator[NTPServer]:
    require_tool("ntpdate")
    for _ in range(10):
        server = NTPServer(host=random_loopback(), port=123, registry=CollectorRegistry())
        try:
            await server.start()
        except PortInUseError:
            continue
        try:
            yield server
        finally:
            await server.stop()
        return
    pytest.fail("no free 127.x.y.z:123 after 10 tries")


async def ntpdate(host: str) -> tuple[int, str]:
    process = await asyncio.create_subprocess_exec(
        "ntpdate",
        "-q",
        "-t",
        "2",
        host,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), 20)
    return await process.wait(), output.decode(errors="replace")


async def report(server: NTPServer) -> re.Match[str]:
    code, output = await ntpdate(server.host)
    match = REPORT.search(output)
    assert code == 0 and match is not None, f"ntpdate exited {code}: {output!r}"
    assert match["host"] == server.host
    return match


async def test_ntpdate_agrees_with_the_host_clock(on_port_123: NTPServer) -> None:
    match = await report(on_port_123)
    assert abs(float(match["offset"])) < TOLERANCE
    assert (match["stratum"], match["leap"]) == ("1", "no-leap")


async def test_ntpdate_sees_an_offset_set_through_the_admin_api(on_port_123: NTPServer) -> None:
    async with aiohttp.ClientSession() as session:
        url = on_port_123.endpoints["admin"] + "/clock"
        async with session.patch(url, json={"offset": 5, "stratum": 3}) as response:
            assert response.status == 200
    match = await report(on_port_123)
    assert float(match["offset"]) == pytest.approx(5.0, abs=TOLERANCE)
    assert match["stratum"] == "3"


async def test_ntpdate_refuses_a_server_that_raises_the_alarm(on_port_123: NTPServer) -> None:
    on_port_123.clock.update(leap=3)
    code, output = await ntpdate(on_port_123.host)
    assert code != 0
    assert "leap not in sync" in output
