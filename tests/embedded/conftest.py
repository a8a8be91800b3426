from __future__ import annotations

import functools
import re
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from chaos.embedded.plan import build_plan
from chaos.embedded.supervisor import Supervisor
from chaos.mesh.state import MeshState
from tests import polling


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


eventually = functools.partial(polling.eventually, timeout=15.0, interval=0.2)
"""Poll ``check`` until it returns something truthy; fail at the deadline."""


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
