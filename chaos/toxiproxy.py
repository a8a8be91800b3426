"""A thin async client for the Toxiproxy 2.x REST API, used for both real Toxiproxy and ours.

Why not toxiproxy-python: it is synchronous (it would block the event loop the
experiments run on), keeps host and port in class attributes (one server per
process), has no timeouts and lacks parts of the 2.x API (toxic update, server-side
populate, error details). The method names follow the official Go client
(``client/client.go``), so its documentation reads across::

    Go client                      this client
    ---------                      -----------
    Version()                      version()
    Proxies()                      proxies()
    Proxy(name)                    proxy(name)
    CreateProxy(name, l, u)        create_proxy(name, listen, upstream)
    Populate(config)               populate(proxies)
    ResetState()                   reset()
    Proxy.Save()                   update_proxy(name, upstream=, listen=, enabled=)
    Proxy.Enable() / Disable()     enable(name) / disable(name)
    Proxy.Delete()                 delete_proxy(name)
    Proxy.Toxics()                 toxics(proxy)
    AddToxic / UpdateToxic         add_toxic(proxy, type, ...) / update_toxic(proxy, name, ...)
    RemoveToxic                    remove_toxic(proxy, name)

Two fields are extensions of the project's proxy and are sent only when set, so the
same calls work unchanged against real Toxiproxy: ``protocol`` on a proxy
(``"udp"``) and ``ttl`` on a toxic or a proxy update (seconds until the proxy
reverts it itself, so a fault ends even if the runner dies). ``audit()`` reads the
project's proxy's audit log, where the ``actor`` given here is recorded.
Updates use PATCH (Toxiproxy 2.x); the Go client still POSTs for 1.x servers.

Every failure is one exception, :class:`ToxiproxyError`::

    ToxiproxyError(status, message)
      status 400/404/409/500 ...   the server's ``{error, status}`` body
      status 0                     no answer: connection refused, timeout, broken body

Example::

    async with Toxiproxy("http://127.0.0.1:8474", actor="experiment-2") as tp:
        await tp.create_proxy("api-1", "127.0.0.1:0", "127.0.0.1:8080")
        await tp.add_toxic("api-1", "latency", attributes={"latency": 200, "jitter": 50})
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import quote

import aiohttp

from services.common.errors import FallaciesError

__all__ = [
    "ACTOR_HEADER",
    "DEFAULT_URL",
    "USER_AGENT",
    "AuditEntry",
    "Proxy",
    "Toxic",
    "Toxiproxy",
    "ToxiproxyError",
]

DEFAULT_URL = "http://127.0.0.1:8474"
"""Toxiproxy's default API address; ``fallacies`` binds loopback only."""

USER_AGENT = "fallacies-toxiproxy-client/0.1"
"""Toxiproxy answers 403 to any ``Mozilla/*`` agent (its guard against browser CSRF)."""

ACTOR_HEADER = "X-Fallacies-Actor"
"""Who made a change; the project's proxy writes it to its audit log, Toxiproxy ignores it."""

Json = Any
"""A decoded JSON value; the ``from_json`` constructors check the shape they need."""

T = TypeVar("T")


class ToxiproxyError(FallaciesError):
    """Any failed call: the server said no (``status`` is the HTTP status), or never answered.

    ``status == 0`` means there was no usable HTTP answer (refused, timed out, reset,
    or a body that is not what the API promises); ``message`` says which.
    Formats like the Go client's ``ApiError``: ``HTTP 404: proxy not found``.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(status, message)
        self.status = status
        self.message = message

    def __str__(self) -> str:
        if self.status == 0:
            return self.message
        return f"HTTP {self.status}: {self.message}"


def _frozen(mapping: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping or {}))


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def _time(value: Any) -> dt.datetime:
    """RFC 3339 as the project's proxy writes it (``2026-01-01T12:00:00.000Z``)."""
    return dt.datetime.fromisoformat(str(value))


def _optional_time(value: Any) -> dt.datetime | None:
    return None if value is None else _time(value)


