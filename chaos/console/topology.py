"""Which node each link joins, for the diagram: the mesh state names links, not edges.

A link's upstream is some node's listening address, so ``to`` is found by address
(embedded: ``127.0.0.1:port``; compose: a container's ``name:port``). ``from`` is
the workload for every link but replication (``repl-1-2``: api-1 writes to api-2).
"""

from __future__ import annotations

import re
from typing import Final

from chaos.mesh.state import LinkInfo, MeshState

__all__ = ["CLIENT_NODE", "ends"]

CLIENT_NODE: Final = "workload"
_REPLICATION = re.compile(r"repl-(\d+)-(\d+)$")


def _addresses(state: MeshState) -> dict[str, str]:
    found: dict[str, str] = {}
    for name, node in state.nodes.items():
        for where in node.listen.values():
            found.setdefault(where, name)
            host, _, port = where.rpartition(":")
            found.setdefault(f"{name}:{port}", name)
    return found


def ends(state: MeshState, name: str, link: LinkInfo) -> tuple[str, str]:
    """(from, to) node names of ``link``; a node not in the state is still named."""
    replication = _REPLICATION.match(name)
    if replication:
        return f"api-{replication[1]}", f"api-{replication[2]}"
    to = _addresses(state).get(link.upstream)
    if to is None:
        to = name.removesuffix("-tcp")
    return CLIENT_NODE, to
