"""What the one-shot does on a task's engine, over a stand-in for the Docker SDK: the
same rules as a container on one engine (kill a running or paused one, pause a running
one, resume a paused one, leave the rest), a clear error for a task not there, and how
the control service reads the one-shot's end (its exit code; its removal failing does
not lose the answer). The one-shot service itself runs on a lab's worker in
test_lab.py."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.compose import task_action
from chaos.compose.task_action import ACTED, LEFT, ActionFailed, NoContainer, act, on_engine


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
    acted = act(client, action, "t1")  # type: ignore[arg-type]
    assert container.done == done
    assert acted == bool(done)
    assert client.containers.filters == [{"label": f"{task_action.TASK_ID_LABEL}=t1"}]


def test_a_task_with_no_container_here_is_a_clear_error() -> None:
    with pytest.raises(NoContainer, match="no container of task t9 on this engine"):
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


class OneShot:
    """A one-shot service whose task ends in ``state`` with ``code``."""

    def __init__(self, state: str, code: int | None, *, removable: bool = True) -> None:
        self.state, self.code, self.removable = state, code, removable
        self.name = "fallacies_pause-t1"
        self.removed = False

    def tasks(self) -> list[dict[str, Any]]:
        status: dict[str, Any] = {"State": self.state, "Err": "task: non-zero exit"}
        if self.code is not None:
            status["ContainerStatus"] = {"ExitCode": self.code}
        return [{"Status": status}]

    def remove(self) -> None:
        import docker

        self.removed = True
        if not self.removable:
            raise docker.errors.APIError("the manager went away")


class Services:
    def __init__(self, service: OneShot) -> None:
        self.service = service
        self.created: dict[str, Any] = {}

    def create(self, image: str, command: list[str], **kwargs: Any) -> OneShot:
        self.created = {"image": image, "command": command, **kwargs}
        return self.service


class Manager:
    def __init__(self, service: OneShot) -> None:
        self.services = Services(service)


def run(service: OneShot, timeout_s: float = 5.0) -> tuple[bool, Manager]:
    manager = Manager(service)
    acted = on_engine(
        manager,  # type: ignore[arg-type]
        image="reg:5000/fallacies/mesh", project="fallacies", node_id="n2", task_id="t1",
        action="pause", timeout_s=timeout_s,
    )  # fmt: skip
    return acted, manager


def test_the_one_shot_is_pinned_to_the_tasks_engine_with_no_port_and_no_capability() -> None:
    acted, manager = run(OneShot("complete", ACTED))
    assert acted
    created = manager.services.created
    assert created["constraints"] == ["node.id==n2"]
    assert created["command"] == ["python", "-m", "chaos.compose.task_action", "pause", "t1"]
    assert "endpoint_spec" not in created and created["cap_drop"] == ["ALL"]
    assert created["labels"]["com.docker.stack.namespace"] == "fallacies"
    assert manager.services.service.removed


def test_a_container_left_as_it_was_is_not_an_error() -> None:
    assert run(OneShot("failed", LEFT))[0] is False


def test_a_task_gone_from_its_engine_says_so() -> None:
    with pytest.raises(ActionFailed, match="no container of the task on its engine"):
        run(OneShot("failed", task_action.ABSENT))


def test_an_engine_that_never_runs_the_one_shot_is_a_timeout_not_a_hang() -> None:
    service = OneShot("pending", None)
    with pytest.raises(ActionFailed, match="did not finish within 0 s .*pending"):
        run(service, timeout_s=0.3)
    assert service.removed


def test_the_answer_survives_a_one_shot_that_cannot_be_removed() -> None:
    assert run(OneShot("complete", ACTED, removable=False))[0] is True
