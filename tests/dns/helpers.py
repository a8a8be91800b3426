"""Clients for the DNS tests: dig in a subprocess, raw UDP and TCP exchanges."""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from typing import Any

from tests.conftest import require_tool

TIMEOUT = 5.0
"""Seconds any single exchange may take on loopback before the test fails."""


@dataclass
class DigResult:
    status: str
    flags: set[str]
    answer: list[str] = field(default_factory=list)
    authority: list[str] = field(default_factory=list)
    output: str = ""

    def values(self) -> list[str]:
        """RDATA of each answer line (everything after owner, TTL, class and type)."""
        return [line.split(None, 4)[4] for line in self.answer]


async def dig(port: int, name: str, rdtype: str = "A", *options: str) -> DigResult:
    exe = require_tool("dig")
    process = await asyncio.create_subprocess_exec(
        exe,
        "@127.0.0.1",
        "-p",
        str(port),
        name,
        rdtype,
        "+norec",
        "+time=2",
        "+tries=1",
        *options,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), TIMEOUT * 2)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    text = out.decode()
    status = re.search(r"status: (\w+)", text)
    flags = re.search(r";; flags: ([^;]*);", text)
    assert status is not None and flags is not None, f"dig failed: {text}{err.decode()}"
    return DigResult(
        status=status.group(1),
        flags=set(flags.group(1).split()),
        answer=_section(text, "ANSWER"),
        authority=_section(text, "AUTHORITY"),
        output=text,
    )


def _section(text: str, name: str) -> list[str]:
    lines = text.splitlines()
    try:
        start = lines.index(f";; {name} SECTION:") + 1
    except ValueError:
        return []
    out: list[str] = []
    for line in lines[start:]:
        if not line.strip():
            break
        out.append(line)
    return out


class _Collector(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes] = asyncio.Queue()

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.queue.put_nowait(data)


class UDPClient:
    """One client socket: send many datagrams, read replies in arrival order."""

    def __init__(self, transport: asyncio.DatagramTransport, collector: _Collector) -> None:
        self._transport = transport
        self._collector = collector

    @classmethod
    async def connect(cls, port: int) -> UDPClient:
        loop = asyncio.get_running_loop()
        transport, collector = await loop.create_datagram_endpoint(
            _Collector, remote_addr=("127.0.0.1", port)
        )
        return cls(transport, collector)

    def send(self, data: bytes) -> None:
        self._transport.sendto(data)

    async def receive(self) -> bytes:
        return await asyncio.wait_for(self._collector.queue.get(), TIMEOUT)

    def close(self) -> None:
        self._transport.close()


async def tcp_open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), TIMEOUT)


def frame(message: bytes) -> bytes:
    return len(message).to_bytes(2, "big") + message


async def read_frame(reader: asyncio.StreamReader) -> bytes:
    size = int.from_bytes(await asyncio.wait_for(reader.readexactly(2), TIMEOUT), "big")
    return await asyncio.wait_for(reader.readexactly(size), TIMEOUT)


async def close_writer(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except ConnectionError:
        pass
