"""The control API's ``/engines`` and the ``engine_drain`` fault, without a swarm: the
routes over a stand-in for the engines, ``SwarmEngines`` over a stand-in Docker SDK,
and the fault against the control API."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp.test_utils import TestClient, TestServer

from chaos.compose.engines import ACTION_LABEL, SwarmEngines, _created
from chaos.embedded.plan import build_plan
from chaos.experiment.model import FaultStep
from chaos.faults import FAULTS, FaultContext, validate_step
from chaos.faults.base import FaultError
from chaos.mesh.control import NO_ENGINES, EngineRefused, NoSuchEngine, create_app
from chaos.mesh.state import MeshState
from tests import polling
from tests.common.apis import FakeMesh

T = "2026-12-07T10:00:"
ENGINES = [
    {"id": "m1", "hostname": "engine-1", "role": "manager", "availability": "active",
     "state": "ready", "tasks": ["dns", "proxy", "workload"]},
    {"id": "w2", "hostname": "engine-2", "role": "worker", "availability": "active",
     "state": "ready", "tasks": ["api-1"]},
]  # fmt: skip


class FakeEngines:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []

    async def describe(self) -> list[dict[str, Any]]:
        return [dict(e) for e in ENGINES]

    async def act(self, name: str, action: str) -> dict[str, Any]:
        self.calls.append((name, action))
        if name == "engine-1":
            raise EngineRefused("engine-1 is a manager")
        if name == "engine-3":
            raise RuntimeError("engine-3 is gone")
        if name != "engine-2":
            raise NoSuchEngine(f"no engine named {name!r}")
        return {**ENGINES[1], "availability": "drain" if action == "drain" else "active"}


def fake_mesh() -> FakeMesh:
    return FakeMesh(build_plan(base_port=0))


@pytest_asyncio.fixture
async def engines() -> AsyncIterator[tuple[TestClient[Any, Any], FakeEngines]]:
    fake = FakeEngines()
    client = TestClient(TestServer(create_app(fake_mesh(), engines=fake)))
    await client.start_server()
    yield client, fake
    await client.close()


async def test_a_mesh_without_engines_says_it_runs_on_one_host() -> None:
    async with TestClient(TestServer(create_app(fake_mesh()))) as client:
        for method, path in (("GET", "/engines"), ("POST", "/engines/engine-2/drain")):
            response = await client.request(method, path)
            assert response.status == 404
            assert (await response.json())["error"] == NO_ENGINES


async def test_engines_are_listed_with_the_tasks_each_runs(
    engines: tuple[TestClient[Any, Any], FakeEngines],
) -> None:
    client, _ = engines
    response = await client.get("/engines")
    assert response.status == 200
    assert [e["tasks"] for e in await response.json()] == [e["tasks"] for e in ENGINES]


async def test_a_drain_with_ttl_is_made_active_again_by_the_janitor(
    engines: tuple[TestClient[Any, Any], FakeEngines],
) -> None:
    client, fake = engines
    response = await client.post("/engines/engine-2/drain?ttl=0.3")
    body = await response.json()
    assert response.status == 200, body
    assert body["availability"] == "drain" and body["revert"]["description"] == "activate engine-2"
    began = time.monotonic()
    await polling.eventually(lambda: ("engine-2", "activate") in fake.calls, timeout=5.0)
    assert time.monotonic() - began < 5.0
    assert fake.calls == [("engine-2", "drain"), ("engine-2", "activate")]


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/engines/engine-2/reboot", 400, "unknown action 'reboot'"),
        ("/engines/engine-2/drain?ttl=-1", 400, "ttl must be"),
        ("/engines/engine-9/drain", 404, "no engine named 'engine-9'"),
        ("/engines/engine-1/drain", 409, "is a manager"),
        ("/engines/engine-2/activate?ttl=5", 400, "only a drain takes a ttl"),
        ("/engines/engine-3/drain", 502, "the engine API: engine-3 is gone"),
    ],
)
async def test_a_bad_engine_request_is_refused_with_the_reason(
    engines: tuple[TestClient[Any, Any], FakeEngines], path: str, status: int, words: str
) -> None:
    client, fake = engines
    response = await client.post(path)
    assert response.status == status
    assert words in (await response.json())["error"]
    assert ("engine-2", "drain") not in fake.calls


# -- SwarmEngines over a stand-in SDK ------------------------------------------------


class FakeNode:
    def __init__(self, node_id: str, hostname: str, role: str) -> None:
        self.id = node_id
        self.attrs: dict[str, Any] = {
            "Spec": {"Role": role, "Availability": "active"},
            "Description": {"Hostname": hostname},
            "Status": {"State": "ready"},
        }
        self.updates: list[dict[str, Any]] = []

    def update(self, spec: dict[str, Any]) -> None:
        self.updates.append(spec)
        self.attrs["Spec"] = spec


class FakeService:
    def __init__(
        self, service_id: str, name: str, forced: list[str] | None = None, **labels: str
    ) -> None:
        self.id, self.name = service_id, name
        self.forced = forced if forced is not None else []
        self.attrs: dict[str, Any] = {
            "Spec": {"Name": name, "Labels": labels, "Mode": {"Replicated": {"Replicas": 1}}}
        }

    def force_update(self) -> None:
        self.forced.append(self.name)


class FakeSdk:
    """The few calls SwarmEngines makes: services, tasks, nodes."""

    def __init__(self) -> None:
        self.nodes_by_id = {
            "m1": FakeNode("m1", "engine-1", "manager"),
            "w2": FakeNode("w2", "engine-2", "worker"),
            "w3": FakeNode("w3", "engine-3", "worker"),
        }
        self.tasks = [
            {"ID": "t3", "ServiceID": "s-api", "NodeID": "w2", "CreatedAt": T + "03.1Z",
             "DesiredState": "running", "Status": {"State": "running"}},
            {"ID": "t2", "ServiceID": "s-dns", "NodeID": "m1", "CreatedAt": T + "02.1Z",
             "DesiredState": "running", "Status": {"State": "running"}},
            {"ID": "t1", "ServiceID": "s-dns", "NodeID": "w2", "CreatedAt": T + "01.1Z",
             "DesiredState": "shutdown", "Status": {"State": "shutdown"}},
            {"ID": "t0", "ServiceID": "s-other", "NodeID": "w2", "CreatedAt": T + "00.1Z",
             "DesiredState": "running", "Status": {"State": "running"}},
            {"ID": "t9", "ServiceID": "s-kill", "NodeID": "w3", "CreatedAt": T + "00.2Z",
             "DesiredState": "running", "Status": {"State": "running"}},
        ]  # fmt: skip
        self.forced: list[str] = []
        self.polls = 0
        self.stopped: set[str] = set()
        """Services scaled to 0, as node_stop leaves them."""
        self.later: dict[int, dict[str, Any]] = {}
        """Tasks the swarm creates at the N-th look at its tasks."""
        self.names = {"s-api": "fallacies_api-1", "s-dns": "fallacies_dns"}
        self.one_shots = {"s-kill": "fallacies_kill-t9-1"}
        """A control service's one-shot (chaos.compose.task_action): in the stack, no node."""
        sdk = self

        class Services:
            def list(self, filters: dict[str, str]) -> list[FakeService]:
                assert filters == {"label": "com.docker.stack.namespace=fallacies"}
                one_shot = {ACTION_LABEL: "kill"}
                found = [FakeService(i, name) for i, name in sdk.names.items()] + [
                    FakeService(i, name, **one_shot) for i, name in sdk.one_shots.items()
                ]
                for service in found:
                    if service.name in sdk.stopped:
                        service.attrs["Spec"]["Mode"]["Replicated"]["Replicas"] = 0
                return found

            def get(self, name: str) -> FakeService:
                return FakeService("?", name, sdk.forced)

        class Nodes:
            def list(self) -> list[FakeNode]:
                return list(sdk.nodes_by_id.values())

            def get(self, node_id: str) -> FakeNode:
                return sdk.nodes_by_id[node_id]

        class Api:
            def tasks(self) -> list[dict[str, Any]]:
                sdk.polls += 1
                if sdk.polls in sdk.later:
                    sdk.tasks.append(sdk.later.pop(sdk.polls))
                return sdk.tasks

        self.services, self.nodes, self.api = Services(), Nodes(), Api()


