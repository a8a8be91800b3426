"""An aiohttp upstream for the HTTP toxics' tests: short, chunked, echoed answers, a websocket."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from aiohttp import WSMsgType, web


async def _hello(request: web.Request) -> web.Response:
    return web.Response(text="hello, world", headers={"X-Served-By": "upstream"})


async def _headers(request: web.Request) -> web.Response:
    return web.json_response({k.lower(): v for k, v in request.headers.items()})


async def _chunked(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    for piece in (b"one ", b"two ", b"three"):
        await response.write(piece)
    await response.write_eof()
    return response


async def _echo(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse()
    response.enable_chunked_encoding()
    await response.prepare(request)
    async for piece in request.content.iter_any():
        await response.write(piece)
    await response.write_eof()
    return response


async def _count(request: web.Request) -> web.Response:
    """Reads the body to the end without keeping it: a 50 MB upload costs nothing here."""
    total = 0
    async for piece in request.content.iter_any():
        total += len(piece)
    return web.json_response({"bytes": total})


async def _big(request: web.Request) -> web.StreamResponse:
    size = int(request.query["bytes"])
    response = web.StreamResponse(headers={"Content-Length": str(size)})
    await response.prepare(request)
    block = b"x" * 65536
    left = size
    while left:
        piece = block[: min(left, len(block))]
        await response.write(piece)
        left -= len(piece)
    await response.write_eof()
    return response


async def _ws(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()
    await ws.prepare(request)
    async for message in ws:
        if message.type is WSMsgType.TEXT:
            await ws.send_str(json.dumps({"echo": message.data}))
    return ws


@asynccontextmanager
async def upstream() -> AsyncIterator[int]:
    app = web.Application(client_max_size=1 << 30)
    app.router.add_get("/hello", _hello)
    app.router.add_get("/headers", _headers)
    app.router.add_get("/chunked", _chunked)
    app.router.add_post("/echo", _echo)
    app.router.add_post("/count", _count)
    app.router.add_get("/big", _big)
    app.router.add_get("/ws", _ws)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        yield int(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    finally:
        await runner.cleanup()
