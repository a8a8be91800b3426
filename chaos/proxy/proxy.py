"""A named link ("proxy" in Toxiproxy): listen address, upstream, enabled, and its toxics.

    Proxy ── ToxicCollection (chains)
      └── TcpLink | UdpLink   (exists while enabled: listener + connections/sessions)

Semantics follow Toxiproxy's ``proxy.go``: disabling closes the listener and
every connection; changing ``listen`` rebinds. Changing only ``upstream`` keeps
the listener (Toxiproxy briefly closes it) and drops live connections, so new
ones reach the new upstream: the tampering fallacy's "rogue node".

Extension: a change made with ``ttl`` (seconds) is reverted by the proxy itself
when the TTL passes, e.g. ``{"enabled": false, "ttl": 30}`` is a 30 s partition
that heals even if whoever asked for it died. The state before the first
pending change is what is restored; a later change without ``ttl`` cancels the
revert (that administrator now owns the link).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from chaos.proxy import address
from chaos.proxy.clock import Clock
from chaos.proxy.stats import LinkStats
from chaos.proxy.stream import NetProtocol
from chaos.proxy.tcp_link import TcpLink
from chaos.proxy.toxic_collection import ToxicCollection
from chaos.proxy.udp_link import DEFAULT_IDLE_TIMEOUT, UdpLink
from chaos.proxy.wrapper import json_number, rfc3339

__all__ = ["Proxy", "ProxySpec", "Revert"]


@dataclass(frozen=True, slots=True)
class ProxySpec:
    """A proxy as a client describes it (POST /proxies, /populate, a config file)."""

    name: str
    upstream: str
    listen: str = ""
    enabled: bool = True
    protocol: NetProtocol = NetProtocol.TCP


@dataclass(frozen=True, slots=True)
class Revert:
    """What a TTL'd change restores, and when (wall clock, epoch seconds)."""

    listen: str
    upstream: str
    enabled: bool
    ttl: float
    at: float


class Proxy:
    """One link. ``listen`` is the bound address once started (port 0 resolved)."""

    def __init__(
        self,
        spec: ProxySpec,
        *,
        stats: LinkStats,
        clock: Clock,
        rng_for: Callable[[str], random.Random],
        udp_idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
    ) -> None:
        self.name = spec.name
        self.listen = spec.listen or address.join(address.DEFAULT_HOST, 0)
        self.upstream = spec.upstream
        self.protocol = spec.protocol
        self.enabled = False
        self.stats = stats
        self.toxics = ToxicCollection(spec.protocol, rng_for)
        self.revert: Revert | None = None
        self._clock = clock
        self._udp_idle_timeout = udp_idle_timeout
        self._link: TcpLink | UdpLink | None = None

    @property
    def link(self) -> TcpLink | UdpLink | None:
        return self._link

    async def start(self) -> None:
        """Listen (no-op when already enabled); raises ``ProxyApiError`` 500 when it cannot."""
        if self.enabled:
            return
        link: TcpLink | UdpLink
        if self.protocol is NetProtocol.UDP:
            link = UdpLink(
                self.name,
                toxics=self.toxics,
                stats=self.stats,
                clock=self._clock,
                idle_timeout=self._udp_idle_timeout,
            )
        else:
            link = TcpLink(self.name, toxics=self.toxics, stats=self.stats, clock=self._clock)
        self.listen = await link.start(self.listen, self.upstream)
        self._link = link
        self.enabled = True

    async def stop(self) -> None:
        link, self._link = self._link, None
        self.enabled = False
        if link is not None:
            await link.stop()

    def differs(self, listen: str, upstream: str) -> bool:
        """Toxiproxy's ``Differs``: a new listen address (port 0 always is) or upstream."""
        return upstream != self.upstream or self.listen_differs(listen)

    def listen_differs(self, listen: str) -> bool:
        try:
            host, port = address.split(listen)
            current = address.split(self.listen)
        except ValueError:
            return True
        return port == 0 or (host, port) != current

    async def update(self, *, listen: str, upstream: str, enabled: bool) -> None:
        """Apply a PATCH; raises ``ProxyApiError`` 500 (and stays disabled) if it cannot listen."""
        if self.listen_differs(listen):
            await self.stop()
            self.listen = listen
            self.upstream = upstream
        elif upstream != self.upstream:
            self.upstream = upstream
            if self._link is not None:
                self._link.set_upstream(upstream)
        if enabled and not self.enabled:
            await self.start()
        elif not enabled and self.enabled:
            await self.stop()

    def to_json(self) -> dict[str, object]:
        body: dict[str, object] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
        }
        if self.protocol is NetProtocol.UDP:
            body["protocol"] = "udp"
        if self.revert is not None:
            body["ttl"] = json_number(self.revert.ttl)
            body["expires_at"] = rfc3339(self.revert.at)
        body["toxics"] = [toxic.to_json() for toxic in self.toxics]
        return body
