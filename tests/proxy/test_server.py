"""ProxyServer as a mesh node: config files, seeds, start-up errors, ``python -m chaos.proxy``."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import CollectorRegistry

from chaos.proxy import ConfigError, ProxyServer, load_config
from services.common.errors import PortInUseError
from tests.proxy.helpers import port_of, round_trip

ROOT = Path(__file__).parents[2]


def test_load_config_reads_a_toxiproxy_list(tmp_path: Path) -> None:
    path = tmp_path / "proxies.json"
    path.write_text(
        json.dumps(
            [
                {"name": "api-1", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:8001"},
                {"name": "dns", "upstream": "127.0.0.1:5353", "protocol": "udp", "toxics": []},
            ]
        )
    )
    assert [entry["name"] for entry in load_config(path)] == ["api-1", "dns"]


def test_load_config_reads_an_object_and_yaml(tmp_path: Path) -> None:
    path = tmp_path / "proxies.yaml"
    path.write_text("proxies:\n  - {name: a, upstream: '127.0.0.1:1'}\n")
    assert load_config(path) == [{"name": "a", "upstream": "127.0.0.1:1"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('[{"upstream": "x:1"}]', "missing required field: name at proxy 1"),
        ('[{"name": "a"}]', "missing required field: upstream at proxy 1"),
        ('[{"name": "a", "upstream": "x:1", "protocol": "sctp"}]', "protocol"),
        ("{not json", "not valid JSON"),
        ("42", "cannot unmarshal non-array"),
    ],
)
def test_load_config_names_what_is_wrong(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(ConfigError, match=message):
        load_config(path)


def test_load_config_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="No such file"):
        load_config(tmp_path / "nope.json")


async def test_config_links_are_up_at_start(echo_port: int) -> None:
    config = [{"name": "echo", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_port}"}]
    async with ProxyServer(api_port=0, config=config, registry=CollectorRegistry()) as server:
        listen = server.endpoints["tcp echo"]
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(listen))
        await round_trip(reader, writer)
        writer.close()


async def test_a_taken_link_port_is_a_port_in_use_error() -> None:
    async with ProxyServer(api_port=0, registry=CollectorRegistry()) as first:
        api_port = port_of(first.api_url)
        config = [{"name": "x", "listen": f"127.0.0.1:{api_port}", "upstream": "127.0.0.1:1"}]
        with pytest.raises(PortInUseError, match="proxy link x"):
            await ProxyServer(api_port=0, config=config, registry=CollectorRegistry()).start()
        with pytest.raises(PortInUseError, match="proxy API"):
            await ProxyServer(api_port=api_port, registry=CollectorRegistry()).start()


async def _draws(seed: int, echo_port: int) -> list[bool]:
    """Which of 16 connections a toxicity-0.5 latency toxic picked."""
    config = [{"name": "echo", "listen": "127.0.0.1:0", "upstream": f"127.0.0.1:{echo_port}"}]
    async with ProxyServer(
        api_port=0, config=config, seed=seed, registry=CollectorRegistry()
    ) as server:
        proxy = server.proxies.get("echo")
        await proxy.toxics.add({"type": "latency", "toxicity": 0.5, "attributes": {"latency": 80}})
        picked = []
        for _ in range(16):
            reader, writer = await asyncio.open_connection("127.0.0.1", port_of(proxy.listen))
            picked.append(await round_trip(reader, writer) >= 0.08)
            writer.close()
        return picked


async def test_a_seed_makes_toxicity_draws_reproducible(echo_port: int) -> None:
    first, second = await _draws(7, echo_port), await _draws(7, echo_port)
    assert first == second and 0 < sum(first) < 16
    assert await _draws(8, echo_port) != first


async def test_python_m_chaos_proxy_announces_and_serves(tmp_path: Path) -> None:
    config = tmp_path / "proxies.json"
    config.write_text(
        json.dumps(
            [
                {
                    "name": "dns",
                    "listen": "127.0.0.1:0",
                    "upstream": "127.0.0.1:53",
                    "protocol": "udp",
                }
            ]
        )
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "chaos.proxy",
        "--port",
        "0",
        "--config",
        str(config),
        "--seed",
        "1",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(await asyncio.wait_for(process.stdout.readline(), 15))["endpoints"]
        assert set(endpoints) == {"api", "udp dns"}
        async with aiohttp.ClientSession() as session:
            async with session.get(endpoints["api"] + "/proxies/dns") as response:
                assert (await response.json())["protocol"] == "udp"
    finally:
        process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(process.wait(), 10) == 0
