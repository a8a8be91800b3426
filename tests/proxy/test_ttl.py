"""TTL: faults end on their own, even when whoever injected them is gone (kill -9)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import textwrap
import time

from chaos.proxy import ProxyServer
from tests.proxy.helpers import Api, eventually


async def test_a_toxic_with_a_ttl_is_gone_without_any_call(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    start = time.monotonic()
    await api.add_toxic("echo", type="latency", attributes={"latency": 100}, ttl=2)
    assert [t["name"] for t in await api.toxics("echo")] == ["latency_downstream"]

    async def gone() -> bool:
        return not await api.toxics("echo")

    left = 3.0 - (time.monotonic() - start)
    await eventually(gone, timeout=left, interval=0.05, what="TTL expiry within 3 s")
    assert time.monotonic() - start >= 1.9


async def test_ttl_outlives_the_process_that_set_it(
    api: Api, server: ProxyServer, echo_port: int
) -> None:
    await api.create("echo", echo_port)
    injector = textwrap.dedent(
        f"""
        import json, sys, time, urllib.request
        toxic = {{"type": "timeout", "ttl": 1.5, "attributes": {{"timeout": 0}}}}
        body = json.dumps(toxic).encode()
        request = urllib.request.Request(
            "{server.api_url}/proxies/echo/toxics", data=body,
            headers={{"X-Fallacies-Actor": "doomed-runner", "Content-Type": "application/json"}},
        )
        urllib.request.urlopen(request).read()
        print("injected", flush=True)
        time.sleep(3600)
        """
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-c", injector, stdout=asyncio.subprocess.PIPE
    )
    try:
        assert process.stdout is not None
        assert await asyncio.wait_for(process.stdout.readline(), 10) == b"injected\n"
        os.kill(process.pid, signal.SIGKILL)
        assert await asyncio.wait_for(process.wait(), 5) == -signal.SIGKILL
        assert [t["name"] for t in await api.toxics("echo")] == ["timeout_downstream"]

        async def cleared() -> bool:
            return not await api.toxics("echo")

        await eventually(
            cleared, timeout=3.0, interval=0.05, what="the dead runner's toxic expiring"
        )
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    _, audit = await api.call("GET", "/audit")
    assert [(e["action"], e["actor"]) for e in audit["entries"]][-2:] == [
        ("toxic.create", "doomed-runner"),
        ("toxic.expire", "ttl"),
    ]


async def test_a_deleted_toxic_is_not_expired_twice(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    await api.add_toxic("echo", type="latency", ttl=0.2)
    await api.remove_toxic("echo", "latency_downstream")
    await api.add_toxic("echo", type="latency")
    await asyncio.sleep(0.4)
    assert [t["name"] for t in await api.toxics("echo")] == ["latency_downstream"]
