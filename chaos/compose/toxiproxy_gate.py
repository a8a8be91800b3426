"""A token in front of Toxiproxy's API, which cannot check one itself.

In the compose mesh Toxiproxy's API listens on 127.0.0.1 inside its own container,
where nothing else can reach it. This gate shares that container's network namespace
(``network_mode: service:toxiproxy``), listens on the address the host publishes and
passes a request on only with ``X-Fallacies-Admin-Token``; ``/version`` and ``/metrics``
stay open for the healthcheck and Prometheus. The body, status and content type come
back untouched, so the Toxiproxy clients (ours, toxiproxy-python, toxiproxy-cli) work
through it unchanged.

``python -m chaos.compose.toxiproxy_gate --host 0.0.0.0 --port 8475
--upstream http://127.0.0.1:8474`` (token from ``$FALLACIES_ADMIN_TOKEN``)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

import aiohttp
from aiohttp import web

from services.common.admin_token import ENV, protect
from services.common.base import Service
from services.common.http import json_error, start_site
from services.common.lifecycle import run_announcing_json

__all__ = ["ToxiproxyGate"]

FORWARDED_HEADERS = ("Content-Type", "User-Agent", "Accept", "X-Fallacies-Actor")
"""Toxiproxy answers browsers with 403 (it reads User-Agent): that must pass as sent."""
UPSTREAM_TIMEOUT_S = 10.0
MAX_BODY = 1 << 20


class ToxiproxyGate(Service):
    name = "toxiproxy-gate"

    def __init__(
        self,
        *,
        upstream: str,
        host: str = "127.0.0.1",
        port: int = 0,
        admin_token: str | None = None,
    ) -> None:
        self.upstream = upstream.rstrip("/")
        self.host = host
        self.port = port
        self.admin_token = admin_token
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    @property
    def endpoints(self) -> dict[str, str]:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return {"api": f"http://{host}:{self.port}", "upstream": self.upstream}

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=UPSTREAM_TIMEOUT_S), auto_decompress=False
        )
        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", self._forward)
        protect(app, token=self.admin_token, host=self.host)
        try:
            self._runner, self.port = await start_site(
                app, self.host, self.port, what="Toxiproxy gate"
            )
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.compose.toxiproxy_gate")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8475)
    parser.add_argument("--upstream", default="http://127.0.0.1:8474", help="Toxiproxy's API")
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING").upper())
    gate = ToxiproxyGate(
        upstream=args.upstream,
        host=args.host,
        port=args.port,
        admin_token=os.environ.get(ENV) or None,
    )
    return run_announcing_json(gate)


if __name__ == "__main__":
    sys.exit(main())
