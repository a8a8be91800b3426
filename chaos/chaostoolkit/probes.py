"""Chaos Toolkit probes: is a fault in force, and what a signal of the mesh reads now."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from chaos.chaostoolkit._target import Configuration, state_of, with_context
from chaos.faults import FaultContext
from chaos.signals import SIGNALS
from chaos.signals.sampler import Sampler

__all__ = ["fault_active", "signal_value"]


def fault_active(
    link: str, name: str | None = None, configuration: Configuration = None, secrets: Any = None
) -> bool:
    """Whether ``link`` carries the toxic ``name`` (any toxic when None) or is down."""

    async def look(ctx: FaultContext) -> bool:
        for view in await ctx.links.views():
            if view.name != link:
                continue
            if name is None:
                return bool(view.toxics) or view.enabled is False
            return any(toxic.name == name for toxic in view.toxics)
        raise ValueError(f"no link named {link!r}; links: {', '.join(sorted(ctx.state.links))}")

    return with_context(configuration, look)


def signal_value(
    signal: str,
    client: str = "resilient",
    window_s: float = 3.0,
    configuration: Configuration = None,
    secrets: Any = None,
) -> float | None:
    """A signal of the runner's (``journey_success_ratio``, ``journey_p99_seconds``...)
    over the next ``window_s`` seconds, for the ``naive`` or ``resilient`` client; None
    when there was nothing to measure (a stalled client finishes no journey)."""
    if signal not in SIGNALS:
        raise ValueError(f"unknown signal {signal!r}; known: {', '.join(sorted(SIGNALS))}")
    if client not in ("naive", "resilient"):
        raise ValueError(f"client {client!r}: naive or resilient")

    async def measure() -> float | None:
        state = await state_of(configuration)
        targets = state.metrics_targets()
        if not targets:
            raise ValueError("signals need a mesh (its workload's metrics), not a bare proxy")
        async with state.session(10) as session:
            sampler = Sampler(targets, session=session)
            started = time.monotonic()
            first = await sampler.scrape(0.0)
            await asyncio.sleep(window_s)
            last = await sampler.scrape(time.monotonic() - started)
        return SIGNALS[signal].value([first, last], client)

    return asyncio.run(measure())
