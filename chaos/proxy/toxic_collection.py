"""The toxics of one link: a chain per direction, and the live connections that run them.

    ToxicCollection ── chain[upstream]   = [latency_up, ...]
                    └─ chain[downstream] = [bandwidth_down, timeout_down, ...]
                                │
             every change is pushed to each live TCP pipeline of that direction
             (UDP sessions compare ``version`` and rebuild on their next datagram)

New toxics go to the end of a chain. Changes are serialised by a lock, so a
toxic being removed from a busy link (which waits for every connection to flush
it) cannot interleave with another change; the Toxiproxy API hangs on that
(Shopify/toxiproxy#159, #254).
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Iterator
from typing import Protocol

from chaos.proxy.errors import TOXIC_NOT_FOUND
from chaos.proxy.stream import Direction, NetProtocol
from chaos.proxy.wrapper import ToxicUpdate, ToxicWrapper, decode_new, decode_update

__all__ = ["ChainObserver", "ToxicCollection"]

log = logging.getLogger(__name__)


class ChainObserver(Protocol):
    """One direction of one live TCP connection (``pipeline.Pipeline``)."""

    direction: Direction

    def add_toxic(self, toxic: ToxicWrapper) -> None: ...

    async def update_toxic(self, toxic: ToxicWrapper) -> None: ...

    async def remove_toxic(self, toxic: ToxicWrapper) -> None: ...


class ToxicCollection:
    """Owns the chains; ``version`` moves on every change."""

    def __init__(self, protocol: NetProtocol, rng_for: Callable[[str], random.Random]) -> None:
        self.protocol = protocol
        self._rng_for = rng_for
        self._chains: tuple[list[ToxicWrapper], list[ToxicWrapper]] = ([], [])
        self._observers: set[ChainObserver] = set()
        self._lock = asyncio.Lock()
        self.version = 0

    def __iter__(self) -> Iterator[ToxicWrapper]:
        """Upstream chain first, then downstream, each in order: Toxiproxy's listing order."""
        yield from self._chains[Direction.UPSTREAM]
        yield from self._chains[Direction.DOWNSTREAM]

    def __len__(self) -> int:
        return len(self._chains[0]) + len(self._chains[1])

    def chain(self, direction: Direction) -> list[ToxicWrapper]:
        return self._chains[direction]

    def get(self, name: str) -> ToxicWrapper:
        for toxic in self:
            if toxic.name == name:
                return toxic
        raise TOXIC_NOT_FOUND

    def http(self) -> list[ToxicWrapper]:
        """The HTTP toxics, upstream chain first: what the HTTP relay asks per request."""
        return [toxic for toxic in self if toxic.http]

    def find(self, name: str) -> ToxicWrapper | None:
        return next((toxic for toxic in self if toxic.name == name), None)

    def attach(self, observer: ChainObserver) -> None:
        """Give a new connection direction the current chain, and keep it informed."""
        for toxic in self._chains[observer.direction]:
            observer.add_toxic(toxic)
        self._observers.add(observer)

    def detach(self, observer: ChainObserver) -> None:
        self._observers.discard(observer)

    async def add(self, body: object) -> ToxicWrapper:
        async with self._lock:
            toxic = decode_new(
                body,
                protocol=self.protocol,
                exists=lambda name: self.find(name) is not None,
                rng_for=self._rng_for,
            )
            self._chains[toxic.direction].append(toxic)
            self.version += 1
            for observer in self._observing(toxic.direction):
                observer.add_toxic(toxic)
            return toxic

    async def update(self, name: str, body: object) -> tuple[ToxicWrapper, ToxicUpdate]:
        async with self._lock:
            toxic = self.get(name)
            change = decode_update(toxic, body)
            toxic.toxic = change.toxic
            toxic.toxicity = change.toxicity
            toxic.generation += 1
            self.version += 1
            await _each(
                observer.update_toxic(toxic) for observer in self._observing(toxic.direction)
            )
            return toxic, change

    async def remove(self, name: str, *, only: ToxicWrapper | None = None) -> ToxicWrapper | None:
        """Remove ``name``; with ``only``, just when it is still that very toxic (TTL expiry)."""
        async with self._lock:
            toxic = self.find(name)
            if toxic is None or (only is not None and toxic is not only):
                if only is not None:
                    return None
                raise TOXIC_NOT_FOUND
            await self._remove(toxic)
            return toxic

    async def reset(self) -> list[ToxicWrapper]:
        """Remove every toxic (``POST /reset``); returns what was removed."""
        async with self._lock:
            removed = list(self)
            for toxic in removed:
                await self._remove(toxic)
            return removed

    async def _remove(self, toxic: ToxicWrapper) -> None:
        self._chains[toxic.direction].remove(toxic)
        toxic.removed.set()
        self.version += 1
        await _each(observer.remove_toxic(toxic) for observer in self._observing(toxic.direction))

    def _observing(self, direction: Direction) -> list[ChainObserver]:
        return [o for o in self._observers if o.direction == direction]


async def _each(changes: Iterable[Awaitable[None]]) -> None:
    """Apply a change to every live connection at once; one failing must not stop the others."""
    for result in await asyncio.gather(*changes, return_exceptions=True):
        if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
            log.error("applying a toxic change to a connection failed", exc_info=result)
