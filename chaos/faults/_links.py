"""Link operations for the link faults, whichever proxy carries the link.

The project's proxy enforces TTLs itself (``ttl`` on a toxic or a proxy update);
real Toxiproxy has none, so there the revert is filed with the janitor and its id
kept, so a revert by hand can cancel it. Every removal tolerates "already gone":
the TTL may have fired first.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from typing import Any

from chaos.faults._common import FaultError, cancel_janitor, file_janitor, link_info
from chaos.faults.base import FaultContext
from chaos.mesh.faults import add_toxic
from chaos.toxiproxy import Proxy, Toxiproxy, ToxiproxyError

STREAMS = ("upstream", "downstream")

EXTENSION_TOXICS = frozenset({"partition", "loss", "duplicate", "truncate", "dns_rewrite", "noop"})
"""Toxics only the project's proxy has; real Toxiproxy answers 400 to them."""


def client(ctx: FaultContext, link: str) -> Toxiproxy:
    """A client for the proxy carrying ``link``, on the runner's shared session."""
    return Toxiproxy(str(link_info(ctx.state, link)["api"]), session=ctx.session, actor=ctx.actor)


def via_toxiproxy(ctx: FaultContext, link: str) -> bool:
    return str(link_info(ctx.state, link)["proxy"]) == "toxiproxy"


def streams_of(value: str) -> tuple[str, ...]:
    """``both`` means one toxic per direction."""
    return STREAMS if value == "both" else (value,)


async def add_toxics(
    ctx: FaultContext,
    link: str,
    toxic_type: str,
    *,
    streams: Sequence[str],
    attributes: Mapping[str, Any],
    toxicity: float,
    ttl_s: float,
) -> list[dict[str, Any]]:
    """Add one toxic per stream; all or none (a half-applied fault is removed again).

    Returns ``[{"link", "name", "janitor"}]``: what :func:`remove_toxics` needs.
    """
    if via_toxiproxy(ctx, link) and toxic_type in EXTENSION_TOXICS:
        raise FaultError(
            f"{toxic_type} is an extension of the project's proxy; {link} is on Toxiproxy"
        )
    added: list[dict[str, Any]] = []
    try:
        for stream in streams:
            added.append(await _add_one(ctx, link, toxic_type, stream, attributes, toxicity, ttl_s))
    except BaseException:
        await remove_toxics(ctx, added)
        raise
    return added


async def _add_one(
    ctx: FaultContext,
    link: str,
    toxic_type: str,
    stream: str,
    attributes: Mapping[str, Any],
    toxicity: float,
    ttl_s: float,
) -> dict[str, Any]:
    # A unique name, so two faults of one type on one link never collide or remove
    # each other's toxic.
    name = f"{toxic_type}_{stream}_{secrets.token_hex(3)}"
    try:
        added = await add_toxic(
            ctx.state,
            link,
            toxic_type,
            attributes=dict(attributes),
            stream=stream,
            toxicity=toxicity,
            name=name,
            ttl=ttl_s,
            actor=ctx.actor,
            session=ctx.session,
        )
    except ToxiproxyError as exc:
        raise FaultError(f"{link}: the proxy refused {toxic_type}: {exc}") from exc
    return {"link": link, "name": name, "janitor": added.janitor}


async def remove_toxics(ctx: FaultContext, toxics: Sequence[Mapping[str, Any]]) -> None:
    """Remove toxics added by :func:`add_toxics`, then cancel their janitor jobs."""
    for toxic in toxics:
        link, name = str(toxic["link"]), str(toxic["name"])
        try:
            await client(ctx, link).remove_toxic(link, name)
        except ToxiproxyError as exc:
            if exc.status != 404:
                raise FaultError(f"{link}: could not remove toxic {name}: {exc}") from exc
        await cancel_janitor(ctx, toxic.get("janitor"))


