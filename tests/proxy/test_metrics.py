"""The proxy's series: catalogue, METRICS.md and registry agree; values follow the traffic."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

from prometheus_client import CollectorRegistry

from chaos.proxy import ProxyServer
from chaos.proxy.metrics import CATALOGUE
from tests.proxy.helpers import Api, Udp, eventually, port_of, round_trip

METRICS_MD = Path(__file__).parents[2] / "chaos" / "proxy" / "METRICS.md"


def scraped(registry: CollectorRegistry) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for family in registry.collect():
        for sample in family.samples:
            out.setdefault(sample.name, set()).update(sample.labels)
    return out


async def test_catalogue_matches_the_registry(
    api: Api, registry: CollectorRegistry, udp: Udp
) -> None:
    echo, echo_port = await udp.echo()
    proxy = await api.create("u", echo_port, protocol="udp")
    await api.add_toxic("u", type="loss", attributes={"probability": 1})
    client = await udp.client(port_of(proxy["listen"]))
    client.send(b"x")
    await eventually(lambda: bool(echo.received))
    await eventually(
        lambda: (
            registry.get_sample_value(
                "fallacies_proxy_dropped_datagrams_total", {"link": "u", "toxic": "loss"}
            )
            == 1
        )
    )
    names = scraped(registry)
    assert set(names) == set(CATALOGUE)
    for name, labels in CATALOGUE.items():
        assert names[name] == set(labels), name
        # The project's namespace, and Toxiproxy's own names for parity.
        assert name.startswith(("fallacies_proxy_", "toxiproxy_proxy_")), name


def test_catalogue_matches_metrics_md() -> None:
    documented = set(
        re.findall(r"^\| `((?:fallacies|toxiproxy)_proxy_\w+)`", METRICS_MD.read_text(), re.M)
    )
    assert documented == set(CATALOGUE)


async def test_bytes_and_connections_follow_tcp_traffic(
    api: Api, registry: CollectorRegistry, echo_port: int
) -> None:
    proxy = await api.create("echo", echo_port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(proxy["listen"]))
    await round_trip(reader, writer, b"x" * 1000)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, {"link": "echo", **labels})

    assert value("fallacies_proxy_bytes_total", direction="upstream") == 1000
    assert value("fallacies_proxy_bytes_total", direction="downstream") == 1000
    assert value("fallacies_proxy_connections_total") == 1
    assert value("fallacies_proxy_active_connections") == 1
    writer.close()
    await eventually(lambda: value("fallacies_proxy_active_connections") == 0)


async def test_fault_gauge_overlays_toxics_and_partitions(
    api: Api, registry: CollectorRegistry, echo_port: int
) -> None:
    await api.create("echo", echo_port)

    def fault(kind: str) -> float | None:
        return registry.get_sample_value(
            "fallacies_proxy_fault_active", {"link": "echo", "kind": kind}
        )

    assert (fault("latency"), fault("partition"), fault("loss")) == (0, 0, None)
    await api.add_toxic("echo", type="latency")
    await api.add_toxic("echo", type="latency", stream="upstream")
    assert fault("latency") == 2
    await api.patch("echo", enabled=False)
    assert fault("partition") == 1
    await api.call("POST", "/reset")
    assert (fault("latency"), fault("partition")) == (0, 0)


async def test_counters_survive_recreating_a_link(
    server: ProxyServer, api: Api, echo_port: int
) -> None:
    proxy = await api.create("echo", echo_port)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(proxy["listen"]))
    writer.close()
    await api.call("DELETE", "/proxies/echo")
    await api.create("echo", echo_port)
    await eventually(lambda: server.proxies.stats["echo"].connections == 1)
    assert (
        server.registry.get_sample_value("fallacies_proxy_connections_total", {"link": "echo"}) == 1
    )
