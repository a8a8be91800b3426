"""Servers, clients and polling for the proxy's socket tests (all on 127.0.0.1, ephemeral ports)."""

from __future__ import annotations

import asyncio
import functools
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

from tests import polling


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


eventually = functools.partial(polling.eventually, timeout=3.0, interval=0.01)
"""Poll until true; fail after ``timeout`` seconds (never sleep to synchronise)."""


class Api:
    """The proxy's REST API, as a test talks to it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        data: bytes | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, Any]:
        kwargs: dict[str, Any] = {"headers": headers}
        if body is not None:
            kwargs["json"] = body
        elif data is not None:
            kwargs["data"] = data
        async with self.session.request(method, path, **kwargs) as response:
            text = await response.text()
            if response.content_type == "application/json" and text:
                import json

                return response.status, json.loads(text)
            return response.status, text

    async def create(self, name: str, upstream: str | int, **extra: Any) -> dict[str, Any]:
        if isinstance(upstream, int):
            upstream = f"127.0.0.1:{upstream}"
        body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream, **extra}
        status, proxy = await self.call("POST", "/proxies", body)
        assert status == 201, proxy
        return dict(proxy)

    async def add_toxic(self, proxy: str, **body: Any) -> dict[str, Any]:
        status, toxic = await self.call("POST", f"/proxies/{proxy}/toxics", body)
        assert status == 200, toxic
        return dict(toxic)

    async def remove_toxic(self, proxy: str, toxic: str) -> None:
        status, body = await self.call("DELETE", f"/proxies/{proxy}/toxics/{toxic}")
        assert status == 204, body

    async def patch(self, proxy: str, **body: Any) -> dict[str, Any]:
        status, result = await self.call("PATCH", f"/proxies/{proxy}", body)
        assert status == 200, result
        return dict(result)

    async def toxics(self, proxy: str) -> list[dict[str, Any]]:
        status, result = await self.call("GET", f"/proxies/{proxy}/toxics")
        assert status == 200, result
        return list(result)


# -- TCP ------------------------------------------------------------------------


async def echo_handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Echo until the client half-closes, then close: a half-close test needs exactly this."""
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


def banner_handler(
    banner: bytes, *, close: bool = False
) -> Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]:
    """Send ``banner`` on connect, then echo (or close at once)."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(banner)
        await writer.drain()
        if close:
            writer.close()
            return
        await echo_handler(reader, writer)

    return handle


async def tcp_server(
    handler: Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]],
) -> tuple[asyncio.Server, int]:
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    return server, int(server.sockets[0].getsockname()[1])


async def round_trip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes = b"ping"
) -> float:
    start = time.perf_counter()
    writer.write(payload)
    await writer.drain()
    await reader.readexactly(len(payload))
    return time.perf_counter() - start


async def read_until_closed(reader: asyncio.StreamReader, timeout: float = 3.0) -> bytes:
    return await asyncio.wait_for(reader.read(), timeout)


async def read_until_closed_or_reset(reader: asyncio.StreamReader) -> bytes:
    """What arrives before the peer goes: a close or a reset (b"" then) both count."""
    try:
        return await read_until_closed(reader)
    except ConnectionResetError:
        return b""


async def connect(proxy: dict[str, Any]) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", port_of(str(proxy["listen"])))


def echo_stream(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes
) -> tuple[list[asyncio.Task[None]], bytearray]:
    """Send ``payload`` in 16 KiB writes while collecting the echo: the tasks, and the
    buffer they fill, so a test can change the link while bytes are in flight."""
    received = bytearray()

    async def pump() -> None:
        for offset in range(0, len(payload), 16384):
            writer.write(payload[offset : offset + 16384])
            await writer.drain()
            await asyncio.sleep(0)

    async def collect() -> None:
        while len(received) < len(payload):
            received.extend(await reader.read(65536))

    return [asyncio.create_task(pump()), asyncio.create_task(collect())], received


# -- UDP ------------------------------------------------------------------------


class UdpEcho(asyncio.DatagramProtocol):
    """Echoes each datagram to its sender (optionally prefixed) and counts them."""

    def __init__(self, prefix: bytes = b"") -> None:
        self.prefix = prefix
        self.received: list[bytes] = []
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.received.append(data)
        assert self.transport is not None
        self.transport.sendto(self.prefix + data, addr)


class Udp:
    """Makes UDP echo servers and clients, and closes them all when the test ends."""

    def __init__(self) -> None:
        self._transports: list[asyncio.BaseTransport] = []

    async def echo(self, prefix: bytes = b"") -> tuple[UdpEcho, int]:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            lambda: UdpEcho(prefix), local_addr=("127.0.0.1", 0)
        )
        self._transports.append(transport)
        return protocol, int(transport.get_extra_info("sockname")[1])

    async def client(self, port: int) -> UdpClient:
        loop = asyncio.get_running_loop()
        transport, protocol = await loop.create_datagram_endpoint(
            UdpClient, remote_addr=("127.0.0.1", port)
        )
        self._transports.append(transport)
        return protocol

    def close(self) -> None:
        for transport in self._transports:
            transport.close()


class UdpClient(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()
        self.transport: asyncio.DatagramTransport | None = None
        self.errors: list[Exception] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)

    def error_received(self, exc: Exception) -> None:
        self.errors.append(exc)

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.sendto(data)

    async def recv(self, timeout: float = 2.0) -> bytes:
        return await asyncio.wait_for(self.queue.get(), timeout)

    async def nothing_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self.queue.get(), seconds)
        except TimeoutError:
            return True
        return False