async def change_proxy(
    ctx: FaultContext,
    link: str,
    *,
    ttl_s: float,
    upstream: str | None = None,
    enabled: bool | None = None,
    listen: str | None = None,
    description: str,
) -> str | None:
    """Change a link for ``ttl_s`` seconds; returns the janitor id on Toxiproxy links.

    The revert filed for Toxiproxy restores what the plan says (the link's own
    upstream, enabled) and the address it listened on before, which is also what
    the project's proxy returns to. The
    project's proxy keeps one TTL per link, reverting every change at once: when
    another change is already pending for longer, its deadline is kept, so no fault
    ends early (the runner still reverts each on time; the TTL is the dead man's
    switch).
    """
    info = link_info(ctx.state, link)
    toxiproxy = via_toxiproxy(ctx, link)
    proxies = client(ctx, link)
    job: str | None = None
    if toxiproxy:
        body: dict[str, Any] = {}
        if upstream is not None:
            body["upstream"] = str(info["upstream"])
        if enabled is not None:
            body["enabled"] = True
        if listen is not None:
            body["listen"] = (await proxies.proxy(link)).listen
        # Filed before the change, for the same reason as a toxic's.
        job = await file_janitor(
            ctx,
            due_in_s=ttl_s,
            method="POST",  # the update verb every Toxiproxy version accepts
            url=f"{info['api']}/proxies/{link}",
            body=body,
            description=description,
        )
    try:
        if toxiproxy:
            await proxies.update_proxy(link, upstream=upstream, enabled=enabled, listen=listen)
        else:
            pending = _remaining(await proxies.proxy(link))
            ttl = ttl_s if pending is None else max(ttl_s, pending)
            await proxies.update_proxy(
                link, upstream=upstream, enabled=enabled, listen=listen, ttl=ttl
            )
    except BaseException as exc:
        await cancel_janitor(ctx, job)
        if isinstance(exc, ToxiproxyError):
            raise FaultError(f"{link}: the proxy refused the change: {exc}") from exc
        raise
    return job


async def restore_proxy(
    ctx: FaultContext,
    link: str,
    *,
    upstream: bool = False,
    enabled: bool = False,
    listen: str | None = None,
) -> None:
    """Put the link's upstream and/or enabled flag back to the plan's values, and its
    listen address back to ``listen``.

    On the project's proxy a change's TTL is one timer per link, restoring everything
    that changed since the first pending change. Restoring one field by hand while
    another fault on the same link is still in force (a redirect inside a link-down)
    would cancel that timer: then the remaining TTL is passed on, so the other fault
    still ends on time if the runner dies.
    """
    info = link_info(ctx.state, link)
    planned_upstream = str(info["upstream"])
    proxies = client(ctx, link)
    try:
        current = await proxies.proxy(link)
        after_upstream = planned_upstream if upstream else current.upstream
        after_enabled = True if enabled else current.enabled
        ttl: float | None = None
        if after_upstream != planned_upstream or not after_enabled:
            ttl = _remaining(current)
        await proxies.update_proxy(
            link,
            upstream=planned_upstream if upstream else None,
            enabled=True if enabled else None,
            listen=listen if listen is not None and listen != current.listen else None,
            ttl=ttl,
        )
    except ToxiproxyError as exc:
        raise FaultError(f"{link}: could not restore the link: {exc}") from exc


def _remaining(proxy: Proxy) -> float | None:
    """Seconds until the project's proxy reverts the link by itself; None if nothing pending."""
    if proxy.expires_at is None:
        return None
    return max((proxy.expires_at - dt.datetime.now(dt.UTC)).total_seconds(), 0.001)


async def revert_proxy_change(
    ctx: FaultContext, applied: Mapping[str, Any], *, upstream: bool = False, enabled: bool = False
) -> None:
    await restore_proxy(ctx, str(applied["link"]), upstream=upstream, enabled=enabled)
    await cancel_janitor(ctx, applied.get("janitor"))
