"""``node_stop``, ``node_kill``, ``node_pause``: a node gone, crashed, or frozen.

Done by the supervisor's control API with ``?ttl=``, which files the restart (or
resume) with its janitor: the node comes back even if the runner dies. The three
look different from outside, which is the point of having all three:

    node_stop    SIGTERM: a clean shutdown, connections refused at once
    node_kill    SIGKILL: a crash, the node shows as exited
    node_pause   SIGSTOP: the process holds its sockets but never answers (timeouts)

Restarting ``dns`` reloads its built-in zone, so the revert re-registers the mesh's
records too (see :func:`chaos.faults.dns_record.restore_mesh_records`).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import (
    CONTROL_TIMEOUT_S,
    NODE_TARGETS,
    check_attributes,
    http,
    require_target,
)
from chaos.faults.base import Fault, FaultContext
from chaos.faults.dns_record import restore_mesh_records

Action = Literal["stop", "kill", "pause"]
UNDO: dict[str, str] = {"stop": "start", "kill": "start", "pause": "resume"}


class NodeFault(Fault):
    target_kind = "node"
    action: ClassVar[Action]

    def validate(self, step: FaultStep) -> None:
        require_target(step, NODE_TARGETS, "node")
        check_attributes(step, {})

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        url = f"{ctx.state.control_url}/nodes/{step.target}/{self.action}?ttl={float(ttl_s)!r}"
        answer = await http(ctx, "POST", url, timeout_s=CONTROL_TIMEOUT_S)
        janitor = (answer or {}).get("revert", {}).get("id")
        return {"node": step.target, "action": self.action, "janitor": janitor}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        node = str(applied.get("node", step.target))
        undo = UNDO[self.action]
        # start on a running node and resume on a running one are no-ops: idempotent.
        url = f"{ctx.state.control_url}/nodes/{node}/{undo}"
        await http(ctx, "POST", url, timeout_s=CONTROL_TIMEOUT_S)
        await ctx.cancel_revert(applied.get("janitor"))
        if node == "dns" and undo == "start":
            await restore_mesh_records(ctx)


@register
class NodeStop(NodeFault):
    kind = "node_stop"
    action = "stop"
    description = "node stopped (SIGTERM); restarted at the TTL"


@register
class NodeKill(NodeFault):
    kind = "node_kill"
    action = "kill"
    description = "node killed (SIGKILL, a crash); restarted at the TTL"


@register
class NodePause(NodeFault):
    kind = "node_pause"
    action = "pause"
    description = "node frozen (SIGSTOP): sockets open, no answers; resumed at the TTL"
