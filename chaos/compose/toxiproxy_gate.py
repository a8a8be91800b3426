"""A token in front of Toxiproxy's API, which cannot check one itself.

In the compose mesh Toxiproxy's API listens on 127.0.0.1 inside its own container,
where nothing else can reach it. This gate shares that container's network namespace
(``network_mode: service:toxiproxy``), listens on the address the host publishes and
passes a request on only with ``X-Fallacies-Admin-Token``; ``/version`` and ``/metrics``
stay open for the healthcheck and Prometheus. The body, status and content type come
back untouched, so the Toxiproxy clients (ours, toxiproxy-python, toxiproxy-cli) work
through it unchanged.

Sharing a namespace has one catch: when Toxiproxy's container restarts it gets a new
one, and the gate is left in the old, empty one. ``--exit-after`` makes the gate leave
once Toxiproxy has not answered for that long, so the restart policy starts it again
inside the new namespace (the control service also restarts it at once when it starts
Toxiproxy itself).

``python -m chaos.compose.toxiproxy_gate --host 0.0.0.0 --port 8475
--upstream http://127.0.0.1:8474 [--exit-after 5]`` (token from ``$FALLACIES_ADMIN_TOKEN``)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
import sys
import time
from collections.abc import Callable

import aiohttp
from aiohttp import web

from services.common.address import http_url
from services.common.admin_token import protect, token_from_env
from services.common.base import Service
from services.common.http import json_error, start_site
from services.common.lifecycle import run_announcing_json

__all__ = ["ToxiproxyGate"]

FORWARDED_HEADERS = ("Content-Type", "User-Agent", "Accept", "X-Fallacies-Actor")
"""Toxiproxy answers browsers with 403 (it reads User-Agent): that must pass as sent."""
UPSTREAM_TIMEOUT_S = 10.0
MAX_BODY = 1 << 20
PROBE_INTERVAL_S = 0.5

log = logging.getLogger(__name__)


class ToxiproxyGate(Service):
    name = "toxiproxy-gate"

    def __init__(
        self,
        *,
        upstream: str,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_token: str | None = None,
        exit_after_s: float | None = None,
        on_upstream_lost: Callable[[], None] | None = None,
    ) -> None:
        if exit_after_s is not None and exit_after_s <= 0:
            raise ValueError("exit_after_s must be a positive number of seconds")
        self.upstream = upstream.rstrip("/")
        self.host = host
        self.port = port
        self.admin_token = admin_token
        self.exit_after_s = exit_after_s
        self.on_upstream_lost = on_upstream_lost or _terminate_self
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._watchdog: asyncio.Task[None] | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        return {"api": http_url(self.host, self.port), "upstream": self.upstream}

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S), auto_decompress=False
        )
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        protect(app, token=self.admin_token, host=self.host, simple_bodies=True)
        try:
            self._runner, self.port = await start_site(
                app, self.host, self.port, what="Toxiproxy gate"
            )
        except BaseException:
            await self.stop()
            raise
        if self.exit_after_s is not None:
            self._watchdog = asyncio.create_task(self._watch(self.exit_after_s))

    async def _watch(self, exit_after_s: float) -> None:
        assert self._session is not None
        last_answer = time.monotonic()
        timeout = aiohttp.ClientTimeout(total=max(PROBE_INTERVAL_S, 1.0))
        while True:
            await asyncio.sleep(PROBE_INTERVAL_S)
            try:
                async with self._session.get(f"{self.upstream}/version", timeout=timeout) as r:
                    if r.status == 200:
                        last_answer = time.monotonic()
            except (aiohttp.ClientError, TimeoutError):
                pass
            if time.monotonic() - last_answer >= exit_after_s:
                log.error("Toxiproxy at %s silent for %.0f s: leaving", self.upstream, exit_after_s)
                self.on_upstream_lost()
                return

    async def stop(self) -> None:
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    async def _forward(self, request: web.Request) -> web.Response:
        assert self._session is not None
        headers = {k: request.headers[k] for k in FORWARDED_HEADERS if k in request.headers}
        body = await request.read()
        try:
            async with self._session.request(
                request.method,
                self.upstream + request.path_qs,
                data=body or None,
                headers=headers,
                allow_redirects=False,
            ) as upstream:
                payload = await upstream.read()
                reply = web.Response(status=upstream.status, body=payload)
                for name in ("Content-Type", "Content-Encoding"):
                    if name in upstream.headers:
                        reply.headers[name] = upstream.headers[name]
                return reply
        except (aiohttp.ClientError, TimeoutError) as exc:
            return json_error(502, f"Toxiproxy at {self.upstream} did not answer: {exc!r}")


def _terminate_self() -> None:
    """A clean stop: the restart policy (``unless-stopped``) starts the container again."""
    os.kill(os.getpid(), signal.SIGTERM)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.compose.toxiproxy_gate")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8475)
    parser.add_argument("--upstream", default="http://127.0.0.1:8474", help="Toxiproxy's API")
    parser.add_argument(
        "--exit-after", type=float, help="leave once Toxiproxy has been silent this many seconds"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    gate = ToxiproxyGate(
        upstream=args.upstream,
        host=args.host,
        port=args.port,
        admin_token=token_from_env(),
        exit_after_s=args.exit_after,
    )
    return run_announcing_json(gate)


if __name__ == "__main__":
    sys.exit(main())
