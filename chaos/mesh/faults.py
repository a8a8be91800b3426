"""Link faults on a running mesh, whichever proxy carries the link.

The project's proxy enforces a toxic's TTL itself. Real Toxiproxy has no TTL, so for
its links the revert is filed with the supervisor's janitor as well: either way the
fault ends on time even if whoever added it is gone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from chaos.mesh.state import MeshState
from chaos.toxiproxy import Toxic, Toxiproxy
from services.common.errors import FallaciesError

ACTOR = "fallacies-cli"


class FaultError(FallaciesError, RuntimeError):
    """A fault request a user can fix: unknown link, refused toxic, ..."""


@dataclass(frozen=True)
class LinkView:
    name: str
    protocol: str
    listen: str
    upstream: str
    proxy: str
    enabled: bool | None
    toxics: tuple[Toxic, ...]


def parse_value(raw: str) -> Any:
    """``100`` -> int, ``0.5`` -> float, ``true`` -> bool, anything else stays a string."""
    lowered = raw.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for kind in (int, float):
        try:
            return kind(raw)
        except ValueError:
            pass
    return raw


def _link(state: MeshState, name: str) -> dict[str, Any]:
    try:
        return state.links[name]
    except KeyError:
        known = ", ".join(sorted(state.links)) or "none"
        raise FaultError(f"no link named {name!r}; links: {known}") from None


def _client(state: MeshState, link: str, actor: str = ACTOR) -> Toxiproxy:
    return Toxiproxy(str(_link(state, link)["api"]), actor=actor, headers=state.admin_headers)


async def list_links(state: MeshState) -> list[LinkView]:
    views: list[LinkView] = []
    live: dict[str, dict[str, Any]] = {}
    for api in sorted({str(link["api"]) for link in state.links.values()}):
        async with Toxiproxy(api, actor=ACTOR, headers=state.admin_headers) as client:
            for name, proxy in (await client.proxies()).items():
                live[name] = {"enabled": proxy.enabled, "toxics": tuple(proxy.toxics)}
    for name, link in state.links.items():
        seen = live.get(name, {})
        views.append(
            LinkView(
                name=name,
                protocol=str(link["protocol"]),
                listen=str(link["listen"]),
                upstream=str(link["upstream"]),
                proxy=str(link["proxy"]),
                enabled=seen.get("enabled"),
                toxics=seen.get("toxics", ()),
            )
        )
    return views


@dataclass(frozen=True)
class AddedToxic:
    toxic: Toxic
    janitor: str | None
    """The supervisor's revert job on Toxiproxy links (which have no TTL of their own)."""


async def add_toxic(
    state: MeshState,
    link: str,
    toxic_type: str,
    *,
    attributes: dict[str, Any],
    stream: str = "downstream",
    toxicity: float = 1.0,
    name: str | None = None,
    ttl: float | None = None,
    actor: str = ACTOR,
    session: aiohttp.ClientSession | None = None,
) -> AddedToxic:
    """Add a toxic that ends after ``ttl`` seconds whoever added it (the CLI and the runner)."""
    info = _link(state, link)
    via_toxiproxy = info["proxy"] == "toxiproxy"
    job: str | None = None
    if via_toxiproxy and ttl:
        # Toxiproxy has no TTL: the janitor's revert is filed before the toxic exists.
        name = name or f"{toxic_type}_{stream}"
        job = await file_revert(
            state,
            due_in_s=ttl,
            method="DELETE",
            url=f"{info['api']}/proxies/{link}/toxics/{name}",
            description=f"remove toxic {name} from {link}",
        )
    try:
        async with Toxiproxy(
            str(info["api"]), actor=actor, session=session, headers=state.admin_headers
        ) as client:
            toxic = await client.add_toxic(
                link,
                toxic_type,
                name=name,
                stream=stream,
                toxicity=toxicity,
                attributes=attributes,
                ttl=None if via_toxiproxy else ttl,
            )
    except BaseException:
        if job is not None:
            await cancel_revert(state, job)
        raise
    return AddedToxic(toxic, job)


async def set_enabled(
    state: MeshState, link: str, enabled: bool, *, ttl: float | None = None, actor: str = ACTOR
) -> None:
    info = _link(state, link)
    via_toxiproxy = info["proxy"] == "toxiproxy"
    job: str | None = None
    if via_toxiproxy and ttl and not enabled:
        job = await file_revert(
            state,
            due_in_s=ttl,
            method="POST",
            url=f"{info['api']}/proxies/{link}",
            body={"enabled": True},
            description=f"re-enable link {link}",
        )
    try:
        async with _client(state, link, actor) as client:
            if enabled:
                await client.enable(link)
            else:
                await client.disable(link, ttl=None if via_toxiproxy else ttl)
    except BaseException:
        if job is not None:
            await cancel_revert(state, job)
        raise


async def remove_toxic(state: MeshState, link: str, toxic: str) -> None:
    async with _client(state, link) as client:
        await client.remove_toxic(link, toxic)


async def reset(state: MeshState) -> int:
    """Remove every toxic and re-enable every link on every proxy; return how many APIs."""
    apis = sorted({str(link["api"]) for link in state.links.values()})
    for api in apis:
        async with Toxiproxy(api, actor=ACTOR, headers=state.admin_headers) as client:
            await client.reset()
    return len(apis)


async def cancel_revert(state: MeshState, job: str) -> None:
    async with state.session(5) as session:
        async with session.delete(f"{state.control_url}/janitor/{job}"):
            pass


async def file_revert(
    state: MeshState,
    *,
    due_in_s: float,
    method: str,
    url: str,
    description: str,
    body: Any = None,
    headers: dict[str, str] | None = None,
) -> str:
    """Ask the supervisor to make this call at the deadline; return the job id."""
    payload = {
        "due_in_s": due_in_s,
        "method": method,
        "url": url,
        "body": body,
        "headers": {**state.admin_headers, **(headers or {})},
        "description": description,
    }
    async with state.session(5) as session:
        async with session.post(f"{state.control_url}/janitor", json=payload) as response:
            data = await response.json()
            if response.status >= 400:
                raise FaultError(f"the supervisor refused the revert: {data.get('error', data)}")
            return str(data["id"])
