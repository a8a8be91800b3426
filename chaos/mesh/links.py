"""Faults on links, whichever proxy carries them: the one layer the CLI and the faults share.

    Links(state) ── toxics: add (TTL-safe), add for several streams (all or none), remove
                 ├─ link changes: down, upstream, listen, for a TTL; restore; reset all
                 └─ views: every link with its live toxics

The project's proxy enforces a TTL itself (on a toxic or a proxy change). Real
Toxiproxy has none, so for its links the revert is filed with the mesh's janitor
*before* the change, and its id kept: the fault ends on time even if whoever added it
is gone, and a revert by hand cancels the job. Every removal tolerates "already
gone": the TTL may have fired first.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from chaos.mesh.control import cancel_revert, file_revert
from chaos.mesh.errors import LinkError
from chaos.mesh.state import LinkInfo, MeshState
from chaos.proxy.address import join, split
from chaos.toxiproxy import Proxy, Toxic, Toxiproxy, ToxiproxyError

__all__ = [
    "EXTENSION_TOXICS",
    "STREAMS",
    "AddedToxic",
    "LinkView",
    "Links",
    "parse_value",
    "revert_label",
    "streams_of",
]

STREAMS = ("upstream", "downstream")
EXTENSION_TOXICS = frozenset(
    {"partition", "loss", "duplicate", "truncate", "dns_rewrite", "noop"}
    | {"http_status", "http_latency", "http_header", "http_body", "http_abort"}
)
"""Toxics only the project's proxy has; real Toxiproxy answers 400 to them."""


def streams_of(value: str) -> tuple[str, ...]:
    """``both`` means one toxic per direction."""
    return STREAMS if value == "both" else (value,)


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


@dataclass(frozen=True)
class LinkView:
    name: str
    info: LinkInfo
    enabled: bool | None
    """None when its proxy did not list it."""
    toxics: tuple[Toxic, ...]
    live: Proxy | None = None
    """The proxy as its API reports it now (a changed upstream, a pending revert)."""


@dataclass(frozen=True)
class AddedToxic:
    link: str
    toxic: Toxic
    janitor: str | None
    """The janitor's revert job on Toxiproxy links (which have no TTL of their own)."""

    def record(self) -> dict[str, Any]:
        """What a journal keeps to remove it later, from another process if need be."""
        return {"link": self.link, "name": self.toxic.name, "janitor": self.janitor}


