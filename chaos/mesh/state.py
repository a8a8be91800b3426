"""The state file that lets ``status`` and ``down`` find a mesh started by another ``up``."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp

from services.common.admin_token import HEADER as ADMIN_HEADER

if TYPE_CHECKING:
    from chaos.mesh.plan import MeshPlan

STATE_FILE = "mesh.json"


def default_state_dir() -> Path:
    """``$FALLACIES_STATE_DIR``, else ``$XDG_STATE_HOME/fallacies``, else ``~/.local/state``."""
    explicit = os.environ.get("FALLACIES_STATE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "fallacies"


@dataclass(frozen=True)
class MeshState:
    supervisor_pid: int
    control_url: str
    nodes: dict[str, dict[str, Any]]
    """Per node: kind, pid, listen, health_url, metrics_url, admin_url."""
    links: dict[str, dict[str, Any]] = field(default_factory=dict)
    """Per link: protocol, listen, upstream, proxy (the node carrying it), api."""
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

    @classmethod
    def from_plan(
        cls, plan: MeshPlan, *, supervisor_pid: int, pids: dict[str, int | None] | None = None
    ) -> MeshState:
        """The state of a mesh started from ``plan`` (node pids by name, if any)."""
        pids = pids or {}
        return cls(
            supervisor_pid=supervisor_pid,
            control_url=plan.control_url,
            nodes={
                node.name: {
                    "kind": node.kind,
                    "pid": pids.get(node.name),
                    "listen": node.listen,
                    "health_url": node.health_url,
                    "metrics_url": node.metrics_url,
                    "admin_url": node.admin_url,
                }
                for node in plan.nodes
            },
            links={
                link.name: {
                    "protocol": link.protocol,
                    "listen": link.listen,
                    "upstream": link.upstream,
                    "proxy": link.proxy,
                    "api": plan.node(link.proxy).admin_url,
                }
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
                nodes=dict(data["nodes"]),
                links=dict(data.get("links", {})),
                secrets=dict(data.get("secrets", {})),
            )
        except (OSError, ValueError, KeyError, TypeError):
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
