"""The extension's actions and probes on a running embedded mesh, called as Chaos Toolkit
calls them: plain functions with a ``configuration``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.chaostoolkit import actions, probes
from chaos.mesh.state import MeshState
from tests.embedded.test_up import cli


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    state = str(tmp_path_factory.mktemp("ctk") / "state")
    up = cli("up", "--detach", "--no-console", "--base-port", "0", "--state-dir", state)
    assert up.returncode == 0, up.stderr
    try:
        yield {"fallacies_state_dir": state}
    finally:
        cli("down", "--state-dir", state)


async def admin_json(url: str, state: MeshState) -> object:
    async with state.session(5) as session, session.get(url) as response:
        assert response.status == 200
        return await response.json()


def state_of(configuration: dict[str, str]) -> MeshState:
    state = MeshState.read(Path(configuration["fallacies_state_dir"]))
    assert state is not None
    return state


def test_toxics_and_their_probe(mesh: dict[str, str]) -> None:
    assert probes.fault_active("api-1", configuration=mesh) is False
    added = actions.add_fault("api-1", "latency", {"latency": 100}, ttl_s=30, configuration=mesh)
    assert probes.fault_active("api-1", added["name"], configuration=mesh) is True
    actions.remove_fault("api-1", added["name"], configuration=mesh)
    assert probes.fault_active("api-1", configuration=mesh) is False
    actions.link_down("repl-1-2", duration_s=30, configuration=mesh)
    assert probes.fault_active("repl-1-2", configuration=mesh) is True
    assert "repl-1-2" in actions.reset(configuration=mesh)["reset"]
    assert probes.fault_active("repl-1-2", configuration=mesh) is False
    with pytest.raises(ValueError, match="no link named 'nope'"):
        probes.fault_active("nope", configuration=mesh)


async def test_a_clock_and_a_record_change_and_are_filed_for_revert(
    mesh: dict[str, str],
) -> None:
    state = state_of(mesh)
    skewed = await asyncio.to_thread(actions.skew_clock, "ntp-a", 30, 20, mesh)
    assert skewed["applied"]["janitor"], "the revert is filed with the mesh's janitor"
    clock = await admin_json(f"{state.nodes['ntp-a'].admin_url}/clock", state)
    assert isinstance(clock, dict) and clock["offset"] == pytest.approx(30, abs=0.5)

    await asyncio.to_thread(actions.change_dns_record, "api-1", ["127.0.0.9"], "A", 20, mesh)
    rrset = await admin_json(f"{state.nodes['dns'].admin_url}/records/api-1/A", state)
    assert isinstance(rrset, dict) and rrset["values"] == ["127.0.0.9"]

    with pytest.raises(ValueError, match="unknown fault 'warp'"):
        actions.inject_fault("warp", "api-1", configuration=mesh)
    with pytest.raises(ValueError, match="clock_skew on api-1"):
        actions.inject_fault("clock_skew", "api-1", attributes={"offset_s": 1}, configuration=mesh)


def test_a_signal_reads_the_running_workload(mesh: dict[str, str]) -> None:
    ratio = probes.signal_value("journey_success_ratio", "naive", 2.0, configuration=mesh)
    assert ratio is not None and 0.0 <= ratio <= 1.0
    with pytest.raises(ValueError, match="unknown signal"):
        probes.signal_value("nope", configuration=mesh)
