"""``engine_drain``: the host under a node taken away whole, on the Swarm stack.

The target names a mesh node (``api-1``); the fault drains the engine its task runs
on, through the control API's ``/engines`` with ``?ttl=``, so the janitor makes the
engine active again even if the runner dies. The swarm starts the drained tasks
elsewhere, at new addresses, and that move is what the clients see: the fault never
steers where they land. Made active again, the engine takes new tasks, and a replica
the drain left beside the other is restarted to spread them again (Swarm moves no
running task back by itself, and the next drain would take both).

Only the Swarm stack has engines: on the embedded or compose mesh the control API
answers 404 and the fault says to run with ``--target swarm``.
"""

from __future__ import annotations

from typing import Any

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import (
    CONTROL_TIMEOUT_S,
    NODE_TARGETS,
    HttpError,
    check_attributes,
    http,
    require_target,
)
from chaos.faults.base import Fault, FaultContext, FaultError


@register
class EngineDrain(Fault):
    kind = "engine_drain"
    target_kind = "node"
    description = "the engine running the node drained (Swarm): its tasks move; active at the TTL"

    def validate(self, step: FaultStep) -> None:
        require_target(step, NODE_TARGETS, "node")
        check_attributes(step, {})

    async def _engine_of(self, ctx: FaultContext, node: str) -> dict[str, Any]:
        url = f"{ctx.state.control_url}/engines"
        try:
            engines = await http(ctx, "GET", url, timeout_s=CONTROL_TIMEOUT_S)
        except HttpError as exc:
            if exc.status == 404:
                raise FaultError(
                    "engine_drain needs the Swarm stack (`fallacies up --swarm`, "
                    "`fallacies run --target swarm`): this mesh runs on one host"
                ) from exc
            raise
        for engine in engines or []:
            if node in engine.get("tasks", []):
                return dict(engine)
        raise FaultError(f"no engine runs a task of {node!r} now")

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        engine = await self._engine_of(ctx, step.target)
        hostname = engine["hostname"]
        url = f"{ctx.state.control_url}/engines/{hostname}/drain?ttl={float(ttl_s)!r}"
        answer = await http(ctx, "POST", url, timeout_s=CONTROL_TIMEOUT_S)
        janitor = (answer or {}).get("revert", {}).get("id")
        return {"engine": hostname, "tasks": engine.get("tasks", []), "janitor": janitor}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        # activate on an active engine is a no-op: safe after the janitor fired.
        url = f"{ctx.state.control_url}/engines/{applied['engine']}/activate"
        await http(ctx, "POST", url, timeout_s=CONTROL_TIMEOUT_S)
        await ctx.cancel_revert(applied.get("janitor"))