class Links:
    """The mesh's links for one caller (``actor`` in the audit log); on ``session`` if given."""

    def __init__(
        self,
        state: MeshState,
        *,
        actor: str = "fallacies-cli",
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        self.state = state
        self.actor = actor
        self.session = session

    def info(self, name: str) -> LinkInfo:
        try:
            return self.state.links[name]
        except KeyError:
            known = ", ".join(sorted(self.state.links)) or "none"
            raise LinkError(f"no link named {name!r}; links: {known}") from None

    def client(self, api: str) -> Toxiproxy:
        return Toxiproxy(
            api, actor=self.actor, session=self.session, headers=self.state.admin_headers
        )

    def _of(self, name: str) -> Toxiproxy:
        return self.client(self.info(name).api)

    async def views(self) -> list[LinkView]:
        live: dict[str, Proxy] = {}
        for api in self.state.proxy_apis():
            async with self.client(api) as proxies:
                live.update(await proxies.proxies())
        return [
            LinkView(
                name=name,
                info=info,
                enabled=live[name].enabled if name in live else None,
                toxics=tuple(live[name].toxics) if name in live else (),
                live=live.get(name),
            )
            for name, info in self.state.links.items()
        ]

    async def proxy(self, name: str) -> Proxy:
        async with self._of(name) as proxies:
            return await proxies.proxy(name)

    # -- toxics ------------------------------------------------------------------

    async def add_toxic(
        self,
        link: str,
        toxic_type: str,
        *,
        attributes: dict[str, Any],
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
        ttl: float | None = None,
    ) -> AddedToxic:
        """Add a toxic that ends after ``ttl`` seconds whoever added it."""
        info = self.info(link)
        if info.via_toxiproxy and toxic_type in EXTENSION_TOXICS:
            raise LinkError(
                f"{toxic_type} is an extension of the project's proxy; {link} is on Toxiproxy"
            )
        job: str | None = None
        if info.via_toxiproxy and ttl:
            name = name or f"{toxic_type}_{stream}"
            job = await self._file(
                ttl, "DELETE", f"{info.api}/proxies/{link}/toxics/{name}", None,
                revert_label(link, name),
            )  # fmt: skip
        try:
            async with self.client(info.api) as proxies:
                toxic = await proxies.add_toxic(
                    link,
                    toxic_type,
                    name=name,
                    stream=stream,
                    toxicity=toxicity,
                    attributes=attributes,
                    ttl=None if info.via_toxiproxy else ttl,
                )
        except BaseException as exc:
            await cancel_revert(self.state, job)
            if isinstance(exc, ToxiproxyError):
                raise LinkError(f"{link}: the proxy refused {toxic_type}: {exc}") from exc
            raise
        return AddedToxic(link, toxic, job)

    async def add_toxics(
        self,
        link: str,
        toxic_type: str,
        *,
        streams: Sequence[str],
        attributes: dict[str, Any],
        toxicity: float,
        ttl: float,
    ) -> list[AddedToxic]:
        """One toxic per stream, each named uniquely (two faults of one type on one link
        never remove each other's), all or none: a half-applied fault is removed again."""
        added: list[AddedToxic] = []
        try:
            for stream in streams:
                added.append(
                    await self.add_toxic(
                        link,
                        toxic_type,
                        attributes=attributes,
                        stream=stream,
                        toxicity=toxicity,
                        name=f"{toxic_type}_{stream}_{secrets.token_hex(3)}",
                        ttl=ttl,
                    )
                )
        except BaseException:
            await self.remove_toxics([a.record() for a in added])
            raise
        return added

    async def remove_toxic(self, link: str, name: str, *, missing_ok: bool = False) -> None:
        try:
            async with self._of(link) as proxies:
                await proxies.remove_toxic(link, name)
        except ToxiproxyError as exc:
            if exc.status == 404 and missing_ok:
                return
            raise LinkError(f"{link}: could not remove toxic {name}: {exc}") from exc

    async def remove_toxics(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Remove toxics by their ``AddedToxic.record()``, then cancel their janitor jobs."""
        for record in records:
            await self.remove_toxic(str(record["link"]), str(record["name"]), missing_ok=True)
            await cancel_revert(self.state, record.get("janitor"))

    # -- the link itself ----------------------------------------------------------

    async def change(
        self,
        link: str,
        *,
        ttl: float | None,
        upstream: str | None = None,
        enabled: bool | None = None,
        listen: str | None = None,
        description: str,
    ) -> str | None:
        """Change a link for ``ttl`` seconds (None: until changed back); returns the
        janitor id on Toxiproxy links.

        The revert filed for Toxiproxy restores what the plan says (the link's own
        upstream, enabled) and the address it listened on before, which is also what
        the project's proxy returns to. The project's proxy keeps one TTL per link,
        reverting every change at once: when another change is already pending for
        longer, its deadline is kept, so no fault ends early.
        """
        info = self.info(link)
        job: str | None = None
        async with self.client(info.api) as proxies:
            if info.via_toxiproxy and ttl:
                body: dict[str, Any] = {}
                if upstream is not None:
                    body["upstream"] = info.upstream
                if enabled is not None:
                    body["enabled"] = True
                if listen is not None:
                    body["listen"] = (await proxies.proxy(link)).listen
                # POST: the update verb every Toxiproxy version accepts.
                job = await self._file(ttl, "POST", f"{info.api}/proxies/{link}", body, description)
            try:
                if info.via_toxiproxy:
                    await proxies.update_proxy(
                        link, upstream=upstream, enabled=enabled, listen=listen
                    )
                else:
                    pending = _remaining(await proxies.proxy(link))
                    if ttl is not None and pending is not None:
                        ttl = max(ttl, pending)
                    await proxies.update_proxy(
                        link, upstream=upstream, enabled=enabled, listen=listen, ttl=ttl
                    )
            except BaseException as exc:
                await cancel_revert(self.state, job)
                if isinstance(exc, ToxiproxyError):
                    raise LinkError(f"{link}: the proxy refused the change: {exc}") from exc
                raise
        return job

    async def restore(
        self,
        link: str,
        *,
        upstream: bool = False,
        enabled: bool = False,
        listen: str | None = None,
        janitor: str | None = None,
    ) -> None:
        """Put the link's upstream and/or enabled flag back to the plan's values, its
        listen address back to ``listen``, and cancel the janitor's job for it.

        On the project's proxy a change's TTL is one timer per link, restoring
        everything that changed since the first pending change. Restoring one field
        by hand while another fault on the same link is still in force (a redirect
        inside a link-down) would cancel that timer: then the remaining TTL is passed
        on, so the other fault still ends on time if the runner dies.
        """
        info = self.info(link)
        try:
            async with self.client(info.api) as proxies:
                current = await proxies.proxy(link)
                after_upstream = info.upstream if upstream else current.upstream
                after_enabled = True if enabled else current.enabled
                ttl: float | None = None
                if after_upstream != info.upstream or not after_enabled:
                    ttl = _remaining(current)
                await proxies.update_proxy(
                    link,
                    upstream=info.upstream if upstream else None,
                    enabled=True if enabled else None,
                    listen=listen if listen is not None and listen != current.listen else None,
                    ttl=ttl,
                )
        except ToxiproxyError as exc:
            raise LinkError(f"{link}: could not restore the link: {exc}") from exc
        await cancel_revert(self.state, janitor)

    async def reset(self) -> list[str]:
        """Every toxic removed, every link up, on its planned port and upstream again;
        the links that had to be moved back.

        ``POST /reset`` on Toxiproxy only enables links and drops toxics (the project's
        proxy also undoes pending changes), so addresses are checked one by one after.
        """
        moved: list[str] = []
        for api in self.state.proxy_apis():
            async with self.client(api) as proxies:
                try:
                    await proxies.reset()
                    live = await proxies.proxies()
                    for name, info in self.state.links.items():
                        if info.api != api or name not in live:
                            continue
                        host, port = split(live[name].listen)
                        planned = split(info.listen)[1]
                        listen = join(host, planned) if port != planned else None
                        upstream = info.upstream if live[name].upstream != info.upstream else None
                        if listen is not None or upstream is not None:
                            await proxies.update_proxy(name, listen=listen, upstream=upstream)
                            moved.append(name)
                except ToxiproxyError as exc:
                    raise LinkError(f"could not reset the proxy at {api}: {exc}") from exc
        return moved

    async def _file(
        self, due_in_s: float, method: str, url: str, body: Any, description: str
    ) -> str:
        if not self.state.control_url:
            raise LinkError(
                "Toxiproxy keeps no TTL, and no mesh of ours runs a janitor for this "
                "proxy: add the fault with a TTL of 0 (`--ttl 0`: it stays until removed), or "
                "carry the link on the project's proxy (`fallacies serve proxy`)"
            )
        return await file_revert(
            self.state,
            due_in_s=due_in_s,
            method=method,
            url=url,
            body=body,
            description=f"{description} (by {self.actor})",
        )


def revert_label(link: str, toxic: str) -> str:
    """How the janitor's job that removes ``toxic`` from a Toxiproxy link begins (the
    console reads its due time from it: Toxiproxy keeps no TTL of its own)."""
    return f"remove toxic {toxic} from {link}"


def _remaining(proxy: Proxy) -> float | None:
    """Seconds until the project's proxy reverts the link by itself; None if nothing pending."""
    if proxy.expires_at is None:
        return None
    return max((proxy.expires_at - dt.datetime.now(dt.UTC)).total_seconds(), 0.001)
