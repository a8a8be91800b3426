"""Toxiproxy's metric names beside the project's, and a deleted link's series gone.

Found comparing with Toxiproxy 2.12: dashboards made for Toxiproxy saw nothing here,
and a deleted proxy's series stayed in ``/metrics`` forever.
"""

from __future__ import annotations

import asyncio

from prometheus_client.parser import text_string_to_metric_families

from tests.proxy.helpers import Api, eventually


async def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    _, text = await api.call("GET", "/metrics")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_toxiproxys_byte_counters_are_exposed(api: Api, echo_port: int) -> None:
    proxy = await api.create("echo", echo_port)
    await api.add_toxic("echo", type="limit_data", stream="downstream", attributes={"bytes": 3})
    host, port = proxy["listen"].rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    writer.write(b"hello")
    await writer.drain()
    assert await asyncio.wait_for(reader.read(), 5) == b"hel"
    writer.close()
    labels = {"proxy": "echo", "listener": proxy["listen"], "upstream": f"127.0.0.1:{echo_port}"}

    async def counted() -> dict[str, float]:
        found = await samples(api)
        return {
            f"{name.split('_')[2]}/{direction}": found.get(
                (name, tuple(sorted({**labels, "direction": direction}.items()))), -1
            )
            for name in ("toxiproxy_proxy_received_bytes_total", "toxiproxy_proxy_sent_bytes_total")
            for direction in ("upstream", "downstream")
        }

    # limit_data let 3 of the 5 echoed bytes through: received counts before the toxic.
    want = {
        "received/upstream": 5,
        "sent/upstream": 5,
        "received/downstream": 5,
        "sent/downstream": 3,
    }

    async def settled() -> bool:
        return await counted() == want

    await eventually(settled, timeout=5, what=f"byte counters {want}")


async def test_a_deleted_link_has_no_series(api: Api, echo_port: int) -> None:
    await api.create("gone", echo_port)
    assert any(dict(labels).get("link") == "gone" for _, labels in await samples(api))
    status, _ = await api.call("DELETE", "/proxies/gone")
    assert status == 204
    left = await samples(api)
    assert not any(
        dict(labels).get("link") == "gone" or dict(labels).get("proxy") == "gone"
        for _, labels in left
    )
