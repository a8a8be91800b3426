"""Run a service until SIGINT/SIGTERM: what ``fallacies serve`` and each mesh process do."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable

from services.common.base import Service


async def serve_until_signalled(
    service: Service, announce: Callable[[dict[str, str]], None] | None = None
) -> None:
    """Start, announce the endpoints, wait for a signal, stop cleanly."""
    loop = asyncio.get_running_loop()
    stopping = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stopping.set)
    try:
        await service.start()
        try:
            if announce is not None:
                announce(service.endpoints)
            await stopping.wait()
        finally:
            await service.stop()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(service: Service, announce: Callable[[dict[str, str]], None] | None = None) -> None:
    """Blocking entry point; uses uvloop when it is installed."""
    try:
        import uvloop

        uvloop.run(serve_until_signalled(service, announce))
    except ImportError:
        asyncio.run(serve_until_signalled(service, announce))
