"""Test helpers: a signing client, a fake clock, a cuttable TCP relay, and polling."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from multidict import CIMultiDictProxy
from yarl import URL

from services.api.config import DEFAULT_KEYS, DEFAULT_RESPONSE_KEYS
from services.api.signing import sign_request, verify_response
from tests import polling

KEY_ID, SECRET = next(iter(DEFAULT_KEYS.items()))
ADMIN = {"X-Fallacies-Admin-Token": "fallacies-admin"}


class FakeClock:
    """A wall clock the test moves by hand; starts at the real time so signatures look normal."""

    def __init__(self, start: float | None = None) -> None:
        self.now = time.time() if start is None else start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Reply:
    status: int
    headers: CIMultiDictProxy[str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class SignedClient:
    """Signs like the workload client will: ``sign_request`` over the target as sent."""

    session: aiohttp.ClientSession
    base_url: str
    key_id: str = KEY_ID
    secret: str = SECRET
    clock: Callable[[], float] = time.time
    response_keys: dict[str, str] = field(default_factory=lambda: dict(DEFAULT_RESPONSE_KEYS))

    async def call(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        body: bytes | None = None,
        headers: dict[str, str] | None = None,
        sign: bool = True,
        verify: bool = True,
    ) -> Reply:
        if json_body is not None:
            body = json.dumps(json_body).encode()
        sent: dict[str, str] = {"Content-Type": "application/json"} if body else {}
        if sign:
            sent.update(sign_request(method, path, body, self.key_id, self.secret, self.clock()))
        sent.update(headers or {})
        url = URL(self.base_url.rstrip("/") + path, encoded=True)
        async with self.session.request(method, url, data=body, headers=sent) as resp:
            reply = Reply(resp.status, resp.headers, await resp.read())
        if verify:
            verify_response(
                method, path, reply.status, reply.body, reply.headers, self.response_keys
            )
        return reply


eventually = polling.eventually
"""Poll until a condition holds (no fixed sleeps in tests)."""


class Relay:
    """A TCP relay on 127.0.0.1 that a test can partition and heal: one link of the mesh."""

    def __init__(self) -> None:
        self.target: int | None = None
        self.cut = False
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()
        self._every_writer: list[asyncio.StreamWriter] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def partition(self) -> None:
        self.cut = True
        for writer in list(self._writers):
            writer.close()

    def heal(self) -> None:
        self.cut = False

    async def stop(self) -> None:
        self.partition()
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for writer in self._every_writer:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        if self._server is not None:
            await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self._every_writer.append(writer)
        upstream: asyncio.StreamWriter | None = None
        try:
            if self.cut or self.target is None:
                return
            up_reader, upstream = await asyncio.open_connection("127.0.0.1", self.target)
            self._writers.add(upstream)
            self._every_writer.append(upstream)
            await asyncio.gather(_pipe(reader, upstream), _pipe(up_reader, writer))
        except (OSError, asyncio.CancelledError):
            pass
        finally:
            for w in (writer, upstream):
                if w is not None:
                    self._writers.discard(w)
                    w.close()
            self._tasks.discard(task)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        writer.close()
