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


def run_announcing_json(service: Service) -> int:
    """The ``python -m ...`` entry points: endpoints as one JSON line, exit code 1 on a
    taken port, so a parent process can start a node on port 0 and learn where it is."""
    import json
    import sys

    from services.common.errors import PortInUseError

    def announce(endpoints: dict[str, str]) -> None:
        print(json.dumps({"node": service.name, "endpoints": endpoints}), flush=True)

    try:
        run(service, announce)
    except PortInUseError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
