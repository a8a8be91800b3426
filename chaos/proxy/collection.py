"""All the links of one proxy server, by name (Toxiproxy's ``ProxyCollection``).

It guards the name map (409 on a duplicate) and owns what outlives a single
link: the per-name counters for metrics and the seed every random source is
derived from.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

from chaos.proxy.clock import Clock, LoopClock
from chaos.proxy.errors import PROXY_ALREADY_EXISTS, PROXY_NOT_FOUND
from chaos.proxy.proxy import Proxy, ProxySpec
from chaos.proxy.rng import derive
from chaos.proxy.stats import LinkStats
from chaos.proxy.udp_link import DEFAULT_IDLE_TIMEOUT

__all__ = ["ProxyCollection"]


class ProxyCollection:
    """Name → Proxy, with add/replace/remove serialised by a lock."""

    def __init__(
        self,
        *,
        seed: int | None = None,
        clock: Clock | None = None,
        udp_idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.seed = seed
        self.clock: Clock = clock if clock is not None else LoopClock()
        self.udp_idle_timeout = udp_idle_timeout
        self.stats: dict[str, LinkStats] = {}
        self._proxies: dict[str, Proxy] = {}
        self._lock = asyncio.Lock()

    def __iter__(self) -> Iterator[Proxy]:
        return iter(list(self._proxies.values()))

    def __len__(self) -> int:
        return len(self._proxies)

    def get(self, name: str) -> Proxy:
        try:
            return self._proxies[name]
        except KeyError:
            raise PROXY_NOT_FOUND from None

    def find(self, name: str) -> Proxy | None:
        return self._proxies.get(name)

    def build(self, spec: ProxySpec) -> Proxy:
        stats = self.stats.setdefault(spec.name, LinkStats())
        return Proxy(
            spec,
            stats=stats,
            clock=self.clock,
            rng_for=lambda toxic: derive(self.seed, spec.name, toxic),
            udp_idle_timeout=self.udp_idle_timeout,
        )

    async def add(self, spec: ProxySpec) -> Proxy:
        """Create and (if ``spec.enabled``) start; 409 if the name is taken."""
        async with self._lock:
            if spec.name in self._proxies:
                raise PROXY_ALREADY_EXISTS
            proxy = self.build(spec)
            if spec.enabled:
                await proxy.start()
            self._proxies[spec.name] = proxy
            return proxy

    async def add_or_replace(self, spec: ProxySpec) -> Proxy:
        """Populate's rule: an identical proxy is kept (toxics and all), another replaced."""
        async with self._lock:
            existing = self._proxies.get(spec.name)
            if existing is not None:
                if existing.protocol is spec.protocol and not existing.differs(
                    spec.listen, spec.upstream
                ):
                    return existing
                await existing.stop()
                await existing.toxics.reset()
                del self._proxies[spec.name]
            proxy = self.build(spec)
            if spec.enabled:
                await proxy.start()
            self._proxies[spec.name] = proxy
            return proxy

    async def remove(self, name: str) -> Proxy:
        async with self._lock:
            proxy = self.get(name)
            await proxy.stop()
            del self._proxies[name]
            return proxy

    async def clear(self) -> None:
        async with self._lock:
            for proxy in list(self._proxies.values()):
                await proxy.stop()
            self._proxies.clear()
