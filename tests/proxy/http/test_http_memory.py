"""A 50 MB body each way through an HTTP relay, with the proxy in its own process so its
peak memory (``VmHWM``) is its own: bodies stream, they are never held whole."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp

from tests.proxy.helpers import Api, port_of
from tests.proxy.http.upstream import upstream

SIZE = 50 * 1024 * 1024
ALLOWED_GROWTH_KB = 16 * 1024
"""Peak over the warmed-up resident size; a body held whole would be 50 MB."""


def _status_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} in /proc/{pid}/status")


async def _blocks() -> AsyncIterator[bytes]:
    block = b"z" * (1 << 20)
    for _ in range(SIZE // len(block)):
        yield block


async def test_a_50_mb_body_each_way_keeps_the_proxy_small() -> None:
    proxy = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "chaos.proxy", "--port", "0", stdout=asyncio.subprocess.PIPE
    )
    try:
        assert proxy.stdout is not None
        line = await asyncio.wait_for(proxy.stdout.readline(), 30)
        api_url = json.loads(line)["endpoints"]["api"]
        async with upstream() as port, aiohttp.ClientSession(api_url) as session:
            api = Api(session)
            link = await api.create("web", port)
            await api.add_toxic("web", type="http_header", attributes={"name": "X-A", "value": "1"})
            base = f"http://127.0.0.1:{port_of(link['listen'])}"
            async with aiohttp.ClientSession(base) as client:
                async with client.post("/count", data=b"warm" * 1000) as response:
                    assert response.headers["X-A"] == "1"
                before = _status_kb(proxy.pid, "VmRSS")
                async with client.post("/count", data=_blocks()) as response:
                    assert (await response.json()) == {"bytes": SIZE}
                async with client.get("/big", params={"bytes": str(SIZE)}) as response:
                    received = 0
                    async for piece in response.content.iter_chunked(1 << 16):
                        received += len(piece)
                assert received == SIZE
            peak = _status_kb(proxy.pid, "VmHWM")
        assert peak - before < ALLOWED_GROWTH_KB, f"{before} kB → peak {peak} kB"
    finally:
        proxy.terminate()
        await proxy.wait()
