"""A proxy someone else runs, seen as a mesh of links: ``fallacies links|fault --proxy URL``.

The fault layer (``Links``) works on a ``MeshState``; a proxy outside any mesh of
ours — a standalone ``fallacies serve proxy``, or a real Toxiproxy in a test suite
— becomes one by asking it which links it carries now. Its ``/version`` tells the
two apart (the project's proxy answers ``…+fallacies``): only ours keeps a TTL
itself, and a real Toxiproxy has no janitor of ours to file a revert with, so a
fault with a TTL on it is refused rather than left to outlive its caller.
"""

from __future__ import annotations

from chaos.mesh.errors import MeshError
from chaos.mesh.state import LinkInfo, MeshState
from chaos.toxiproxy import Toxiproxy, ToxiproxyError
from services.common.admin_token import HEADER as ADMIN_HEADER

__all__ = ["OURS_SUFFIX", "attach", "is_ours"]

OURS_SUFFIX = "+fallacies"
"""The project's proxy reports ``<Toxiproxy API version>+fallacies`` on ``GET /version``."""


def is_ours(version: str) -> bool:
    return version.endswith(OURS_SUFFIX)


async def attach(api: str, *, token: str | None = None) -> MeshState:
    """The links of the proxy at ``api`` as they are now, with no nodes and no janitor."""
    headers = {ADMIN_HEADER: token} if token else {}
    client = Toxiproxy(api, actor="fallacies-cli", headers=headers)
    api = client.base_url
    try:
        async with client:
            version = await client.version()
            proxies = await client.proxies()
    except ToxiproxyError as exc:
        raise MeshError(f"no fault proxy answers at {api}: {exc}") from None
    kind = "proxy" if is_ours(version) else "toxiproxy"
    links = {
        name: LinkInfo(
            protocol="udp" if proxy.protocol == "udp" else "tcp",
            listen=proxy.listen,
            upstream=proxy.upstream,
            proxy=kind,
            api=api,
        )
        for name, proxy in sorted(proxies.items())
    }
    return MeshState(
        supervisor_pid=0,
        control_url="",
        nodes={},
        links=links,
        secrets={"admin_token": token} if token else {},
    )
