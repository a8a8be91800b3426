"""Your own links: ``serve proxy --links FILE``, then ``links`` and ``fault`` with ``--proxy URL``,
against the project's proxy and a real Toxiproxy, as processes a user would start."""

from __future__ import annotations

import asyncio
import functools
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import cast

import pytest

from tests.cli.test_serve import free_port
from tests.conftest import require_tool
from tests.polling import eventually

CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "200", "FALLACIES_ADMIN_TOKEN": ""}

eventually = functools.partial(eventually, timeout=20.0, interval=0.1)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env=ENV, check=False
    )


def answers(url: str) -> bool:
    host, port = url.removeprefix("http://").split(":")
    with socket.socket() as probe:
        return probe.connect_ex((host, int(port))) == 0


@pytest.fixture
async def echo_servers() -> AsyncIterator[tuple[int, int]]:
    """A TCP server answering ``ok`` to each line and a UDP echo: someone's own services."""

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline():
            writer.write(b"ok\n")
            await writer.drain()
        writer.close()

    class Echo(asyncio.DatagramProtocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.DatagramTransport, transport)

        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            self.transport.sendto(data, addr)

    tcp = await asyncio.start_server(serve, "127.0.0.1", 0)
    udp, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        Echo, local_addr=("127.0.0.1", 0)
    )
    try:
        yield tcp.sockets[0].getsockname()[1], udp.get_extra_info("sockname")[1]
    finally:
        tcp.close()
        udp.close()


async def round_trip_s(port: int) -> float:
    started = time.perf_counter()
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"hi\n")
    assert await asyncio.wait_for(reader.readline(), 10) == b"ok\n"
    writer.close()
    return time.perf_counter() - started


async def udp_echoes(port: int, timeout: float = 0.5) -> bool:
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Once(asyncio.DatagramProtocol):
        def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
            if not got.done():
                got.set_result(data)

    transport, _ = await loop.create_datagram_endpoint(Once, remote_addr=("127.0.0.1", port))
    try:
        transport.sendto(b"ping")
        try:
            return await asyncio.wait_for(got, timeout) == b"ping"
        except TimeoutError:
            return False
    finally:
        transport.close()


@pytest.fixture
def started() -> Iterator[list[subprocess.Popen[bytes]]]:
    processes: list[subprocess.Popen[bytes]] = []
    yield processes
    for process in processes:
        process.terminate()
        process.wait(10)


async def test_your_own_links_on_the_projects_proxy(
    tmp_path: Path, echo_servers: tuple[int, int], started: list[subprocess.Popen[bytes]]
) -> None:
    tcp_port, udp_port = echo_servers
    api, web, echo = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    url = f"http://127.0.0.1:{api}"
    links = tmp_path / "links.yaml"
    links.write_text(
        f"proxy: {url}\n"
        "links:\n"
        f"  - {{name: web, listen: '127.0.0.1:{web}', upstream: '127.0.0.1:{tcp_port}'}}\n"
        f"  - {{name: echo, listen: '127.0.0.1:{echo}', upstream: '127.0.0.1:{udp_port}',"
        " protocol: udp}\n"
    )
    with (tmp_path / "proxy.log").open("wb") as log:
        started.append(
            subprocess.Popen(
                [*CLI, "serve", "proxy", "--links", str(links)], stdout=log, stderr=log, env=ENV
            )
        )
    await eventually(lambda: answers(url), what="the proxy's API")

    listed = await asyncio.to_thread(cli, "links", "--proxy", url)
    assert listed.returncode == 0, listed.stderr
    assert f"│ web  │ tcp   │ 127.0.0.1:{web} " in listed.stdout, listed.stdout
    assert f"│ echo │ udp   │ 127.0.0.1:{echo} " in listed.stdout, listed.stdout
    assert await round_trip_s(web) < 0.25 and await udp_echoes(echo)

    added = await asyncio.to_thread(
        cli, "fault", "add", "web", "latency", "--latency", "400", "--ttl", "4", "--proxy", url
    )
    assert added.returncode == 0, added.stderr
    assert "web: latency_downstream" in added.stdout and "latency=400" in added.stdout
    assert await round_trip_s(web) >= 0.4
    lost = await asyncio.to_thread(
        cli, "fault", "add", "echo", "loss", "--probability", "1", "--ttl", "60", "--proxy", url
    )
    assert lost.returncode == 0, lost.stderr
    assert not await udp_echoes(echo)
    faults = await asyncio.to_thread(cli, "fault", "ls", "--proxy", url)
    assert "web: latency_downstream" in faults.stdout and "echo: loss_downstream" in faults.stdout

    # The proxy reverts the latency itself when its TTL runs out: nobody is left to do it.
    async def latency_gone() -> bool:
        return await round_trip_s(web) < 0.25

    await eventually(latency_gone, what="the latency's TTL")
    reset = await asyncio.to_thread(cli, "fault", "reset", "--proxy", url)
    assert reset.returncode == 0 and "all faults removed (1 proxy reset)" in reset.stdout
    assert await udp_echoes(echo)

    unknown = await asyncio.to_thread(cli, "fault", "add", "nope", "latency", "--proxy", url)
    assert unknown.returncode == 1 and "no link named 'nope'; links: echo, web" in unknown.stderr


