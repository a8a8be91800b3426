"""A running mesh as every command sees it: typed node and link records, kept in a file.

``MeshState`` is what ``up`` writes and every other command, the runner and each fault
read — for the embedded mesh (``chaos.embedded``) and the compose mesh
(``chaos.compose``) alike; only where it comes from differs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from chaos.mesh.model import LinkProtocol, MeshPlan
from services.common.admin_token import HEADER as ADMIN_HEADER

__all__ = ["STATE_FILE", "LinkInfo", "MeshState", "NodeInfo", "default_state_dir", "pid_alive"]

STATE_FILE = "mesh.json"


def default_state_dir() -> Path:
    """``$FALLACIES_STATE_DIR``, else ``$XDG_STATE_HOME/fallacies``, else ``~/.local/state``."""
    explicit = os.environ.get("FALLACIES_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fallacies"


@dataclass(frozen=True)
class NodeInfo:
    """One node as seen from where the commands run (the host)."""

    kind: str
    listen: dict[str, str]
    """Where it listens, by role (inside the project network for a container)."""
    health_url: str
    metrics_url: str | None = None
    admin_url: str | None = None
    pid: int | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NodeInfo:
        return cls(
            kind=str(data["kind"]),
            listen=dict(data.get("listen", {})),
            health_url=str(data.get("health_url", "")),
            metrics_url=data.get("metrics_url"),
            admin_url=data.get("admin_url"),
            pid=data.get("pid"),
        )


@dataclass(frozen=True)
class LinkInfo:
    """One link: what it carries and which proxy API changes it."""

    protocol: LinkProtocol
    listen: str
    upstream: str
    proxy: str
    """The node that carries it: ``proxy`` (the project's) or ``toxiproxy``."""
    api: str
    """That node's proxy API (Toxiproxy's REST shape either way)."""

    @property
    def via_toxiproxy(self) -> bool:
        return self.proxy == "toxiproxy"

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LinkInfo:
        return cls(
            protocol=data["protocol"],
            listen=str(data["listen"]),
            upstream=str(data["upstream"]),
            proxy=str(data["proxy"]),
            api=str(data["api"]),
        )


@dataclass(frozen=True)
class MeshState:
    supervisor_pid: int
    """The embedded supervisor's pid; 0 for a compose mesh (the Docker engine supervises)."""
    control_url: str
    nodes: dict[str, NodeInfo]
    links: dict[str, LinkInfo] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    """Admin token and keys, for faults such as key rotation; the file is mode 0600."""

    @property
    def admin_headers(self) -> dict[str, str]:
        """The admin token for every admin and fault API (the compose mesh requires it)."""
        token = self.secrets.get("admin_token")
        return {ADMIN_HEADER: token} if token else {}

    def session(self, total_s: float) -> aiohttp.ClientSession:
        """A session for the mesh's admin APIs: the token on every request, a deadline on each."""
        return aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=total_s), headers=self.admin_headers
        )

    def metrics_targets(self) -> dict[str, str]:
        """Node name → ``/metrics`` URL of every node that serves one: a ``Sampler``'s targets."""
        return {name: node.metrics_url for name, node in self.nodes.items() if node.metrics_url}

    def proxy_apis(self) -> list[str]:
        """Every proxy API that carries a link, once each."""
        return sorted({link.api for link in self.links.values()})

    @classmethod
    def from_plan(
        cls, plan: MeshPlan, *, supervisor_pid: int, pids: dict[str, int | None] | None = None
    ) -> MeshState:
        """The state of a mesh started from ``plan`` (node pids by name, if any)."""
        pids = pids or {}
        apis = {node.name: node.admin_url for node in plan.nodes}
        return cls(
            supervisor_pid=supervisor_pid,
            control_url=plan.control_url,
            nodes={
                node.name: NodeInfo(
                    kind=node.kind,
                    listen=node.listen,
                    health_url=node.health_url,
                    metrics_url=node.metrics_url,
                    admin_url=node.admin_url,
                    pid=pids.get(node.name),
                )
                for node in plan.nodes
            },
            links={
                link.name: LinkInfo(
                    protocol=link.protocol,
                    listen=link.listen,
                    upstream=link.upstream,
                    proxy=link.proxy,
                    api=str(apis[link.proxy]),
                )
                for link in plan.links
            },
            secrets=dict(plan.secrets),
        )

    def write(self, state_dir: Path) -> Path:
        state_dir.mkdir(parents=True, exist_ok=True)
        path = state_dir / STATE_FILE
        tmp = path.with_suffix(".tmp")
        tmp.touch(mode=0o600)
        tmp.chmod(0o600)
        tmp.write_text(json.dumps(asdict(self), indent=2))
        tmp.replace(path)
        return path

    @classmethod
    def read(cls, state_dir: Path) -> MeshState | None:
        try:
            data = json.loads((state_dir / STATE_FILE).read_text())
            return cls(
                supervisor_pid=int(data["supervisor_pid"]),
                control_url=str(data["control_url"]),
                nodes={k: NodeInfo.from_dict(v) for k, v in dict(data["nodes"]).items()},
                links={k: LinkInfo.from_dict(v) for k, v in dict(data.get("links", {})).items()},
                secrets=dict(data.get("secrets", {})),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None

    @staticmethod
    def remove(state_dir: Path) -> None:
        (state_dir / STATE_FILE).unlink(missing_ok=True)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            return fh.read().split(") ", 1)[1][:1] != "Z"
    except (OSError, IndexError):
        return True
