"""What the one-shot does on a task's engine, over a stand-in for the Docker SDK: the
same rules as a container on one engine (kill a running or paused one, pause a running
one, resume a paused one, leave the rest), and a clear error for a task not there. The
one-shot service itself runs on a lab's worker in test_lab.py."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.swarm import task_action
from chaos.swarm.task_action import ActionFailed, act, on_engine


class Container:
    def __init__(self, status: str) -> None:
        self.name = "fallacies_api-2.1.abc"
        self.status = status
        self.done: list[str] = []

    def kill(self) -> None:
        self.done.append("kill")

    def pause(self) -> None:
        self.done.append("pause")

    def unpause(self) -> None:
        self.done.append("unpause")


class Containers:
    def __init__(self, found: list[Container]) -> None:
        self.found = found
        self.filters: list[dict[str, Any]] = []

    def list(self, *, all: bool, filters: dict[str, Any]) -> list[Container]:
        self.filters.append(filters)
        return self.found


class Client:
    def __init__(self, *found: Container) -> None:
        self.containers = Containers(list(found))


@pytest.mark.parametrize(
    ("action", "status", "done"),
    [
        ("kill", "running", ["kill"]),
        ("kill", "paused", ["kill"]),
        ("kill", "exited", []),
        ("pause", "running", ["pause"]),
        ("pause", "paused", []),
        ("unpause", "paused", ["unpause"]),
        ("unpause", "running", []),
    ],
)
def test_the_action_follows_the_containers_state(action: str, status: str, done: list[str]) -> None:
    container = Container(status)
    client = Client(container)
    words = act(client, action, "t1")  # type: ignore[arg-type]
    assert container.done == done
    assert ("done" in words) == bool(done), words
    assert client.containers.filters == [{"label": f"{task_action.TASK_ID_LABEL}=t1"}]


def test_a_task_with_no_container_here_is_a_clear_error() -> None:
    with pytest.raises(ActionFailed, match="no container of task t9 on this engine"):
        act(Client(), "kill", "t9")  # type: ignore[arg-type]


def test_an_unknown_action_is_refused_before_anything_is_created() -> None:
    with pytest.raises(ValueError, match="unknown action 'stop'"):
        on_engine(
            None,  # type: ignore[arg-type]
            image="x", project="fallacies", node_id="n", task_id="t", action="stop",
        )  # fmt: skip


def test_the_command_line_refuses_an_unknown_action(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        task_action.main(["stop", "t1"])
    assert exited.value.code == 2
    assert "invalid choice: 'stop'" in capsys.readouterr().err
