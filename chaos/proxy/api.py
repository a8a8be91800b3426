"""The REST API, Toxiproxy 2.x compatible: one route table, one error shape.

The routes, bodies and answers are described in ``openapi.yaml`` beside this file
(served at ``GET /openapi.json``; docs/http-apis.md renders it). ``/audit`` and the
``ttl`` fields are this proxy's extensions.

Bodies are compact JSON in Toxiproxy's key order; errors are
``{"error": "...", "status": N}`` with Toxiproxy's messages (served as
application/json, where Toxiproxy says text/plain). Browsers are refused
(``Mozilla/*`` user agents get 403), as in Toxiproxy, so a web page cannot
drive the proxy. Every change is written to the audit log with its actor.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.aiohttp import make_aiohttp_handler

from chaos.proxy.audit import AuditLog
from chaos.proxy.collection import ProxyCollection
from chaos.proxy.config import parse_populate, parse_protocol, parse_proxy
from chaos.proxy.errors import ProxyApiError, bad_request
from chaos.proxy.expiry import Expiry
from chaos.proxy.proxy import Proxy, Revert
from chaos.proxy.toxics import REGISTRY
from chaos.proxy.wrapper import ToxicWrapper, parse_ttl
from services.common import openapi
from services.common.jsonbody import parse_json

__all__ = ["API_VERSION", "ACTOR_HEADER", "create_app", "document"]

log = logging.getLogger(__name__)

API_VERSION = "2.12.0"
"""The Toxiproxy API this one follows (GET /version reports ``<it>+fallacies``)."""
ACTOR_HEADER = "X-Fallacies-Actor"

_Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def create_app(
    proxies: ProxyCollection,
    *,
    registry: CollectorRegistry,
    audit: AuditLog | None = None,
    expiry: Expiry | None = None,
) -> web.Application:
    api = _Api(proxies, audit or AuditLog(), expiry or Expiry())
    app = web.Application(middlewares=[_request_id, _stop_browsers, _errors])
    add = app.router.add_route
    add("POST", "/reset", api.reset)
    add("GET", "/proxies", api.proxy_index)
    add("POST", "/proxies", api.proxy_create)
    add("POST", "/populate", api.populate)
    add("GET", "/proxies/{proxy}", api.proxy_show)
    add("POST", "/proxies/{proxy}", api.proxy_update)
    add("PATCH", "/proxies/{proxy}", api.proxy_update)
    add("DELETE", "/proxies/{proxy}", api.proxy_delete)
    add("GET", "/proxies/{proxy}/toxics", api.toxic_index)
    add("POST", "/proxies/{proxy}/toxics", api.toxic_create)
    add("GET", "/proxies/{proxy}/toxics/{toxic}", api.toxic_show)
    add("POST", "/proxies/{proxy}/toxics/{toxic}", api.toxic_update)
    add("PATCH", "/proxies/{proxy}/toxics/{toxic}", api.toxic_update)
    add("DELETE", "/proxies/{proxy}/toxics/{toxic}", api.toxic_delete)
    add("GET", "/version", api.version)
    add("GET", "/metrics", make_aiohttp_handler(registry))
    add("GET", "/audit", api.audit_index)
    return openapi.serve(app, document())


def document() -> dict[str, Any]:
    """The API's OpenAPI document, its toxic types taken from the registry."""
    doc = openapi.load(__package__ or "chaos.proxy")
    toxic_type = doc["components"]["schemas"]["NewToxic"]["properties"]["type"]
    toxic_type["enum"] = sorted(REGISTRY)
    return doc


