"""The admin API over real HTTP: lies set and reset, bad requests refused by field."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from services.ntp import NTPServer, query
from tests.ntp.conftest import near, udp_addr


@pytest.fixture
async def admin(server: NTPServer) -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(
        base_url=server.endpoints["admin"], timeout=aiohttp.ClientTimeout(total=5)
    ) as session:
        yield session


async def call(session: aiohttp.ClientSession, method: str, path: str, **kw: Any) -> Any:
    async with session.request(method, path, **kw) as response:
        return response.status, await response.json()


async def test_healthz_names_the_node(admin: aiohttp.ClientSession) -> None:
    assert await call(admin, "GET", "/healthz") == (200, {"status": "ok", "node": "ntp-test"})


async def test_get_clock_starts_honest(admin: aiohttp.ClientSession) -> None:
    status, body = await call(admin, "GET", "/clock")
    assert status == 200
    assert body["offset"] == 0 and body["drift_ppm"] == 0 and body["lying"] is False
    assert (body["stratum"], body["leap"]) == (1, 0)


async def test_patch_changes_only_what_is_given(
    server: NTPServer, admin: aiohttp.ClientSession
) -> None:
    await call(admin, "PUT", "/clock", json={"offset": 5, "stratum": 3})
    status, body = await call(admin, "PATCH", "/clock", json={"leap": 1})
    assert status == 200
    assert (body["offset"], body["stratum"], body["leap"], body["lying"]) == (5.0, 3, 1, True)
    sample = await query(*udp_addr(server))
    assert near(sample, 5.0)
    assert (sample.stratum, sample.leap) == (3, 1)


async def test_put_replaces_everything(admin: aiohttp.ClientSession) -> None:
    await call(admin, "PUT", "/clock", json={"offset": 5, "drift_ppm": 10, "stratum": 3})
    status, body = await call(admin, "PUT", "/clock", json={"drift_ppm": -20.5})
    assert status == 200
    assert (body["offset"], body["drift_ppm"], body["stratum"]) == (0.0, -20.5, 1)


async def test_reset_tells_the_truth_again(server: NTPServer, admin: aiohttp.ClientSession) -> None:
    await call(admin, "PUT", "/clock", json={"offset": -3, "drift_ppm": 50, "leap": 3})
    status, body = await call(admin, "POST", "/clock/reset")
    assert status == 200 and body["lying"] is False
    assert near(await query(*udp_addr(server)), 0.0)


async def test_metrics_are_exposed(admin: aiohttp.ClientSession) -> None:
    await call(admin, "PATCH", "/clock", json={"offset": 0.25})
    async with admin.get("/metrics") as response:
        text = await response.text()
    assert response.status == 200
    assert "fallacies_ntp_served_offset_seconds 0.25" in text
    assert 'fallacies_ntp_malformed_packets_total{reason="mode7"} 0.0' in text


BAD = [
    ("PUT", b"{not json", "body"),
    ("PATCH", b"[1, 2]", "body"),
    ("PATCH", b'"offset"', "body"),
    ("PATCH", b'{"offset": "5"}', "offset"),
    ("PATCH", b'{"offset": true}', "offset"),
    ("PATCH", b'{"offset": null}', "offset"),
    ("PATCH", b'{"offset": 1e12}', "offset"),
    ("PATCH", b'{"offset": NaN}', "offset"),
    ("PATCH", b'{"offset": 1e999}', "offset"),
    ("PATCH", b'{"offset": ' + b"9" * 400 + b"}", "offset"),
    ("PATCH", b'{"drift_ppm": [1]}', "drift_ppm"),
    ("PATCH", b'{"drift_ppm": 5e6}', "drift_ppm"),
    ("PUT", b'{"stratum": 0}', "stratum"),
    ("PUT", b'{"stratum": 16}', "stratum"),
    ("PUT", b'{"stratum": 2.5}', "stratum"),
    ("PUT", b'{"stratum": "2"}', "stratum"),
    ("PATCH", b'{"leap": 4}', "leap"),
    ("PATCH", b'{"leap": -1}', "leap"),
    ("PATCH", b'{"leap": false}', "leap"),
    ("PATCH", b'{"offset": 1, "skew": 2}', "skew"),
]


@pytest.mark.parametrize(("method", "body", "field"), BAD)
async def test_bad_requests_are_400_naming_the_field(
    server: NTPServer, admin: aiohttp.ClientSession, method: str, body: bytes, field: str
) -> None:
    await call(admin, "PUT", "/clock", json={"offset": 1.0})
    status, error = await call(
        admin, method, "/clock", data=body, headers={"Content-Type": "application/json"}
    )
    assert status == 400
    assert error["status"] == 400 and error["field"] == field
    assert field in error["error"]
    # Nothing changed, and both the admin API and the SNTP port still answer.
    assert (await call(admin, "GET", "/clock"))[1]["offset"] == 1.0
    assert (await call(admin, "GET", "/healthz"))[0] == 200
    assert near(await query(*udp_addr(server)), 1.0)


async def test_unknown_route_is_a_json_404(admin: aiohttp.ClientSession) -> None:
    assert await call(admin, "GET", "/nope") == (404, {"error": "Not Found", "status": 404})
    status, body = await call(admin, "DELETE", "/clock")
    assert (status, body["status"]) == (405, 405)
