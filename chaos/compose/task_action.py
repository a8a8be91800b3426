"""Kill, pause or resume a Swarm task's container on whichever engine it runs.

A manager's API reaches every engine's tasks but none of their containers: Swarm has
no "kill this task" (``docker service`` can only scale or update), and a worker's
Docker socket is that worker's alone. So the control service asks the swarm to run
the action where the task is: a one-shot service, pinned to the task's engine by
``node.id``, that mounts that engine's socket, does one thing to the container
labelled with the task's ID and exits.

    control (manager) ──docker service create──▶ swarm
                                                   └─▶ engine-2: python -m chaos.compose.task_action
                                                        kill TASK_ID  (its own docker.sock)

No port is opened and nothing keeps running: the service is removed once its task
ends (its exit code says what it did), and it carries the stack's label, so ``docker
stack rm`` takes one that a dying control service left behind, as does the next control
service when it starts. It takes about a second, plus the pull of the image the worker
attempts first. What the swarm does next (a new task for a killed one) is its own
business: the action is the fault, the rescheduling is what it shows.

    python -m chaos.compose.task_action {kill,pause,unpause} TASK_ID
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from typing import TYPE_CHECKING, Any

from chaos.compose.engines import ACTION_LABEL, STACK_LABEL, TASK_ID_LABEL
from chaos.mesh.errors import MeshError

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

__all__ = [
    "ACTIONS",
    "ActionFailed",
    "NoContainer",
    "act",
    "apply",
    "on_engine",
    "remove_strays",
]

log = logging.getLogger(__name__)

ACTIONS = ("kill", "pause", "unpause")
FINAL = ("complete", "failed", "rejected", "shutdown", "orphaned", "remove")
"""A one-shot task's states from which it goes nowhere."""
ACTED, LEFT, ABSENT = 0, 3, 4
"""The one-shot's exit codes: what it did, told without reading its logs back (a log
stream from an engine that went away can hang)."""
SAID = {
    LEFT: "the container was not in a state to act on: left as it is",
    ABSENT: "no container of the task on its engine (it ended, or moved)",
}
TIMEOUT_S = 25.0
"""Within the callers' deadlines (a node fault waits 40 s), so they hear the reason."""


class ActionFailed(MeshError):
    """The action did not happen on the task's engine; the message says why (a
    ``RuntimeError`` too, which the control API answers with a 502 and the reason)."""


class NoContainer(ActionFailed):
    """The engine has no container of that task (it ended, or runs elsewhere now)."""


def apply(container: Container, action: str) -> bool:
    """Do ``action`` to a container as a node action would; whether it acted: kill a
    running or paused one, pause a running one, resume a paused one, and leave anything
    else as it is (blocking). The compose mesh's containers follow the same rules."""
    status = container.status
    if action == "kill" and status in ("running", "paused"):
        container.kill()
    elif action == "pause" and status == "running":
        container.pause()
    elif action == "unpause" and status == "paused":
        container.unpause()
    else:
        return False
    return True


def act(client: docker.DockerClient, action: str, task_id: str) -> bool:
    """``apply`` to this engine's container of the task (blocking)."""
    import docker

    try:
        found = client.containers.list(all=True, filters={"label": f"{TASK_ID_LABEL}={task_id}"})
        if not found:
            raise NoContainer(f"no container of task {task_id} on this engine")
        return apply(found[0], action)
    except docker.errors.DockerException as exc:
        raise ActionFailed(f"{action} task {task_id}: {exc}") from exc


def on_engine(
    client: docker.DockerClient,
    *,
    image: str,
    project: str,
    node_id: str,
    task_id: str,
    action: str,
    timeout_s: float = TIMEOUT_S,
) -> bool:
    """Run ``act`` on the engine ``node_id`` as a one-shot service of the stack; whether
    it acted, once its task ends. ``ActionFailed`` if it failed or overran (blocking:
    call in a thread)."""
    import docker
    from docker.types import RestartPolicy

    if action not in ACTIONS:
        raise ValueError(f"unknown action {action!r}; use one of {', '.join(ACTIONS)}")
    labels = {STACK_LABEL: project, ACTION_LABEL: action}
    try:
        service = client.services.create(  # type: ignore[no-untyped-call]
            image,
            ["python", "-m", "chaos.compose.task_action", action, task_id],
            name=f"{project}_{action}-{task_id[:12]}-{time.monotonic_ns() % 10**6}",
            constraints=[f"node.id=={node_id}"],
            mounts=["/var/run/docker.sock:/var/run/docker.sock:rw"],
            restart_policy=RestartPolicy(condition="none"),
            labels=labels,
            container_labels=labels,
            user="root",
            read_only=True,
            cap_drop=["ALL"],
        )
    except docker.errors.DockerException as exc:
        raise ActionFailed(f"could not start the one-shot on the task's engine: {exc}") from exc
    try:
        return _outcome(service, action, timeout_s)
    except docker.errors.DockerException as exc:
        raise ActionFailed(f"{action} on the task's engine: {exc}") from exc
    finally:
        try:
            service.remove()
        except docker.errors.DockerException as exc:
            log.warning("could not remove the one-shot %s: %s", service.name, exc)


def _outcome(service: Any, action: str, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while True:
        tasks: list[dict[str, Any]] = service.tasks()
        status: dict[str, Any] = (tasks[0].get("Status") or {}) if tasks else {}
        state = str(status.get("State", ""))
        if state in FINAL:
            break
        if time.monotonic() > deadline:
            raise ActionFailed(
                f"{action} on the task's engine did not finish within {timeout_s:.0f} s "
                f"(its one-shot task is {state or 'not scheduled'})"
            )
        time.sleep(0.2)
    code = (status.get("ContainerStatus") or {}).get("ExitCode")
    if state == "complete" or code == ACTED:
        return True
    if code == LEFT:
        return False
    why = SAID.get(code, "") if isinstance(code, int) else ""
    raise ActionFailed(
        f"{action} on the task's engine: {why or status.get('Err') or 'the one-shot ' + state}"
    )


def remove_strays(client: docker.DockerClient, project: str) -> int:
    """Remove the one-shots a control service that died left behind; how many
    (blocking)."""
    strays = client.services.list(filters={"label": [f"{STACK_LABEL}={project}", ACTION_LABEL]})
    for stray in strays:
        stray.remove()  # type: ignore[no-untyped-call]
    return len(strays)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.compose.task_action", description=__doc__
    )
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
        acted = act(client, args.action, args.task_id)
    except ActionFailed as exc:
        print(f"error: {exc}", file=sys.stderr, flush=True)
        return ABSENT if isinstance(exc, NoContainer) else 1
    finally:
        client.close()
    print(f"{args.action} task {args.task_id}: {'done' if acted else SAID[LEFT]}", flush=True)
    return ACTED if acted else LEFT


if __name__ == "__main__":
    sys.exit(main())