async def test_a_broken_links_file_binds_nothing(tmp_path: Path) -> None:
    port = free_port()
    links = tmp_path / "links.yaml"
    links.write_text(
        "links:\n"
        f"  - {{name: web, listen: '127.0.0.1:{port}', upstream: 127.0.0.1, protcol: tcp}}\n"
    )
    result = await asyncio.to_thread(cli, "serve", "proxy", "--links", str(links))
    assert result.returncode == 2
    assert f"{links}:2: links[0].upstream: address 127.0.0.1: missing port" in result.stderr
    assert f"{links}:2: links[0].protcol: unknown field 'protcol'" in result.stderr
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))  # still free


async def test_no_proxy_at_the_url_is_one_line(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    result = await asyncio.to_thread(cli, "links", "--proxy", url)
    assert result.returncode == 1
    assert result.stderr.startswith(f"error: no fault proxy answers at {url}:")
    both = await asyncio.to_thread(cli, "fault", "ls", "--proxy", url, "--compose")
    assert both.returncode == 2 and "give one" in both.stderr


async def test_a_real_toxiproxy_driven_by_url(
    tmp_path: Path, echo_servers: tuple[int, int], started: list[subprocess.Popen[bytes]]
) -> None:
    binary = require_tool("toxiproxy-server")
    tcp_port, _ = echo_servers
    api, web = free_port(), free_port()
    url = f"http://127.0.0.1:{api}"
    config = tmp_path / "toxiproxy.json"
    config.write_text(
        f'[{{"name": "web", "listen": "127.0.0.1:{web}", "upstream": "127.0.0.1:{tcp_port}"}}]'
    )
    with (tmp_path / "toxiproxy.log").open("wb") as log:
        started.append(
            subprocess.Popen(
                [binary, "-host", "127.0.0.1", "-port", str(api), "-config", str(config)],
                stdout=log,
                stderr=log,
            )
        )
    await eventually(lambda: answers(url), what="Toxiproxy's API")
    await eventually(lambda: answers(f"http://127.0.0.1:{web}"), what="the web link")

    listed = await asyncio.to_thread(cli, "links", "--proxy", url)
    assert "│ web  │ tcp " in listed.stdout and "│ toxiproxy │" in listed.stdout, listed.stdout

    # Toxiproxy keeps no TTL and no janitor of ours watches it: a TTL is refused, not faked.
    timed = await asyncio.to_thread(
        cli, "fault", "add", "web", "latency", "--latency", "300", "--proxy", url
    )
    assert timed.returncode == 1 and "Toxiproxy keeps no TTL" in timed.stderr
    extension = await asyncio.to_thread(
        cli, "fault", "add", "web", "loss", "--ttl", "0", "--proxy", url
    )
    assert extension.returncode == 1 and "extension of the project's proxy" in extension.stderr

    added = await asyncio.to_thread(
        cli, "fault", "add", "web", "latency", "--latency", "300", "--ttl", "0", "--proxy", url
    )
    assert added.returncode == 0, added.stderr
    assert await round_trip_s(web) >= 0.3
    removed = await asyncio.to_thread(
        cli, "fault", "rm", "web", "latency_downstream", "--proxy", url
    )
    assert removed.returncode == 0, removed.stderr
    assert await round_trip_s(web) < 0.25
    down = await asyncio.to_thread(cli, "fault", "add", "web", "down", "--ttl", "0", "--proxy", url)
    assert down.returncode == 0 and "web: down" in down.stdout
    assert "web: link down" in (await asyncio.to_thread(cli, "fault", "ls", "--proxy", url)).stdout
    assert (await asyncio.to_thread(cli, "fault", "reset", "--proxy", url)).returncode == 0
    assert await round_trip_s(web) < 0.25