async def test_swarm_engines_name_each_engines_running_tasks_and_drain_only_workers() -> None:
    sdk = FakeSdk()
    engines = SwarmEngines(sdk, project="fallacies")  # type: ignore[arg-type]
    listed = await engines.describe()
    assert [(e["hostname"], e["role"], e["tasks"]) for e in listed] == [
        ("engine-1", "manager", ["dns"]),
        ("engine-2", "worker", ["api-1"]),
        ("engine-3", "worker", []),
    ]
    with pytest.raises(EngineRefused, match="engine-1 is a manager"):
        await engines.act("engine-1", "drain")
    assert not sdk.nodes_by_id["m1"].updates
    drained = await engines.act("w2", "drain")
    assert drained["availability"] == "drain"
    assert sdk.nodes_by_id["w2"].updates[-1]["Availability"] == "drain"
    await engines.act("engine-2", "activate")
    assert sdk.nodes_by_id["w2"].attrs["Spec"]["Availability"] == "active"
    assert not sdk.forced


def with_api_2(*, node: str, desired: str) -> tuple[FakeSdk, SwarmEngines]:
    """A second replica whose running task is on ``node`` (meant to go on running, or
    being shut down by a drain), and engine-3 drained."""
    sdk = FakeSdk()
    sdk.names["s-api2"] = "fallacies_api-2"
    sdk.tasks.append(
        {"ID": "t4", "ServiceID": "s-api2", "NodeID": node, "CreatedAt": T + "03.12Z",
         "DesiredState": desired, "Status": {"State": "running"}}
    )  # fmt: skip
    sdk.nodes_by_id["w3"].attrs["Spec"]["Availability"] = "drain"
    return sdk, SwarmEngines(sdk, project="fallacies")  # type: ignore[arg-type]


