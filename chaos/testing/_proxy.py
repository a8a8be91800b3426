"""Faults on links to your own services, from a test: ``with link.latency(800, jitter=200):``.

A ``FaultProxy`` is the project's proxy started inside the test process, on a loop
of its own (``_loop``), or any running proxy of ours reached by URL. Every fault is
added with a TTL the proxy enforces itself, and the proxy remembers nothing a test
did not undo: ``Fault`` is a context manager, and ``revert_all`` (which the pytest
fixture calls when the test ends, passed or failed) removes whatever is left. If the
test process dies, an in-process proxy dies with it; a proxy elsewhere ends each
fault when its TTL runs out. Faults go through ``chaos.mesh.links.Links``, the layer
the CLI and the experiments use, so naming, all-or-none and TTLs are one code.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

from chaos.mesh.attach import is_ours
from chaos.mesh.errors import MeshError
from chaos.mesh.links import Links, streams_of
from chaos.mesh.state import LinkInfo, MeshState
from chaos.proxy import ProxyServer
from chaos.proxy.address import split
from chaos.testing._loop import BackgroundLoop
from chaos.toxiproxy import Toxiproxy, ToxiproxyError
from services.common.admin_token import HEADER as ADMIN_HEADER
from services.common.errors import FallaciesError

__all__ = ["DEFAULT_TTL_S", "Fault", "FaultProxy", "FaultProxyError", "Link", "LinkTo"]

DEFAULT_TTL_S = 60.0
"""A fault nobody removes ends after this long: longer than a test, shorter than a CI job."""

T = TypeVar("T")
Stream = Literal["upstream", "downstream", "both"]


class FaultProxyError(FallaciesError, RuntimeError):
    """The proxy refused a link or a fault (the message is its own), or did not answer."""


class Fault:
    """One fault in force until ``remove()`` (or the end of a ``with`` block, or its TTL)."""

    def __init__(self, link: Link, description: str, undo: Callable[[], Coroutine[Any, Any, None]]):
        self.link = link
        self.description = description
        self._undo = undo
        self.active = True

    def remove(self) -> None:
        """Idempotent; a fault whose TTL already ran out is simply gone."""
        if not self.active:
            return
        self.active = False
        self.link.proxy._forget(self)
        self.link.proxy._call(self._undo())

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.remove()

    def __repr__(self) -> str:
        state = "active" if self.active else "removed"
        return f"<Fault {self.description} on {self.link.name} ({state})>"


@dataclass
class Link:
    """A link through the proxy: point your client at ``host``:``port`` instead of ``upstream``."""

    proxy: FaultProxy
    name: str
    listen: str
    upstream: str
    protocol: Literal["tcp", "udp"] = "tcp"

    @property
    def host(self) -> str:
        return split(self.listen)[0]

    @property
    def port(self) -> int:
        return split(self.listen)[1]

    @property
    def address(self) -> tuple[str, int]:
        return self.host, self.port

    def toxic(
        self,
        kind: str,
        *,
        stream: Stream = "downstream",
        toxicity: float = 1.0,
        ttl: float = DEFAULT_TTL_S,
        **attributes: Any,
    ) -> Fault:
        """Any toxic the proxy knows (``fallacies fault add --help`` lists them), both
        directions with ``stream="both"``; all of it or none of it is applied."""
        links = self.proxy._layer()
        added = self.proxy._call(
            links.add_toxics(
                self.name, kind, streams=streams_of(stream), attributes=attributes,
                toxicity=toxicity, ttl=ttl,
            )
        )  # fmt: skip
        records = [toxic.record() for toxic in added]

        async def undo() -> None:
            await self.proxy._layer().remove_toxics(records)

        shown = " ".join(f"{key}={value}" for key, value in attributes.items())
        return self.proxy._track(Fault(self, f"{kind} {stream} {shown}".strip(), undo))

    def latency(
        self, ms: int, *, jitter: int = 0, stream: Stream = "downstream", ttl: float = DEFAULT_TTL_S
    ) -> Fault:
        """``ms`` milliseconds more on every chunk (± ``jitter`` ms)."""
        return self.toxic("latency", latency=ms, jitter=jitter, stream=stream, ttl=ttl)

    def bandwidth(
        self, kb_per_s: int, *, stream: Stream = "downstream", ttl: float = DEFAULT_TTL_S
    ) -> Fault:
        """At most ``kb_per_s`` kilobytes a second (Toxiproxy's KB/s)."""
        return self.toxic("bandwidth", rate=kb_per_s, stream=stream, ttl=ttl)

    def black_hole(self, *, after_ms: int = 0, ttl: float = DEFAULT_TTL_S) -> Fault:
        """Connections open, nothing comes back (closed after ``after_ms`` if not 0)."""
        return self.toxic("timeout", timeout=after_ms, ttl=ttl)

    def reset_peer(self, *, after_ms: int = 0, ttl: float = DEFAULT_TTL_S) -> Fault:
        """Each connection reset (RST), at once or after ``after_ms``."""
        return self.toxic("reset_peer", timeout=after_ms, ttl=ttl)

    def limit_data(self, n_bytes: int, *, ttl: float = DEFAULT_TTL_S) -> Fault:
        """Each connection closed once ``n_bytes`` bytes have passed."""
        return self.toxic("limit_data", bytes=n_bytes, ttl=ttl)

    def loss(
        self, probability: float, *, stream: Stream = "downstream", ttl: float = DEFAULT_TTL_S
    ) -> Fault:
        """UDP: each datagram dropped with ``probability``."""
        return self.toxic("loss", probability=probability, stream=stream, ttl=ttl)

    def http_status(
        self,
        status: int = 503,
        *,
        share: float = 1.0,
        retry_after: int = 0,
        body: str = "",
        method: str = "",
        path: str = "",
        ttl: float = DEFAULT_TTL_S,
    ) -> Fault:
        """HTTP: ``share`` of the matching requests answered ``status`` (with Retry-After
        when ``retry_after`` seconds is not 0), the upstream never asked; drawn per request."""
        return self.toxic(
            "http_status", status=status, retry_after=retry_after, body=body,
            method=method, path=path, toxicity=share, ttl=ttl,
        )  # fmt: skip

    def http_latency(
        self,
        ms: int,
        *,
        jitter: int = 0,
        stream: Stream = "downstream",
        method: str = "",
        path: str = "",
        ttl: float = DEFAULT_TTL_S,
    ) -> Fault:
        """HTTP: the matching responses' heads (requests' upstream) held ``ms`` ms (± jitter)."""
        return self.toxic(
            "http_latency", latency=ms, jitter=jitter, stream=stream,
            method=method, path=path, ttl=ttl,
        )  # fmt: skip

    def http_header(
        self,
        name: str,
        value: str | None = None,
        *,
        add: bool = False,
        stream: Stream = "downstream",
        method: str = "",
        path: str = "",
        ttl: float = DEFAULT_TTL_S,
    ) -> Fault:
        """HTTP: header ``name`` set to ``value`` (added with ``add``; removed when None) on
        the matching responses (requests with ``stream="upstream"``)."""
        action = "remove" if value is None else "add" if add else "set"
        return self.toxic(
            "http_header", name=name, value=value or "", action=action, stream=stream,
            method=method, path=path, ttl=ttl,
        )  # fmt: skip

    def http_body(
        self,
        mode: Literal["truncate", "corrupt", "replace"],
        *,
        keep: int = 0,
        every: int = 1024,
        body: str = "",
        fix_length: bool = True,
        stream: Stream = "downstream",
        method: str = "",
        path: str = "",
        ttl: float = DEFAULT_TTL_S,
    ) -> Fault:
        """HTTP: the matching bodies truncated to ``keep`` bytes, corrupted (one byte in
        ``every``) or replaced by ``body``; Content-Length follows unless ``fix_length``
        is False."""
        return self.toxic(
            "http_body", mode=mode, bytes=keep, every=every, body=body,
            fix_length=fix_length, stream=stream, method=method, path=path, ttl=ttl,
        )  # fmt: skip

    def http_abort(
        self, after_bytes: int = 0, *, method: str = "", path: str = "", ttl: float = DEFAULT_TTL_S
    ) -> Fault:
        """HTTP: the connection closed after ``after_bytes`` bytes of a matching response body."""
        return self.toxic("http_abort", bytes=after_bytes, method=method, path=path, ttl=ttl)

    def down(self, *, ttl: float = DEFAULT_TTL_S) -> Fault:
        """The link cut: no new connections or datagrams, open ones closed."""
        job = self.proxy._call(
            self.proxy._layer().change(
                self.name, ttl=ttl, enabled=False, description=f"re-enable {self.name}"
            )
        )

        async def undo() -> None:
            await self.proxy._layer().restore(self.name, enabled=True, janitor=job)

        return self.proxy._track(Fault(self, "down", undo))


LinkTo = Callable[..., Link]
"""The ``link_to`` fixture: ``link_to("host:port", protocol="udp", name=None) -> Link``."""


async def _gone_ok(call: Coroutine[Any, Any, Any]) -> None:
    """Deleting a link already gone is fine."""
    try:
        await call
    except ToxiproxyError as exc:
        if exc.status != 404:
            raise


async def _delete_all(client: Toxiproxy, names: list[str]) -> None:
    for name in names:
        await _gone_ok(client.delete_proxy(name))


class FaultProxy:
    """The project's fault proxy for a test suite, in-process (``start()``) or by URL."""

    def __init__(
        self, url: str | None = None, *, token: str | None = None, seed: int | None = None
    ):
        self._url = url
        self._token = token
        self._seed = seed
        self._loop: BackgroundLoop | None = None
        self._server: ProxyServer | None = None
        self._faults: list[Fault] = []
        self._links: list[Link] = []
        self._names = itertools.count(1)
        self._kind = "proxy"
        """``proxy`` (ours, which keeps TTLs) or ``toxiproxy`` (where a TTL is refused)."""

    @property
    def url(self) -> str:
        if self._url is None:
            raise FaultProxyError("the fault proxy is not started")
        return self._url

    def start(self) -> Self:
        """Start an in-process proxy on a free loopback port (or reach the one at ``url``)."""
        if self._loop is not None:
            return self
        self._loop = BackgroundLoop()
        if self._url is None:
            self._server = ProxyServer(api_host="127.0.0.1", api_port=0, seed=self._seed)
            self._call(self._server.start())
            self._url = self._server.api_url
        else:
            version = self._with_client(lambda client: client.version())
            self._kind = "proxy" if is_ours(version) else "toxiproxy"
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        try:
            self.revert_all()
            if self._server is not None:
                self._call(self._server.stop())
            else:
                names = [link.name for link in self._links]
                self._with_client(lambda client: _delete_all(client, names))
        finally:
            self._loop.close()
            self._loop = None
            self._links.clear()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def link(
        self,
        upstream: str,
        *,
        name: str | None = None,
        protocol: Literal["tcp", "udp"] = "tcp",
        listen: str = "127.0.0.1:0",
    ) -> Link:
        """A new link to ``upstream`` (``host:port``), listening on a free port by default."""
        name = name or f"link-{next(self._names)}"

        async def create(client: Toxiproxy) -> Link:
            body: dict[str, Any] = {"name": name, "listen": listen, "upstream": upstream}
            if protocol == "udp":
                body["protocol"] = "udp"
            (created,) = await client.populate([body])
            return Link(self, name, created.listen, created.upstream, protocol)

        made = self._with_client(create)
        self._links.append(made)
        return made

    def revert_all(self) -> list[Fault]:
        """Remove every fault still in force; the faults that were."""
        left = list(self._faults)
        for fault in reversed(left):
            fault.remove()
        return left

    @property
    def active(self) -> tuple[Fault, ...]:
        return tuple(self._faults)

    # -- for Link and Fault ----------------------------------------------------------

    def _layer(self) -> Links:
        """The mesh's one link-fault layer, over this proxy's links: unique names, all or
        none, TTLs, and "already gone" on removal, as for every other caller."""
        state = MeshState(
            supervisor_pid=0,
            control_url="",
            nodes={},
            links={
                link.name: LinkInfo(
                    protocol=link.protocol,
                    listen=link.listen,
                    upstream=link.upstream,
                    proxy=self._kind,
                    api=self.url,
                )
                for link in self._links
            },
            secrets={"admin_token": self._token} if self._token else {},
        )
        return Links(state, actor="fallacies-pytest")

    def _client(self) -> Toxiproxy:
        headers = {ADMIN_HEADER: self._token} if self._token else {}
        return Toxiproxy(self.url, actor="fallacies-pytest", headers=headers)

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coroutine.close()
            raise FaultProxyError("the fault proxy is not started")
        try:
            return self._loop.call(coroutine)
        except (ToxiproxyError, MeshError) as exc:
            raise FaultProxyError(str(exc)) from None

    def _with_client(self, use: Callable[[Toxiproxy], Coroutine[Any, Any, T]]) -> T:
        async def run() -> T:
            async with self._client() as client:
                return await use(client)

        return self._call(run())

    def _track(self, fault: Fault) -> Fault:
        self._faults.append(fault)
        return fault

    def _forget(self, fault: Fault) -> None:
        if fault in self._faults:
            self._faults.remove(fault)
