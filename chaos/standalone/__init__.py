"""One's own links as the mesh a run acts on: a proxy started for it, or one already running.

``fallacies run my-exp.yaml`` needs a proxy carrying the experiment's links. When the
links file names a running proxy of the project's (``proxy:``), the links are created
there and the ones this run created are deleted at the end; when nothing answers
there, or the file names none, the project's proxy is started in this process on a
free loopback API port and stops with the run — taking every fault with it. With
``--proxy URL`` and no links file, the links that proxy has are the targets, as they are.

A real Toxiproxy is refused for a run: it keeps no TTL, so a fault would outlive a run
that is killed; ``fallacies fault … --proxy URL --ttl 0`` drives one by hand.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from chaos.mesh.attach import attach, is_ours
from chaos.mesh.errors import MeshError
from chaos.mesh.state import MeshState
from chaos.proxy import ProxyServer
from chaos.toxiproxy import Toxiproxy, ToxiproxyError
from services.common.admin_token import HEADER as ADMIN_HEADER

__all__ = ["own_links"]


@asynccontextmanager
async def own_links(
    links: list[dict[str, Any]] | None,
    *,
    proxy_url: str | None,
    token: str | None = None,
    seed: int | None = None,
    start_if_down: bool = True,
) -> AsyncIterator[tuple[MeshState, bool]]:
    """The state to run on, and whether a proxy was started for it.

    ``start_if_down``: when nothing answers at ``proxy_url``, start one here (a links
    file's ``proxy:``) rather than fail (a ``--proxy`` the user named).
    """
    if proxy_url is not None:
        try:
            state = await attach(proxy_url, token=token)
        except MeshError:
            if links is None or not start_if_down:
                raise
        else:
            await _refuse_toxiproxy(proxy_url, token)
            async with _links_on(proxy_url, links or [], state, token) as ready:
                yield ready, False
            return
    server = ProxyServer(
        api_host="127.0.0.1", api_port=0, api_token=token, config=list(links or []), seed=seed
    )
    await server.start()
    try:
        yield await attach(server.api_url, token=token), True
    finally:
        await server.stop()


async def _refuse_toxiproxy(url: str, token: str | None) -> None:
    headers = {ADMIN_HEADER: token} if token else {}
    async with Toxiproxy(url, actor="fallacies-runner", headers=headers) as client:
        version = await client.version()
    if not is_ours(version):
        raise MeshError(
            f"{url} is a Toxiproxy ({version}): it keeps no TTL, so a fault would outlive a "
            "killed run; run on the project's proxy (`fallacies serve proxy`), or let the "
            "run start one"
        )


@asynccontextmanager
async def _links_on(
    api: str, links: list[dict[str, Any]], state: MeshState, token: str | None
) -> AsyncIterator[MeshState]:
    """Create the links the proxy lacks; delete those (and only those) at the end."""
    missing = [dict(link) for link in links if link["name"] not in state.links]
    if not missing:
        yield state
        return
    headers = {ADMIN_HEADER: token} if token else {}
    async with Toxiproxy(api, actor="fallacies-runner", headers=headers) as client:
        try:
            try:
                await client.populate(missing)
            except ToxiproxyError as exc:
                raise MeshError(f"the proxy at {api} refused the links: {exc}") from None
            yield await attach(api, token=token)
        finally:
            for link in missing:
                try:
                    await client.delete_proxy(str(link["name"]))
                except Exception:  # gone already, or the proxy is: nothing left to undo
                    pass
