"""What a fault is: something applied to a link, a node or a record, and reverted.

Every fault is applied with a TTL enforced outside the runner (the proxy's own TTL,
or a revert filed with the supervisor's janitor), so it ends even if the runner is
killed mid-fault. The runner also reverts it itself at the end of its duration and
in its rollbacks.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import aiohttp

from chaos.experiment.model import FaultStep
from chaos.mesh.control import cancel_revert, file_revert
from chaos.mesh.links import Links
from chaos.mesh.state import MeshState
from services.common.errors import FallaciesError

TargetKind = Literal["link", "node", "record", "mesh"]


class FaultError(FallaciesError, RuntimeError):
    """A fault could not be applied or reverted: the message says where and why."""


class FaultSpecError(FallaciesError, ValueError):
    """A fault step is wrong; ``field`` names the offending key (``target``, ``attributes.x``)."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")


@dataclass
class FaultContext:
    """Who applies faults to which mesh, on one session for the whole run."""

    state: MeshState
    session: aiohttp.ClientSession
    actor: str = "fallacies-runner"

    @property
    def links(self) -> Links:
        return Links(self.state, actor=self.actor, session=self.session)

    async def file_revert(
        self,
        *,
        due_in_s: float,
        method: str,
        url: str,
        description: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> str:
        """File the revert with the mesh's janitor, so it happens even if this process
        dies; filed before the change it undoes, always."""
        return await file_revert(
            self.state,
            due_in_s=due_in_s,
            method=method,
            url=url,
            body=body,
            headers=headers,
            description=f"{description} (by {self.actor})",
        )

    async def cancel_revert(self, job: str | None) -> None:
        """Drop a filed revert once done by hand; gone already (it ran) is fine."""
        await cancel_revert(self.state, job)


class Fault(abc.ABC):
    kind: ClassVar[str]
    target_kind: ClassVar[TargetKind]
    description: ClassVar[str] = ""
    any_link: ClassVar[bool] = False
    """It works on any link by name, so on one's own links too: ``validate`` then takes
    ``links`` (name -> ``tcp``/``udp``) in place of the mesh's."""

    def units(self, step: FaultStep) -> Mapping[str, str]:
        """Attribute -> unit of the step's attributes that have one (``latency`` -> ``ms``)."""
        return {}

    @abc.abstractmethod
    def validate(self, step: FaultStep) -> None:
        """Check target and attributes without a running mesh; raise FaultSpecError."""

    def unsupported(self, ctx: FaultContext, step: FaultStep) -> str | None:
        """Why this mesh cannot carry the step (the run goes on without it, and says so)."""
        return None

    @abc.abstractmethod
    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        """Inject it; return what ``revert`` needs (e.g. the previous value, a janitor id)."""

    @abc.abstractmethod
    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        """Undo it; must be safe to call when the fault already expired on its own."""
