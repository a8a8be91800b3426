"""Sockets and clocks for the contract suite: upstream servers, client connections, deadlines.

Everything binds 127.0.0.1 port 0. Waits poll with a deadline instead of sleeping,
so a slow machine makes a test slower, never flaky; timing assertions state their
tolerance where they are made.
"""

from __future__ import annotations

import asyncio
import functools
import time
from dataclasses import dataclass, field
from typing import Any

import aiohttp

from chaos.toxiproxy import USER_AGENT
from tests import polling

DEADLINE = 5.0
"""Seconds any single wait may take before the test fails rather than hangs."""


class Upstream:
    """A TCP server behind a proxy: sends ``greeting``, then ``payload``, then echoes.

    With ``close_after_payload`` it closes right after the payload instead of
    echoing (for toxics that act on the end of a stream). ``connections`` counts
    accepted connections so tests can tell whether the proxy dialled it.
    """

    def __init__(
        self, *, greeting: bytes = b"", payload: bytes = b"", close_after_payload: bool = False
    ) -> None:
        self.greeting = greeting
        self.payload = payload
        self.close_after_payload = close_after_payload
        self.connections = 0
        self.received = bytearray()
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    @property
    def address(self) -> str:
        assert self._server is not None
        host, port = self._server.sockets[0].getsockname()[:2]
        return f"{host}:{port}"

    async def start(self) -> Upstream:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return self

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        self._writers.add(writer)
        try:
            if self.greeting or self.payload:
                writer.write(self.greeting + self.payload)
                await writer.drain()
            if self.close_after_payload:
                return
            while data := await reader.read(65536):
                self.received += data
                writer.write(data)
                await writer.drain()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self._writers.discard(writer)
            writer.close()


async def connect(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = address.rsplit(":", 1)
    return await asyncio.wait_for(asyncio.open_connection(host, int(port)), DEADLINE)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await asyncio.wait_for(writer.wait_closed(), DEADLINE)
    except (ConnectionError, TimeoutError):
        pass


async def refuses(address: str) -> bool:
    """Whether nothing listens at ``address`` (connection refused)."""
    try:
        _, writer = await connect(address)
    except ConnectionRefusedError:
        return True
    await close(writer)
    return False


async def read_exactly(reader: asyncio.StreamReader, n: int, deadline: float = DEADLINE) -> bytes:
    return await asyncio.wait_for(reader.readexactly(n), deadline)


async def roundtrip(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, payload: bytes = b"ping"
) -> float:
    """Send ``payload`` to an echoing upstream and return seconds until it is all back."""
    started = time.monotonic()
    writer.write(payload)
    await writer.drain()
    assert await read_exactly(reader, len(payload)) == payload
    return time.monotonic() - started


@dataclass
class StreamEnd:
    """What a client saw until its stream ended: bytes, reads, how, and when."""

    data: bytes = b""
    chunks: list[bytes] = field(default_factory=list)
    ended_by: str = "open"  # "eof" | "reset" | "open" (nothing ended before the deadline)
    first_byte_at: float | None = None
    ended_at: float | None = None


async def read_until_end(
    reader: asyncio.StreamReader, *, started: float, deadline: float = DEADLINE
) -> StreamEnd:
    """Read until EOF, a reset or ``deadline`` seconds; times are relative to ``started``."""
    seen = StreamEnd()
    stop_at = started + deadline
    while True:
        remaining = stop_at - time.monotonic()
        if remaining <= 0:
            return seen
        try:
            chunk = await asyncio.wait_for(reader.read(65536), remaining)
        except TimeoutError:
            return seen
        except ConnectionResetError:
            seen.ended_by, seen.ended_at = "reset", time.monotonic() - started
            return seen
        if not chunk:
            seen.ended_by, seen.ended_at = "eof", time.monotonic() - started
            return seen
        if seen.first_byte_at is None:
            seen.first_byte_at = time.monotonic() - started
        seen.chunks.append(chunk)
        seen.data += chunk


eventually = functools.partial(polling.eventually, timeout=DEADLINE, interval=0.01)
"""Poll ``check`` until it is true; fail after ``DEADLINE`` seconds."""


@dataclass
class Raw:
    """One HTTP answer as it came over the wire, for checks the typed client hides."""

    status: int
    content_type: str
    text: str
    body: Any  # decoded JSON, or None when the body is not JSON


async def raw(
    session: aiohttp.ClientSession,
    base_url: str,
    method: str,
    path: str,
    body: Any = None,
    *,
    data: str | None = None,
    headers: dict[str, str] | None = None,
) -> Raw:
    """Send one request with the client's user agent (or ``headers``) and return it raw."""
    import json

    sent_headers = {"User-Agent": USER_AGENT, **(headers or {})}
    payload = data if data is not None else (None if body is None else json.dumps(body))
    async with asyncio.timeout(DEADLINE):
        async with session.request(
            method, base_url + path, data=payload, headers=sent_headers
        ) as resp:
            text = await resp.text()
            try:
                decoded = json.loads(text) if text.strip() else None
            except ValueError:
                decoded = None
            return Raw(resp.status, resp.headers.get("Content-Type", ""), text, decoded)
