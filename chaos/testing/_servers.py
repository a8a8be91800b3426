"""Servers a test controls: an authoritative DNS zone, and SNTP servers that lie.

Both are the mesh's own services (``services.dns``, ``services.ntp``) started on a
background loop; every change the test makes runs on that loop too, so a query is
never answered from a zone half-changed by the test's thread.
"""

from __future__ import annotations

from typing import Any

from chaos.proxy.address import split
from chaos.testing._loop import BackgroundLoop
from services.dns import DNSServer
from services.dns.zone import Zone
from services.ntp.clock import Lies
from services.ntp.server import NTPServer

__all__ = ["LyingNtp", "TestZone"]


class TestZone:
    """``zone.set("shop", "A", "127.0.0.1", ttl=5)``; resolve at ``zone.address``, UDP or TCP.

    Names are relative to ``origin`` unless they end with a dot, as in a zone file.
    """

    __test__ = False  # not a test class, whatever its name says to pytest

    def __init__(self, loop: BackgroundLoop, *, origin: str = "test.", default_ttl: int = 30):
        self._loop = loop
        self.zone = Zone(origin, default_ttl=default_ttl)
        self._server = DNSServer(port=0, admin_port=0, zone=self.zone)
        self._loop.call(self._server.start())
        self.address: tuple[str, int] = split(self._server.endpoints["udp"])

    @property
    def origin(self) -> str:
        return self.zone.origin.to_text()

    def set(self, name: str, rdtype: str, values: Any, *, ttl: int | None = None) -> None:
        """Make ``name``'s ``rdtype`` records exactly ``values`` (one value or a list)."""
        listed = values if isinstance(values, list) else [values]
        self._on_loop(self.zone.replace, name, rdtype, listed, ttl=ttl)

    def delete(self, name: str, rdtype: str) -> None:
        self._on_loop(self.zone.delete, name, rdtype)

    def _on_loop(self, change: Any, *args: Any, **kwargs: Any) -> None:
        async def run() -> None:
            change(*args, **kwargs)

        self._loop.call(run())

    def stop(self) -> None:
        self._loop.call(self._server.stop())


class LyingNtp:
    """An SNTP server whose clock is ``offset_s`` off (and drifting ``drift_ppm``)."""

    def __init__(
        self, loop: BackgroundLoop, *, offset_s: float = 0.0, drift_ppm: float = 0.0
    ) -> None:
        self._loop = loop
        lies = Lies(offset=offset_s, drift_ppm=drift_ppm)
        self._server = NTPServer(port=0, admin_port=0, name="lying-ntp", lies=lies)
        self._loop.call(self._server.start())
        self.address: tuple[str, int] = split(self._server.endpoints["udp"])

    def lie(self, *, offset_s: float = 0.0, drift_ppm: float = 0.0, stratum: int = 1) -> None:
        """Claim something else from now on."""
        lies = Lies(offset=offset_s, drift_ppm=drift_ppm, stratum=stratum)

        async def tell() -> None:
            self._server.clock.tell(lies)

        self._loop.call(tell())

    def stop(self) -> None:
        self._loop.call(self._server.stop())
