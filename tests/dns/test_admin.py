"""The admin API through aiohttp's test client (no DNS sockets needed)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import CollectorRegistry

from services.dns import Zone
from services.dns.admin import create_app
from services.dns.metrics import DNSMetrics


@pytest.fixture
async def client(zone: Zone, registry: CollectorRegistry) -> AsyncIterator[TestClient[Any, Any]]:
    DNSMetrics(registry, zone)
    async with TestClient(TestServer(create_app(zone, registry))) as test_client:
        yield test_client


async def test_healthz_and_zone(client: TestClient[Any, Any]) -> None:
    health = await client.get("/healthz")
    assert await health.json() == {"status": "ok", "serial": 1}
    zone = await (await client.get("/zone")).json()
    assert zone["origin"] == "mesh.test." and zone["serial"] == 1
    assert Zone.from_dict(zone).rrsets() == Zone.default().rrsets()


async def test_list_and_filter_records(client: TestClient[Any, Any]) -> None:
    everything = await (await client.get("/records")).json()
    assert everything["serial"] == 1
    assert {"name": "api-1.mesh.test.", "type": "A", "ttl": 5, "values": ["127.0.0.1"]} in (
        everything["records"]
    )
    only_a = await (await client.get("/records", params={"type": "a"})).json()
    assert {r["type"] for r in only_a["records"]} == {"A"}
    at_api = await (await client.get("/records", params={"name": "api-2"})).json()
    assert [r["name"] for r in at_api["records"]] == ["api-2.mesh.test."]


async def test_record_lifecycle_bumps_the_serial(client: TestClient[Any, Any]) -> None:
    body = {"name": "web", "type": "A", "ttl": 10, "values": ["10.0.0.1"]}
    created = await client.post("/records", json=body)
    assert created.status == 201
    assert await created.json() == {
        "serial": 2,
        "changed": True,
        "record": {"name": "web.mesh.test.", "type": "A", "ttl": 10, "values": ["10.0.0.1"]},
    }
    again = await client.post("/records", json=body)
    assert again.status == 200
    assert (await again.json())["changed"] is False
    added = await client.post("/records", json={"name": "web", "type": "A", "value": "10.0.0.2"})
    assert (await added.json())["record"]["values"] == ["10.0.0.1", "10.0.0.2"]

    replaced = await client.put("/records/web.mesh.test./A", json={"values": ["10.0.0.3"]})
    assert (await replaced.json())["record"]["values"] == ["10.0.0.3"]
    patched = await client.patch("/records/web/A", json={"ttl": 0})
    assert (await patched.json())["record"]["ttl"] == 0
    got = await client.get("/records/web/A")
    assert (await got.json())["ttl"] == 0

    deleted = await client.delete("/records/web/A")
    assert await deleted.json() == {"serial": 6, "changed": True}
    assert (await client.get("/records/web/A")).status == 404
    assert (await client.delete("/records/web/A")).status == 404
    assert (await (await client.get("/healthz")).json())["serial"] == 6


async def test_put_creates_a_missing_rrset(client: TestClient[Any, Any]) -> None:
    value = {"priority": 0, "weight": 0, "port": 53, "target": "ns"}
    response = await client.put("/records/_dns._udp/SRV", json={"ttl": 7, "value": value})
    assert response.status == 201
    assert (await response.json())["record"]["values"] == [{**value, "target": "ns.mesh.test."}]


async def test_soa_ttl_can_be_patched(client: TestClient[Any, Any]) -> None:
    response = await client.patch("/records/@/SOA", json={"ttl": 10})
    assert response.status == 200
    assert (await response.json())["record"]["ttl"] == 10


async def test_patch_of_a_missing_rrset_is_404(client: TestClient[Any, Any]) -> None:
    response = await client.patch("/records/ghost/A", json={"ttl": 10})
    assert response.status == 404
    assert (await response.json())["status"] == 404


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/records", b"{not json", "body"),
        ("POST", "/records", b"[1, 2]", "body"),
        ("POST", "/records", {"name": "x", "type": "MX", "value": "10 mail"}, "type"),
        ("POST", "/records", {"name": "x", "type": "BOGUS", "value": "1"}, "type"),
        ("POST", "/records", {"name": "x", "type": "A", "value": "999.1.1.1"}, "value"),
        (
            "POST",
            "/records",
            {"name": "x", "type": "A", "values": ["1.1.1.1", "nope"]},
            "values[1]",
        ),
        ("POST", "/records", {"name": "x", "type": "AAAA", "value": "1.1.1.1"}, "value"),
        ("POST", "/records", {"name": "x", "type": "A", "ttl": 2**31, "value": "1.1.1.1"}, "ttl"),
        ("POST", "/records", {"name": "x", "type": "A", "ttl": -1, "value": "1.1.1.1"}, "ttl"),
        ("POST", "/records", {"name": "x", "type": "A", "ttl": "5", "value": "1.1.1.1"}, "ttl"),
        ("POST", "/records", {"name": "x", "type": "A", "value": "1.1.1.1", "colour": 1}, "colour"),
        ("POST", "/records", {"name": "example.com.", "type": "A", "value": "1.1.1.1"}, "name"),
        ("POST", "/records", {"type": "A", "value": "1.1.1.1"}, "name"),
        ("POST", "/records", {"name": "x", "type": "A"}, "values"),
        ("POST", "/records", {"name": "x", "type": "A", "values": []}, "values"),
        ("POST", "/records", {"name": "x", "type": "A", "value": "1.1.1.1", "values": []}, "value"),
        ("POST", "/records", {"name": "x", "type": "SOA", "value": "x"}, "type"),
        ("PUT", "/records/x/A", {"value": "1.1.1.1", "name": "y"}, "name"),
        ("PUT", "/records/x/TXT", {"value": 5}, "value"),
        ("PUT", "/records/_s._tcp/SRV", {"value": {"port": 1}}, "value.priority"),
        ("PATCH", "/records/api-1/A", {"ttl": 604801}, "ttl"),
        ("PATCH", "/records/api-1/A", {}, "ttl"),
        ("PATCH", "/records/api-1/NOPE", {"ttl": 1}, "type"),
        ("DELETE", "/records/@/SOA", None, "type"),
        ("GET", "/records/other.example./A", None, "name"),
    ],
)
async def test_bad_requests_are_400_naming_the_field(
    client: TestClient[Any, Any], method: str, path: str, body: object, field: str
) -> None:
    kwargs: dict[str, Any] = {}
    if isinstance(body, bytes):
        kwargs["data"] = body
    elif body is not None:
        kwargs["json"] = body
    response = await client.request(method, path, **kwargs)
    assert response.status == 400
    payload = await response.json()
    assert payload["status"] == 400
    assert payload["field"] == field
    assert payload["error"].startswith(f"{field}:")
    health = await client.get("/healthz")
    assert health.status == 200
    assert (await health.json())["serial"] == 1


async def test_unknown_routes_and_methods_answer_json(client: TestClient[Any, Any]) -> None:
    missing = await client.get("/nope")
    assert missing.status == 404 and (await missing.json())["status"] == 404
    wrong = await client.delete("/records")
    assert wrong.status == 405 and "POST" in wrong.headers["Allow"]


async def test_metrics_are_served(client: TestClient[Any, Any]) -> None:
    await client.put("/records/api-1/A", json={"value": "10.0.0.1"})
    text = await (await client.get("/metrics")).text()
    assert "fallacies_dns_zone_serial 2.0" in text
