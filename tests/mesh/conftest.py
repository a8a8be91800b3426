from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chaos.mesh.plan import build_plan
from chaos.mesh.state import MeshState
from chaos.mesh.supervisor import Supervisor


async def scrape(url: str) -> dict[str, float]:
    """Prometheus text -> {'name{labels}': value} (enough for assertions)."""
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
        async with session.get(url) as response:
            text = await response.text()
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, _, value = line.rpartition(" ")
            samples[key] = float(value)
    return samples


def total(samples: dict[str, float], name: str, **labels: str) -> float:
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    return sum(
        value
        for key, value in samples.items()
        if re.match(rf"{re.escape(name)}(\{{|$)", key) and all(w in key for w in wanted)
    )


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await _pause()
    raise AssertionError(f"condition not met within {timeout} s (last: {last!r})")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.2)


@pytest.fixture
async def mesh(tmp_path: Path) -> AsyncIterator[tuple[Supervisor, MeshState]]:
    supervisor = Supervisor(build_plan(base_port=0, seed=7), tmp_path / "state")
    await supervisor.start()
    try:
        state = MeshState.read(tmp_path / "state")
        assert state is not None
        yield supervisor, state
    finally:
        await supervisor.stop()