class _Api:
    def __init__(self, proxies: ProxyCollection, audit: AuditLog, expiry: Expiry) -> None:
        self.proxies = proxies
        self.audit = audit
        self.expiry = expiry

    # -- proxies ------------------------------------------------------------

    async def proxy_index(self, request: web.Request) -> web.Response:
        return _json({proxy.name: proxy.to_json() for proxy in sorted(self.proxies, key=_name)})

    async def proxy_create(self, request: web.Request) -> web.Response:
        spec = parse_proxy(await _body(request))
        proxy = await self.proxies.add(spec)
        self._record(request, "proxy.create", proxy=proxy, detail=proxy.to_json())
        return _json(proxy.to_json(), status=201)

    async def populate(self, request: web.Request) -> web.Response:
        done: list[Proxy] = []
        try:
            for spec in parse_populate(await _body(request)):
                done.append(await self.proxies.add_or_replace(spec))
        except ProxyApiError as exc:
            return _json({**exc.to_json(), "proxies": _listing(done)}, status=exc.status)
        finally:
            if done:
                self._record(request, "proxy.populate", detail=[p.name for p in done])
        return _json({"proxies": _listing(done)}, status=201)

    async def proxy_show(self, request: web.Request) -> web.Response:
        return _json(self._proxy(request).to_json())

    async def proxy_update(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        body = _mapping(await _body(request), "toxiproxy.Proxy")
        listen = _field(body, "listen", str, proxy.listen)
        upstream = _field(body, "upstream", str, proxy.upstream)
        enabled = _field(body, "enabled", bool, proxy.enabled)
        if "protocol" in body and parse_protocol(body["protocol"]) is not proxy.protocol:
            raise ProxyApiError("the protocol of a proxy cannot change; delete and create it", 400)
        ttl = parse_ttl(body.get("ttl"))
        before = proxy.revert or Revert(proxy.listen, proxy.upstream, proxy.enabled, 0, 0)
        await proxy.update(listen=listen, upstream=upstream, enabled=enabled)
        key = ("proxy", proxy.name)
        if ttl is None:
            self.expiry.cancel(key)
            proxy.revert = None
        else:
            at = self.expiry.schedule(key, ttl, lambda: self._revert(proxy))
            proxy.revert = Revert(before.listen, before.upstream, before.enabled, ttl, at)
        self._record(request, "proxy.update", proxy=proxy, detail=proxy.to_json())
        return _json(proxy.to_json())

    async def proxy_delete(self, request: web.Request) -> web.Response:
        proxy = await self.proxies.remove(request.match_info["proxy"])
        self._forget_timers(proxy)
        self._record(request, "proxy.delete", proxy=proxy)
        return web.Response(status=204)

    async def reset(self, request: web.Request) -> web.Response:
        for proxy in sorted(self.proxies, key=_name):
            if proxy.revert is not None:
                revert, proxy.revert = proxy.revert, None
                await proxy.update(
                    listen=revert.listen, upstream=revert.upstream, enabled=revert.enabled
                )
            self._forget_timers(proxy)
            await proxy.start()
            await proxy.toxics.reset()
        self._record(request, "reset")
        return web.Response(status=204)

    # -- toxics ---------------------------------------------------------------

    async def toxic_index(self, request: web.Request) -> web.Response:
        return _json([toxic.to_json() for toxic in self._proxy(request).toxics])

    async def toxic_create(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        toxic = await proxy.toxics.add(await _body(request))
        if toxic.ttl is not None:
            self._expire_later(proxy, toxic, toxic.ttl)
        self._record(request, "toxic.create", proxy=proxy, toxic=toxic, detail=toxic.to_json())
        return _json(toxic.to_json())

    async def toxic_show(self, request: web.Request) -> web.Response:
        return _json(self._proxy(request).toxics.get(request.match_info["toxic"]).to_json())

    async def toxic_update(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        toxic, change = await proxy.toxics.update(request.match_info["toxic"], await _body(request))
        if change.ttl_given:
            if change.ttl is not None:
                self._expire_later(proxy, toxic, change.ttl)
            else:
                self.expiry.cancel(("toxic", proxy.name, toxic.name))
                toxic.ttl = toxic.expires_at = None
        self._record(request, "toxic.update", proxy=proxy, toxic=toxic, detail=toxic.to_json())
        return _json(toxic.to_json())

    async def toxic_delete(self, request: web.Request) -> web.Response:
        proxy = self._proxy(request)
        toxic = await proxy.toxics.remove(request.match_info["toxic"])
        assert toxic is not None
        self.expiry.cancel(("toxic", proxy.name, toxic.name))
        self._record(request, "toxic.delete", proxy=proxy, toxic=toxic)
        return web.Response(status=204)

    # -- the rest -------------------------------------------------------------

    async def version(self, request: web.Request) -> web.Response:
        return web.Response(
            body=f'{{"version": "{API_VERSION}+fallacies"}}\n'.encode(),
            headers={"Content-Type": "application/json;charset=utf-8"},
        )

    async def audit_index(self, request: web.Request) -> web.Response:
        try:
            since = int(request.query.get("since", "0"))
        except ValueError:
            raise ProxyApiError("since must be an integer", 400) from None
        return _json({"entries": self.audit.entries(since), "dropped": self.audit.dropped})

    # -- helpers --------------------------------------------------------------

    def _proxy(self, request: web.Request) -> Proxy:
        return self.proxies.get(request.match_info["proxy"])

    def _expire_later(self, proxy: Proxy, toxic: ToxicWrapper, ttl: float) -> None:
        async def expire() -> None:
            if await proxy.toxics.remove(toxic.name, only=toxic) is not None:
                self.audit.record(
                    "toxic.expire",
                    actor="ttl",
                    proxy=proxy.name,
                    toxic=toxic.name,
                    detail=toxic.to_json(),
                )

        toxic.ttl = ttl
        toxic.expires_at = self.expiry.schedule(("toxic", proxy.name, toxic.name), ttl, expire)

    async def _revert(self, proxy: Proxy) -> None:
        revert = proxy.revert
        if revert is None or self.proxies.find(proxy.name) is not proxy:
            return
        proxy.revert = None
        try:
            await proxy.update(
                listen=revert.listen, upstream=revert.upstream, enabled=revert.enabled
            )
        finally:
            self.audit.record("proxy.revert", actor="ttl", proxy=proxy.name, detail=proxy.to_json())

    def _forget_timers(self, proxy: Proxy) -> None:
        self.expiry.cancel(("proxy", proxy.name))
        for toxic in proxy.toxics:
            self.expiry.cancel(("toxic", proxy.name, toxic.name))

    def _record(
        self,
        request: web.Request,
        action: str,
        *,
        proxy: Proxy | None = None,
        toxic: ToxicWrapper | None = None,
        detail: object = None,
    ) -> None:
        self.audit.record(
            action,
            actor=actor(request),
            remote=request.remote,
            proxy=proxy.name if proxy is not None else None,
            toxic=toxic.name if toxic is not None else None,
            detail=detail,
        )


def actor(request: web.Request) -> str:
    """Who is asking: ``X-Fallacies-Actor``, else the User-Agent, else "unknown"."""
    return request.headers.get(ACTOR_HEADER) or request.headers.get("User-Agent") or "unknown"


def _json(body: object, *, status: int = 200) -> web.Response:
    return web.Response(
        body=json.dumps(body, separators=(",", ":")).encode(),
        status=status,
        content_type="application/json",
    )


def _error(exc: ProxyApiError) -> web.Response:
    text = json.dumps(exc.to_json(), separators=(",", ":")) + "\n"
    return web.Response(body=text.encode(), status=exc.status, content_type="application/json")


async def _body(request: web.Request) -> Any:
    raw = await request.read()
    if not raw.strip():
        raise bad_request("EOF")
    try:
        return parse_json(raw)
    except ValueError as exc:
        raise bad_request(f"invalid JSON: {exc}") from None


def _mapping(body: object, what: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise bad_request(f"json: cannot unmarshal non-object into Go value of type {what}")
    return body


def _field(body: Mapping[str, Any], key: str, kind: type[Any], default: Any) -> Any:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, kind):
        raise bad_request(f'"{key}" must be {"true or false" if kind is bool else "a string"}')
    return value


def _listing(proxies: list[Proxy]) -> list[dict[str, object]] | None:
    """Go's nil slice: an empty populate answers ``"proxies": null`` in Toxiproxy."""
    return [proxy.to_json() for proxy in proxies] or None


def _name(proxy: Proxy) -> str:
    return proxy.name


@web.middleware
async def _request_id(request: web.Request, handler: _Handler) -> web.StreamResponse:
    response = await handler(request)
    response.headers["X-Toxiproxy-Request-Id"] = secrets.token_hex(10)
    return response


@web.middleware
async def _stop_browsers(request: web.Request, handler: _Handler) -> web.StreamResponse:
    if request.headers.get("User-Agent", "").startswith("Mozilla/"):
        return web.Response(text="User agent not allowed\n", status=403)
    return await handler(request)


@web.middleware
async def _errors(request: web.Request, handler: _Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ProxyApiError as exc:
        if exc.status >= 500:
            log.warning("%s %s: %s", request.method, request.path, exc.message)
        return _error(exc)
    except web.HTTPNotFound:
        return web.Response(text="404 page not found\n", status=404)
    except web.HTTPMethodNotAllowed as exc:
        return web.Response(status=405, headers={"Allow": exc.headers.get("Allow", "")})
    except web.HTTPException:
        raise
    except Exception as exc:
        log.exception("%s %s failed", request.method, request.path)
        return _error(ProxyApiError(str(exc) or type(exc).__name__, 500))
