"""Kill, pause or resume a Swarm task's container on whichever engine it runs.

A manager's API reaches every engine's tasks but none of their containers: Swarm has
no "kill this task" (``docker service`` can only scale or update), and a worker's
Docker socket is that worker's alone. So the control service asks the swarm to run
the action where the task is: a one-shot service, pinned to the task's engine by
``node.id``, that mounts that engine's socket, does one thing to the container
labelled with the task's ID and exits.

    control (manager) ──docker service create──▶ swarm
                                                   └─▶ engine-2: python -m chaos.swarm.task_action
                                                        kill TASK_ID  (its own docker.sock)

No port is opened and nothing keeps running: the service is removed once its task
ends, and it carries the stack's label, so ``docker stack rm`` takes one that a dying
control service left behind. What the swarm does next (a new task for a killed one)
is its own business: the action is the fault, the rescheduling is what it shows.

    python -m chaos.swarm.task_action {kill,pause,unpause} TASK_ID
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING, Any

from chaos.compose.engines import STACK_LABEL
from chaos.mesh.errors import MeshError

if TYPE_CHECKING:
    import docker

__all__ = ["ACTIONS", "ActionFailed", "act", "on_engine"]

ACTIONS = ("kill", "pause", "unpause")
TASK_ID_LABEL = "com.docker.swarm.task.id"
ACTION_LABEL = "org.fallacies.task-action"
"""On the one-shot services, so a test (or a person) can tell them from the stack's."""
DONE = {"complete": True, "failed": False, "rejected": False, "shutdown": False}
"""A one-shot task's final states, and whether each means the action was done."""


class ActionFailed(MeshError):
    """The action did not happen on the task's engine; the message says why (a
    ``RuntimeError`` too, which the control API answers with a 502 and the reason)."""


def act(client: docker.DockerClient, action: str, task_id: str) -> str:
    """Do ``action`` to this engine's container of the task; what happened, in words.

    As on one engine: kill a running or paused container, pause a running one, resume
    a paused one; anything else is left as it is (blocking)."""
    found = client.containers.list(all=True, filters={"label": f"{TASK_ID_LABEL}={task_id}"})
    if not found:
        raise ActionFailed(f"no container of task {task_id} on this engine")
    container = found[0]
    status = container.status
    if action == "kill" and status in ("running", "paused"):
        container.kill()
    elif action == "pause" and status == "running":
        container.pause()
    elif action == "unpause" and status == "paused":
        container.unpause()
    else:
        return f"{container.name} was {status}: left as it is"
    return f"{action} {container.name}: done"


def on_engine(
    client: docker.DockerClient,
    *,
    image: str,
    project: str,
    node_id: str,
    task_id: str,
    action: str,
    timeout_s: float = 60.0,
) -> str:
    """Run ``act`` on the engine ``node_id`` as a one-shot service of the stack and
    return its words once its task ends; ``ActionFailed`` if it failed or overran
    (blocking: call in a thread)."""
    from docker.types import RestartPolicy

    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    labels = {STACK_LABEL: project, ACTION_LABEL: action}
    service = client.services.create(  # type: ignore[no-untyped-call]
        image,
        ["python", "-m", "chaos.swarm.task_action", action, task_id],
        name=f"{project}_{action}-{task_id[:12]}-{time.monotonic_ns() % 10**6}",
        constraints=[f"node.id=={node_id}"],
        mounts=["/var/run/docker.sock:/var/run/docker.sock:rw"],
        restart_policy=RestartPolicy(condition="none"),
        labels=labels,
        container_labels=labels,
        user="root",
        read_only=True,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            tasks: list[dict[str, Any]] = service.tasks()
            status: dict[str, Any] = (tasks[0].get("Status") or {}) if tasks else {}
            state = str(status.get("State", ""))
            if state in DONE:
                break
            if time.monotonic() > deadline:
                raise ActionFailed(
                    f"{action} on the task's engine did not finish within {timeout_s:.0f} s "
                    f"(its one-shot task is {state or 'not scheduled'})"
                )
            time.sleep(0.2)
        words = _logs(service)
        if not DONE[state]:
            raise ActionFailed(words or str(status.get("Err") or f"the one-shot task {state}"))
        return words
    finally:
        service.remove()


def _logs(service: Any) -> str:
    """The one-shot's last line (its answer or its error), if the engine kept it."""
    try:
        lines = b"".join(service.logs(stdout=True, stderr=True)).decode(errors="replace")
    except Exception:
        return ""
    said = [line.strip() for line in lines.splitlines() if line.strip()]
    return said[-1] if said else ""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.swarm.task_action", description=__doc__)
    parser.add_argument("action", choices=ACTIONS)
    parser.add_argument("task_id", help="the Swarm task whose container to act on")
    args = parser.parse_args(argv)
    import docker

    try:
        client = docker.from_env(version="auto")
    except docker.errors.DockerException as exc:
        print(f"error: cannot reach this engine's Docker socket: {exc}", file=sys.stderr)
        return 2
    try:
        print(act(client, args.action, args.task_id), flush=True)
    except (ActionFailed, docker.errors.APIError) as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        client.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