@dataclass(frozen=True)
class Toxic:
    """One toxic on one direction of a proxy.

    ``stream`` is ``"downstream"`` (upstream → client, the default) or ``"upstream"``;
    ``toxicity`` is the probability (0–1) that a new connection gets the toxic;
    ``attributes`` are the type's own fields with Toxiproxy's wire names and units
    (``latency``/``jitter`` ms, ``rate`` KB/s, ``delay`` ms or µs for ``slicer`` ...).
    ``ttl`` (seconds) and ``expires_at`` are only reported by the project's proxy,
    for a toxic it will remove on its own.
    """

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: Mapping[str, Any] = field(default_factory=dict, hash=False)
    ttl: float | None = None
    expires_at: dt.datetime | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _frozen(self.attributes))

    @classmethod
    def from_json(cls, data: Json) -> Toxic:
        """Build from the API's toxic object; unknown keys are ignored, missing ones raise."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a toxic object, got {type(data).__name__}")
        return cls(
            name=str(data["name"]),
            type=str(data["type"]),
            stream=str(data.get("stream") or "downstream"),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
            ttl=_optional_float(data.get("ttl")),
            expires_at=_optional_time(data.get("expires_at")),
        )


@dataclass(frozen=True)
class Proxy:
    """A named link: clients connect to ``listen``, the proxy dials ``upstream``.

    ``listen`` is ``host:port`` as the server reports it (the bound port once enabled,
    so ``127.0.0.1:0`` becomes a real port). ``protocol`` is ``"tcp"`` unless the
    project's proxy says otherwise; it also reports ``ttl``/``expires_at`` while a
    change made with a TTL waits to be reverted.
    """

    name: str
    listen: str
    upstream: str
    enabled: bool = True
    toxics: tuple[Toxic, ...] = ()
    protocol: str = "tcp"
    ttl: float | None = None
    expires_at: dt.datetime | None = None

    @property
    def listen_host(self) -> str:
        host = self.listen.rsplit(":", 1)[0]
        return host[1:-1] if host.startswith("[") else host

    @property
    def listen_port(self) -> int:
        """The listening port, for tests and callers that connect through the proxy."""
        return int(self.listen.rsplit(":", 1)[1])

    @classmethod
    def from_json(cls, data: Json) -> Proxy:
        """Build from the API's proxy object; unknown keys (Toxiproxy's ``Logger``) are ignored."""
        if not isinstance(data, Mapping):
            raise ValueError(f"expected a proxy object, got {type(data).__name__}")
        return cls(
            name=str(data["name"]),
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            enabled=bool(data.get("enabled", True)),
            toxics=tuple(Toxic.from_json(t) for t in data.get("toxics") or ()),
            protocol=str(data.get("protocol") or "tcp"),
            ttl=_optional_float(data.get("ttl")),
            expires_at=_optional_time(data.get("expires_at")),
        )

    def to_json(self) -> dict[str, Any]:
        """The create/populate body; ``protocol`` only when not TCP, so Toxiproxy accepts it."""
        body: dict[str, Any] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
        }
        if self.protocol != "tcp":
            body["protocol"] = self.protocol
        return body


@dataclass(frozen=True)
class AuditEntry:
    """One change recorded by the project's proxy: who did what to which proxy or toxic, when.

    ``seq`` increases by one per change (a gap means the bounded log dropped
    entries); ``time`` is the server's clock, timezone-aware; ``actor`` is the
    ``X-Fallacies-Actor`` of the request (else its User-Agent, or ``ttl`` when the
    proxy removed an expired toxic itself); ``detail`` is kept as the server sent it.
    """

    seq: int
    time: dt.datetime
    actor: str
    action: str
    proxy: str | None = None
    toxic: str | None = None
    remote: str | None = None
    detail: Any = field(default=None, hash=False)

    @classmethod
    def from_json(cls, data: Json) -> AuditEntry:
        if not isinstance(data, Mapping):
            raise ValueError(f"expected an audit entry object, got {type(data).__name__}")
        proxy, toxic, remote = data.get("proxy"), data.get("toxic"), data.get("remote")
        return cls(
            seq=int(data["seq"]),
            time=_time(data["time"]),
            actor=str(data["actor"]),
            action=str(data["action"]),
            proxy=None if proxy is None else str(proxy),
            toxic=None if toxic is None else str(toxic),
            remote=None if remote is None else str(remote),
            detail=data.get("detail"),
        )


class Toxiproxy:
    """Async client for one Toxiproxy-compatible server (real Toxiproxy or ``chaos.proxy``).

    Pass ``session`` to share a connection pool (it is then not closed here);
    otherwise one is created on first use and closed by :meth:`close` or
    ``async with``. ``timeout`` (seconds) bounds every call, so a server that hangs
    (Toxiproxy can, while removing a toxic under traffic) cannot hang an experiment.
    ``actor`` is sent as ``X-Fallacies-Actor`` on every request, and ``headers`` too
    (the admin token of a gated API: chaos.compose.toxiproxy_gate).
    """

    def __init__(
        self,
        base_url: str = DEFAULT_URL,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout: float = 5.0,
        actor: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive (seconds)")
        if "://" not in base_url:  # like the Go client: "127.0.0.1:8474" is fine
            base_url = "http://" + base_url
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.actor = actor
        self.headers = dict(headers or {})
        self._session = session
        self._owns_session = session is None
        self._closed = False

    def __repr__(self) -> str:
        return f"Toxiproxy({self.base_url!r}, actor={self.actor!r})"

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        """Close the session if this client created it; safe to call twice.

        A closed client refuses further calls rather than open a session nobody closes.
        """
        self._closed = True
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None

    # -- server ---------------------------------------------------------------

    async def version(self) -> str:
        """The server's version string (``{"version": ...}``; older servers send plain text)."""
        data = await self._send("GET", "/version")
        try:
            decoded = json.loads(data)
        except ValueError:
            return data.strip()
        if isinstance(decoded, Mapping) and "version" in decoded:
            return str(decoded["version"])
        return data.strip()

    async def reset(self) -> None:
        """Enable every proxy and remove every toxic; proxies themselves are kept."""
        await self._request("POST", "/reset")

    async def audit(self, *, since: int = 0) -> list[AuditEntry]:
        """The project's proxy's audit log after entry ``since``, oldest first.

        Real Toxiproxy has no audit log and answers 404.
        """
        path = "/audit" if since == 0 else f"/audit?since={int(since)}"
        data = await self._request("GET", path)
        entries = data.get("entries") if isinstance(data, Mapping) else data
        return self._parse_list(entries, AuditEntry.from_json, "audit log")

    # -- proxies --------------------------------------------------------------

    async def proxies(self) -> dict[str, Proxy]:
        """Every proxy by name, each with its toxics."""
        data = await self._request("GET", "/proxies")
        if not isinstance(data, Mapping):
            raise ToxiproxyError(0, f"unexpected proxy index from {self.base_url}: {data!r}")
        return {name: self._parse(value, Proxy.from_json) for name, value in data.items()}

    async def proxy(self, name: str) -> Proxy:
        """One proxy; ``ToxiproxyError(404)`` if there is none by that name."""
        return self._parse(await self._request("GET", _proxy_path(name)), Proxy.from_json)

    async def create_proxy(
        self,
        name: str,
        listen: str,
        upstream: str,
        *,
        enabled: bool = True,
        protocol: str | None = None,
    ) -> Proxy:
        """Create and (unless ``enabled=False``) start listening; 409 if the name is taken.

        ``listen`` may use port 0; the returned proxy carries the bound port.
        ``protocol`` (``"tcp"``/``"udp"``) is sent only when given.
        """
        body: dict[str, Any] = {
            "name": name,
            "listen": listen,
            "upstream": upstream,
            "enabled": enabled,
        }
        if protocol is not None:
            body["protocol"] = protocol
        data = await self._request("POST", "/proxies", body)
        return self._parse(data, Proxy.from_json)

    async def populate(self, proxies: Iterable[Proxy | Mapping[str, Any]]) -> list[Proxy]:
        """Create many proxies in one call, replacing same-named ones that differ.

        The server validates the whole list first, so a bad entry creates nothing.
        Entries are :class:`Proxy` objects or mappings with the API's field names.
        """
        body = [p.to_json() if isinstance(p, Proxy) else dict(p) for p in proxies]
        data = await self._request("POST", "/populate", body)
        items = data.get("proxies") if isinstance(data, Mapping) else None
        return self._parse_list(items or [], Proxy.from_json, "populate result")

    async def update_proxy(
        self,
        name: str,
        *,
        upstream: str | None = None,
        listen: str | None = None,
        enabled: bool | None = None,
        ttl: float | None = None,
    ) -> Proxy:
        """Change only the given fields (PATCH); a new ``listen`` rebinds, a new upstream
        applies to new connections.

        ``ttl`` (seconds, the project's proxy only) reverts the change after that long.
        """
        body: dict[str, Any] = {}
        if upstream is not None:
            body["upstream"] = upstream
        if listen is not None:
            body["listen"] = listen
        if enabled is not None:
            body["enabled"] = enabled
        if ttl is not None:
            body["ttl"] = ttl
        data = await self._request("PATCH", _proxy_path(name), body)
        return self._parse(data, Proxy.from_json)

    async def enable(self, name: str, *, ttl: float | None = None) -> Proxy:
        """Listen again after :meth:`disable` (the same address)."""
        return await self.update_proxy(name, enabled=True, ttl=ttl)

    async def disable(self, name: str, *, ttl: float | None = None) -> Proxy:
        """Stop listening and drop every open connection: a link that is down.

        With ``ttl`` (the project's proxy only) the link comes back by itself.
        """
        return await self.update_proxy(name, enabled=False, ttl=ttl)

    async def delete_proxy(self, name: str) -> None:
        """Remove the proxy, its toxics and its connections; 404 if it does not exist."""
        await self._request("DELETE", _proxy_path(name))

    # -- toxics ---------------------------------------------------------------

    async def toxics(self, proxy: str) -> list[Toxic]:
        """The proxy's toxics, both streams."""
        data = await self._request("GET", _proxy_path(proxy) + "/toxics")
        return self._parse_list(data, Toxic.from_json, "toxic list")

    async def toxic(self, proxy: str, name: str) -> Toxic:
        """One toxic; ``ToxiproxyError(404)`` (``toxic not found``) if absent."""
        data = await self._request("GET", _toxic_path(proxy, name))
        return self._parse(data, Toxic.from_json)

    async def add_toxic(
        self,
        proxy: str,
        type: str,
        *,
        name: str | None = None,
        stream: str = "downstream",
        toxicity: float = 1.0,
        attributes: Mapping[str, Any] | None = None,
        ttl: float | None = None,
    ) -> Toxic:
        """Add a toxic; the server names it ``<type>_<stream>`` when ``name`` is None.

        Missing attributes take the type's zero defaults. ``ttl`` (seconds, the
        project's proxy only) removes the toxic after that long.
        """
        body: dict[str, Any] = {
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": dict(attributes or {}),
        }
        if name is not None:
            body["name"] = name
        if ttl is not None:
            body["ttl"] = ttl
        data = await self._request("POST", _proxy_path(proxy) + "/toxics", body)
        return self._parse(data, Toxic.from_json)

    async def update_toxic(
        self,
        proxy: str,
        name: str,
        *,
        toxicity: float | None = None,
        attributes: Mapping[str, Any] | None = None,
        ttl: float | None = None,
    ) -> Toxic:
        """Change only the given fields; attributes not named keep their values."""
        body: dict[str, Any] = {}
        if toxicity is not None:
            body["toxicity"] = toxicity
        if attributes is not None:
            body["attributes"] = dict(attributes)
        if ttl is not None:
            body["ttl"] = ttl
        data = await self._request("PATCH", _toxic_path(proxy, name), body)
        return self._parse(data, Toxic.from_json)

    async def remove_toxic(self, proxy: str, name: str) -> None:
        """Remove a toxic; connections continue without it."""
        await self._request("DELETE", _toxic_path(proxy, name))

    # -- plumbing -------------------------------------------------------------

    def _session_for_request(self) -> aiohttp.ClientSession:
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        if self._session is None:  # created here, inside the running loop, as aiohttp wants
            self._session = aiohttp.ClientSession()
        return self._session

    async def _request(self, method: str, path: str, body: Json = None) -> Json:
        """Send one call and return its decoded JSON (None for an empty body)."""
        text = await self._send(method, path, body)
        if not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise ToxiproxyError(
                0,
                f"{method} {self.base_url}{path} returned a body that is not JSON: {text[:200]!r}",
            ) from None

    async def _send(self, method: str, path: str, body: Json = None) -> str:
        """Send one call and return the body of a 2xx answer.

        Maps every failure to :class:`ToxiproxyError`; the timeout covers connecting,
        sending and reading the whole body.
        """
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json", **self.headers}
        if self.actor is not None:
            headers[ACTOR_HEADER] = self.actor
        data: bytes | None = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        url = self.base_url + path
        what = f"{method} {url}"
        try:
            async with asyncio.timeout(self.timeout):
                session = self._session_for_request()
                async with session.request(method, url, data=data, headers=headers) as resp:
                    status = resp.status
                    text = await resp.text(errors="replace")
        except TimeoutError:
            raise ToxiproxyError(
                0, f"Toxiproxy did not answer {what} within {self.timeout:g} s"
            ) from None
        except aiohttp.ClientError as exc:
            raise ToxiproxyError(0, f"cannot reach Toxiproxy for {what}: {exc}") from exc
        if not 200 <= status < 300:
            raise ToxiproxyError(status, _error_message(text) or f"{what} failed")
        return text

    def _parse(self, data: Json, build: Callable[[Json], T]) -> T:
        try:
            return build(data)
        except (KeyError, TypeError, ValueError) as exc:
            raise ToxiproxyError(
                0, f"unexpected response from {self.base_url}: {exc!r} in {data!r}"
            ) from exc

    def _parse_list(self, data: Json, build: Callable[[Json], T], what: str) -> list[T]:
        if not isinstance(data, list):
            raise ToxiproxyError(0, f"unexpected {what} from {self.base_url}: {data!r}")
        return [self._parse(item, build) for item in data]


def _error_message(text: str) -> str:
    """The ``error`` of a ``{error, status}`` body; otherwise the text itself.

    Toxiproxy sends its JSON errors as ``text/plain``, so the body is parsed whatever
    its content type; routes it does not know answer plain text (``404 page not found``).
    """
    try:
        decoded = json.loads(text)
    except ValueError:
        return text.strip()
    if isinstance(decoded, Mapping) and "error" in decoded:
        return str(decoded["error"])
    return text.strip()


def _proxy_path(name: str) -> str:
    return "/proxies/" + quote(name, safe="")


def _toxic_path(proxy: str, name: str) -> str:
    return _proxy_path(proxy) + "/toxics/" + quote(name, safe="")
