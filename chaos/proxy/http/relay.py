"""The HTTP end of one TCP connection: h11 on both sides, the link's HTTP toxics per exchange.

Two h11 state machines re-frame every message: ``_server`` speaks to the
client (it parses requests and frames responses), ``_client`` to the upstream
(it frames requests and parses responses). h11 keeps one exchange in flight,
so a pipelined request waits until the response before it is out; bodies
stream event by event and each inbox holds at most ``HIGH_WATER`` bytes before
its source is paused, so a 50 MB body never sits in memory. ``Expect:
100-continue`` goes through (the upstream's 100 is passed on), an upgrade or
CONNECT is relayed byte for byte once agreed, and ``Connection: close`` ends
the connection after its exchange.

A relay added to a connection that already carried bytes (its first HTTP toxic
arrived mid-life) cannot know where a message starts. It waits for the next
bytes: when the client speaks first and they parse as a request, it is in step;
when the upstream speaks first, or the bytes are no request, the connection is
relayed unparsed for the rest of its life, as it would have been without the
toxic. On a connection it saw from the start, malformed HTTP from either side
gets a 400 (client) or 502 (upstream) when no response has begun, a log line,
and the end of that connection only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Protocol

import h11

from chaos.proxy.http.exchange import Answer, Exchange, Headers, HttpContext
from chaos.proxy.toxic_collection import ToxicCollection
from chaos.proxy.toxics.base import HttpToxic
from chaos.proxy.wrapper import ToxicWrapper

_Applied = list[tuple[HttpToxic, HttpContext]]

__all__ = ["HIGH_WATER", "HttpRelay"]

log = logging.getLogger(__name__)

HIGH_WATER = 256 * 1024
"""Bytes an inbox holds before its source is asked to pause."""
_LOW_WATER = 64 * 1024


class _Downstream(Protocol):
    """The down pipeline, toward the client."""

    def feed(self, data: bytes) -> None: ...

    def feed_eof(self) -> None: ...


class _Upstream(Protocol):
    """The up pipeline, whose destination the relay is."""

    def dest_paused(self, paused: bool) -> None: ...


class _Raw(Exception):
    """Stop parsing: relay the rest of the connection byte for byte."""

    def __init__(self, to_upstream: bytes = b"", to_client: bytes = b"") -> None:
        self.to_upstream = to_upstream
        self.to_client = to_client


class _Cut(Exception):
    """A toxic ends the connection here (``http_abort``, a body whose length lies)."""


class _Inbox:
    """Bytes from one side, waiting for the relay; ``full`` past the high mark, until it
    drains below the low one (``changed`` is called each time ``full`` flips)."""

    def __init__(self, changed: Callable[[], None]) -> None:
        self._chunks: deque[bytes] = deque()
        self._bytes = 0
        self.eof = False
        self._changed = changed
        self.full = False
        self.waiter: asyncio.Future[None] | None = None

    def __bool__(self) -> bool:
        return bool(self._chunks) or self.eof

    def put(self, data: bytes) -> None:
        if self.eof or not data:
            return
        self._chunks.append(data)
        self._bytes += len(data)
        if not self.full and self._bytes > HIGH_WATER:
            self.full = True
            self._changed()
        self._wake()

    def put_eof(self) -> None:
        self.eof = True
        self._wake()

    async def get(self) -> bytes:
        """The next bytes; ``b""`` once at end of stream."""
        while not self._chunks:
            if self.eof:
                return b""
            await _wait_for(self)
        data = self._chunks.popleft()
        self._bytes -= len(data)
        if self.full and self._bytes < _LOW_WATER:
            self.full = False
            self._changed()
        return data

    def _wake(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)


async def _wait_for(*inboxes: _Inbox) -> None:
    """Until one of ``inboxes`` has bytes or its end."""
    if any(inboxes):
        return
    waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    for inbox in inboxes:
        inbox.waiter = waiter
    try:
        await waiter
    finally:
        for inbox in inboxes:
            inbox.waiter = None


class _Gate:
    """Open unless the far side asked us to wait (its buffers are full)."""

    def __init__(self) -> None:
        self._open = asyncio.Event()
        self._open.set()

    @property
    def closed(self) -> bool:
        return not self._open.is_set()

    def set(self, paused: bool) -> None:
        if paused:
            self._open.clear()
        else:
            self._open.set()

    async def wait(self) -> None:
        await self._open.wait()


class HttpRelay:
    """Stands between the pipelines and the upstream socket, as a transport to each."""

    def __init__(
        self,
        link: str,
        toxics: ToxicCollection,
        *,
        send_upstream: Callable[[bytes], None],
        upstream_eof: Callable[[], None],
        pause_upstream: Callable[[bool], None],
        up: _Upstream,
        down: _Downstream,
        abort: Callable[[], None],
        in_step: bool,
    ) -> None:
        self._link = link
        self._toxics = toxics
        self._send_upstream = send_upstream
        self._upstream_eof = upstream_eof
        self._pause_upstream = pause_upstream
        self._up = up
        self._down = down
        self._abort = abort
        self._server = h11.Connection(h11.SERVER)
        self._client = h11.Connection(h11.CLIENT)
        self._requests = _Inbox(self._sync_requests)
        self._responses = _Inbox(self._sync_responses)
        self._to_client = _Gate()
        self._to_upstream = _Gate()
        self._replay: bytearray | None = None if in_step else bytearray()
        self._response_started = False
        self._continued = False
        self._closing = False
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    def close(self) -> None:
        self._closing = True
        if self._task is not None and not self._task.done():
            self._task.cancel()

    # -- the up pipeline's destination ----------------------------------------

    def write(self, data: bytes) -> None:
        self._requests.put(bytes(data))

    def write_eof(self) -> None:
        self._requests.put_eof()

    # -- the down pipeline's source --------------------------------------------

    def pause_reading(self) -> None:
        self._to_client.set(True)
        self._sync_responses()

    def resume_reading(self) -> None:
        self._to_client.set(False)
        self._sync_responses()

    def is_closing(self) -> bool:
        return self._closing

    # -- the upstream socket's protocol -----------------------------------------

    def feed(self, data: bytes) -> None:
        self._responses.put(data)

    def feed_eof(self) -> None:
        self._responses.put_eof()

    def dest_paused(self, paused: bool) -> None:
        self._to_upstream.set(paused)
        self._sync_requests()

    # -- flow control -------------------------------------------------------------

    def _sync_requests(self) -> None:
        """The client waits while requests pile up here or the upstream's buffer is full."""
        self._up.dest_paused(self._requests.full or self._to_upstream.closed)

    def _sync_responses(self) -> None:
        """The upstream waits while answers pile up here or the client's buffer is full."""
        self._pause_upstream(self._responses.full or self._to_client.closed)

    # -- the exchanges ------------------------------------------------------------

    async def _run(self) -> None:
        try:
            while await self._exchange():
                pass
        except _Raw as raw:
            await self._raw(raw)
        except _Cut:
            self._down.feed_eof()
            self._upstream_eof()
        except h11.RemoteProtocolError as exc:
            self._malformed(exc)
        except h11.LocalProtocolError as exc:
            log.warning(
                "link %s: cannot re-frame an HTTP message (%s); connection closed", self._link, exc
            )
            self._abort()

    async def _exchange(self) -> bool:
        """One request and its response; False once the connection is to end."""
        event = await self._request_head()
        if isinstance(event, h11.ConnectionClosed):
            await self._finish()
            return False
        assert isinstance(event, h11.Request), event
        exchange = Exchange(
            method=event.method.decode("ascii", "replace"),
            target=event.target.decode("ascii", "replace"),
            request_headers=list(event.headers.raw_items()),
        )
        applied = self._draw(exchange)
        for toxic, ctx in applied:
            await toxic.on_request(exchange, ctx)
        if exchange.answer is not None:
            return await self._answer(exchange.answer, event)
        await self._upstream(
            h11.Request(
                method=event.method,
                target=event.target,
                headers=exchange.request_headers,
                http_version=event.http_version,
            )
        )
        expects_continue = self._server.they_are_waiting_for_100_continue
        loop = asyncio.get_running_loop()
        request = loop.create_task(self._request_body(exchange))
        response = loop.create_task(self._response(exchange, applied))
        try:
            done, _ = await asyncio.wait((request, response), return_when=asyncio.FIRST_COMPLETED)
            if request in done:
                request.result()
                await response
            else:
                response.result()
                if not request.done() and expects_continue and not self._continued:
                    # Answered without a 100: the client may never send the body.
                    await self._finish()
                    return False
                await request
        finally:
            request.cancel()
            response.cancel()
        return await self._next_cycle()

    async def _request_head(self) -> object:
        try:
            while (event := self._server.next_event()) is h11.NEED_DATA:
                await _wait_for(self._requests, self._responses)
                if self._responses:
                    # The upstream speaks between exchanges: it closes an idle connection
                    # (maybe with a 408), or the relay came in mid-exchange. Pass it on.
                    raise _Raw(bytes(self._replay or b""))
                data = await self._requests.get()
                if self._replay is not None:
                    self._replay += data
                self._server.receive_data(data)
        except h11.RemoteProtocolError:
            if self._replay is None:
                raise
            raise _Raw(bytes(self._replay)) from None
        if isinstance(event, h11.Request):
            self._replay = None
        elif self._replay is not None and not isinstance(event, h11.ConnectionClosed):
            raise _Raw(bytes(self._replay))
        self._continued = False
        self._response_started = False
        return event

    def _draw(self, exchange: Exchange) -> _Applied:
        """The link's HTTP toxics that act on this exchange: those matching it whose draw hit."""
        applied: _Applied = []
        for wrapper in self._toxics.http():
            toxic = wrapper.toxic
            assert isinstance(toxic, HttpToxic)
            if toxic.matches(exchange.method, exchange.path) and wrapper.draw():
                ctx = HttpContext(
                    stream=wrapper.direction, rng=wrapper.rng, sleep=_sleeper(wrapper)
                )
                applied.append((toxic, ctx))
        return applied

    async def _answer(self, answer: Answer, request: h11.Request) -> bool:
        """A toxic answers instead of the upstream; the request's body is read and dropped."""
        waiting = self._server.they_are_waiting_for_100_continue
        headers: Headers = [*answer.headers, (b"content-length", str(len(answer.body)).encode())]
        if waiting:
            headers.append((b"connection", b"close"))
        else:
            while not isinstance(
                event := await self._next(self._server, self._requests), h11.EndOfMessage
            ):
                if isinstance(event, h11.ConnectionClosed):
                    raise _Cut
        self._response_started = True
        await self._client_send(
            h11.Response(status_code=answer.status, headers=headers, reason=answer.reason)
        )
        if answer.body and request.method != b"HEAD":
            await self._client_send(h11.Data(data=answer.body))
        await self._client_send(h11.EndOfMessage())
        if waiting or self._server.our_state is not h11.DONE:
            await self._finish()
            return False
        self._server.start_next_cycle()
        return True

    async def _request_body(self, exchange: Exchange) -> None:
        while True:
            event = await self._next(self._server, self._requests)
            if isinstance(event, h11.Data):
                data = event.data
                for body in exchange.request_filters:
                    data = body.feed(data)
                if data:
                    await self._upstream(h11.Data(data=data), raw=not exchange.request_length_fixed)
            elif isinstance(event, h11.EndOfMessage):
                tail = b"".join(body.end() for body in exchange.request_filters)
                if tail:
                    await self._upstream(h11.Data(data=tail), raw=not exchange.request_length_fixed)
                if exchange.request_length_fixed:
                    await self._upstream(event)
                # A body whose length lies leaves the upstream waiting: the exchange
                # ends with the connection once its response (if any) is through.
                return
            else:
                raise _Cut

    async def _response(self, exchange: Exchange, applied: _Applied) -> None:
        sent = 0
        raw = False
        while True:
            event = await self._next(self._client, self._responses)
            if isinstance(event, h11.InformationalResponse):
                self._continued = self._continued or event.status_code == 100
                await self._client_send(event)
                if self._client.their_state is h11.SWITCHED_PROTOCOL:
                    return
            elif isinstance(event, h11.Response):
                exchange.status = event.status_code
                exchange.response_headers = list(event.headers.raw_items())
                for toxic, ctx in applied:
                    await toxic.on_response(exchange, ctx)
                self._response_started = True
                await self._client_send(
                    h11.Response(
                        status_code=exchange.status,
                        headers=exchange.response_headers,
                        reason=event.reason,
                    )
                )
                raw = not exchange.response_length_fixed and _has_length(exchange.response_headers)
                if exchange.cut_after == 0:
                    raise _Cut
            elif isinstance(event, h11.Data):
                data = event.data
                for body in exchange.response_filters:
                    data = body.feed(data)
                if exchange.cut_after is not None:
                    data = data[: exchange.cut_after - sent]
                if data:
                    sent += len(data)
                    await self._client_send(h11.Data(data=data), raw=raw)
                if exchange.cut_after is not None and sent >= exchange.cut_after:
                    raise _Cut
            elif isinstance(event, h11.EndOfMessage):
                tail = b"".join(body.end() for body in exchange.response_filters)
                if tail:
                    await self._client_send(h11.Data(data=tail), raw=raw)
                if raw:
                    raise _Cut
                await self._client_send(event)
                return
            else:
                raise h11.RemoteProtocolError("the upstream closed the connection mid-response")

    async def _next_cycle(self) -> bool:
        if h11.SWITCHED_PROTOCOL in (self._server.our_state, self._client.their_state):
            to_upstream, _ = self._server.trailing_data
            to_client, _ = self._client.trailing_data
            raise _Raw(to_upstream, to_client)
        states = (
            self._server.our_state,
            self._server.their_state,
            self._client.our_state,
            self._client.their_state,
        )
        if all(state is h11.DONE for state in states):
            self._server.start_next_cycle()
            self._client.start_next_cycle()
            return True
        await self._finish()
        return False

    async def _next(self, conn: h11.Connection, inbox: _Inbox) -> object:
        """An h11 event, or h11's PAUSED sentinel."""
        while (event := conn.next_event()) is h11.NEED_DATA:
            conn.receive_data(await inbox.get())
        return event

    async def _upstream(self, event: h11.Event, *, raw: bool = False) -> None:
        data = event.data if raw and isinstance(event, h11.Data) else self._client.send(event)
        if data:
            await self._to_upstream.wait()
            self._send_upstream(data)

    async def _client_send(self, event: h11.Event, *, raw: bool = False) -> None:
        data = event.data if raw and isinstance(event, h11.Data) else self._server.send(event)
        if data:
            await self._to_client.wait()
            self._down.feed(data)

    async def _finish(self) -> None:
        """End in order: what was sent arrives, then each side sees the end of the stream."""
        self._down.feed_eof()
        self._upstream_eof()

    async def _raw(self, raw: _Raw) -> None:
        """Byte for byte from here on, both ways."""
        if raw.to_upstream:
            self._send_upstream(raw.to_upstream)
        if raw.to_client:
            self._down.feed(raw.to_client)
        await asyncio.gather(self._raw_upstream(), self._raw_client())

    async def _raw_upstream(self) -> None:
        while data := await self._requests.get():
            await self._to_upstream.wait()
            self._send_upstream(data)
        self._upstream_eof()

    async def _raw_client(self) -> None:
        while data := await self._responses.get():
            await self._to_client.wait()
            self._down.feed(data)
        self._down.feed_eof()

    def _malformed(self, exc: h11.RemoteProtocolError) -> None:
        client_side = self._server.their_state is h11.ERROR
        side = "client" if client_side else "upstream"
        log.warning(
            "link %s: malformed HTTP from the %s (%s); connection closed", self._link, side, exc
        )
        if not self._response_started:
            status = 400 if client_side else 502
            what = "request" if client_side else "response from the upstream"
            body = f"malformed HTTP {what}: {exc}\n".encode()
            headers = [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ]
            with contextlib.suppress(h11.LocalProtocolError):
                data = self._server.send(h11.Response(status_code=status, headers=headers))
                data += self._server.send(h11.Data(data=body)) or b""
                data += self._server.send(h11.EndOfMessage()) or b""
                self._down.feed(data)
                self._down.feed_eof()
                self._upstream_eof()
                return
        self._abort()


def _has_length(headers: Headers) -> bool:
    return any(name.lower() == b"content-length" for name, _ in headers)


def _sleeper(toxic: ToxicWrapper) -> Callable[[float], Awaitable[bool]]:
    async def sleep(seconds: float) -> bool:
        try:
            await asyncio.wait_for(toxic.removed.wait(), seconds)
        except TimeoutError:
            return True
        return False

    return sleep