async def test_activating_an_engine_spreads_replicas_a_drain_left_on_one_engine() -> None:
    sdk, engines = with_api_2(node="w2", desired="running")
    done = await engines.act("engine-3", "activate")
    assert done["respread"] == ["api-2"] and sdk.forced == ["fallacies_api-2"]
    sdk.tasks[-1]["NodeID"] = "w3"
    assert (await engines.act("engine-3", "activate"))["respread"] == []
    assert sdk.forced == ["fallacies_api-2"]
    # A short drain: api-2's new task is placed beside api-1 and still starting when
    # the engine comes back; it is moved all the same.
    sdk.forced.clear()
    sdk.tasks[-1].update(NodeID="w2", Status={"State": "starting"})
    sdk.nodes_by_id["w3"].attrs["Spec"]["Availability"] = "drain"
    assert (await engines.act("engine-3", "activate"))["respread"] == ["api-2"]
    assert [e["tasks"] for e in await engines.describe()][1:] == [["api-1"], []]
    with pytest.raises(LookupError, match="no engine named 'engine-7'"):
        await engines.act("engine-7", "drain")
    await engines.act("engine-3", "drain")
    with pytest.raises(EngineRefused, match="engine-2 is the last active worker"):
        await engines.act("engine-2", "drain")
    assert sdk.nodes_by_id["w2"].attrs["Spec"]["Availability"] == "active"


async def test_an_activation_waits_for_a_replica_still_leaving_the_drained_engine() -> None:
    """A drain shorter than a task's stop: the engine is back before the swarm has even
    created api-2's new task, which then lands beside api-1 — and is moved."""
    sdk, engines = with_api_2(node="w3", desired="shutdown")
    sdk.later[sdk.polls + 4] = {
        "ID": "t5", "ServiceID": "s-api2", "NodeID": "w2", "CreatedAt": T + "07.5Z",
        "DesiredState": "running", "Status": {"State": "assigned"},
    }  # fmt: skip
    done = await engines.act("engine-3", "activate")
    assert not sdk.later, "the activation did not wait for the new task"
    assert done["respread"] == ["api-2"] and sdk.forced == ["fallacies_api-2"]


async def test_an_activation_does_not_wait_for_a_replica_a_node_fault_stopped() -> None:
    sdk, engines = with_api_2(node="w2", desired="shutdown")
    sdk.stopped.add("fallacies_api-2")
    await engines.act("engine-3", "activate")
    assert sdk.polls <= 6, f"the activation waited for a stopped replica ({sdk.polls} looks)"


# -- the fault, against the control API ----------------------------------------------


def drain_step(target: str) -> FaultStep:
    step = FaultStep(kind="engine_drain", target=target, at_s=0, duration_s=5, attributes={})
    validate_step(step)
    return step


async def test_engine_drain_drains_the_engine_running_its_target_and_reverts(
    engines: tuple[TestClient[Any, Any], FakeEngines],
) -> None:
    client, fake = engines
    plan = build_plan(base_port=0)
    url = str(client.make_url("")).rstrip("/")
    state = MeshState.from_plan(plan, supervisor_pid=0)
    state = dataclasses.replace(state, control_url=url)
    fault = FAULTS["engine_drain"]
    async with aiohttp.ClientSession() as session:
        ctx = FaultContext(state, session, actor="tests/swarm")
        applied = await fault.apply(ctx, drain_step("api-1"), 30.0)
        assert applied["engine"] == "engine-2" and applied["tasks"] == ["api-1"]
        assert applied["janitor"]
        await fault.revert(ctx, drain_step("api-1"), applied)
        with pytest.raises(FaultError, match="no engine runs a task of 'api-2'"):
            await fault.apply(ctx, drain_step("api-2"), 30.0)
    assert fake.calls == [("engine-2", "drain"), ("engine-2", "activate")]


def test_tasks_are_ordered_by_time_not_by_their_trimmed_timestamps() -> None:
    early, late = {"CreatedAt": T + "03.1Z"}, {"CreatedAt": T + "03.12Z"}
    assert str(early["CreatedAt"]) > str(late["CreatedAt"])
    assert _created(early) < _created(late)
    assert _created({"CreatedAt": T + "03.123456789Z"}) > _created(late)
