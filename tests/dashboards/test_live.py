"""Every PromQL expression of the dashboards and rules, against a real Prometheus.

Grafana cannot be installed here, so this is how the dashboards are checked: a real
embedded mesh, Debian's Prometheus scraping it with the config of
``chaos.embedded.prometheus`` and evaluating ``dashboards/rules``, and two faults so the
series that exist only once something goes wrong appear:

* ``truncate`` on the ``dns`` link for 8 s: the naive client's UDP-only lookups of the
  large TXT answer fail (``fallacies_workload_dns_failures_total``, fallacy 8);
* ``latency`` 300 ms on ``api-1``: the naive client's journeys slow down (fallacy 2)
  and the resilient one hedges (``fallacies_workload_hedges_total``).

Then, polling with a deadline until each check has passed once:

1. every dashboard query and annotation, and every recording rule, returns data;
2. every alert's signal — its expression without the threshold, which the alerts are
   written to allow (``<signal> <op> <number>``) — returns data, fault or no fault;
3. every vector selector inside all of them matches a series, so an ``or`` fallback
   cannot hide a misspelt metric or label, and every recorded series exists;
4. the alerts these faults must raise do: ``ChaosFaultActive`` and
   ``DnsLargeAnswersFailing`` (resilient: its EDNS0 answers are the ones cut) firing,
   ``JourneysSlow`` (naive) pending or firing (its ``for: 10s`` is unit-tested by promtool).

Timing: the mesh starts in ~3 s, Prometheus is ready in ~1 s and scrapes every second;
the checks usually all pass ~12 s after the faults start. Deadline: 60 s.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from chaos.embedded.plan import build_plan
from chaos.embedded.ports import PortAllocator
from chaos.embedded.prometheus import check_config, prometheus_node
from chaos.embedded.supervisor import Supervisor
from chaos.mesh.links import Links
from chaos.mesh.state import MeshState
from tests.conftest import require_tool
from tests.dashboards.promql import (
    dashboard_expressions,
    rule_expressions,
    selectors,
    signal_parts,
)

READY_TIMEOUT_S = 20.0
CHECK_DEADLINE_S = 60.0
FIRING = (
    'ALERTS{alertname="ChaosFaultActive",alertstate="firing"}',
    'ALERTS{alertname="DnsLargeAnswersFailing",alertstate="firing",client="resilient"}',
    'ALERTS{alertname="JourneysSlow",client="naive"}',
)


@dataclass
class Check:
    query: str
    why: list[str] = field(default_factory=list)


def _checks() -> dict[str, Check]:
    checks: dict[str, Check] = {}

    def need(query: str, why: str) -> None:
        checks.setdefault(query, Check(query)).why.append(why)

    for expression in [*dashboard_expressions(), *rule_expressions()]:
        if expression.kind == "alert":
            for part in signal_parts(expression.expr):
                need(part, f"{expression.where} (signal of the alert)")
        else:
            need(expression.expr, expression.where)
        if expression.kind == "record":
            need(expression.name, f"{expression.where} (the recorded series)")
        for selector in selectors(expression.expr):
            need(selector, f"{expression.where} (selector)")
    for query in FIRING:
        need(query, "the faults raise this alert")
    return checks


async def _query(session: aiohttp.ClientSession, url: str, promql: str) -> list[Any]:
    async with session.get(f"{url}/api/v1/query", params={"query": promql}) as response:
        body = await response.json()
    if body.get("status") != "success":
        raise AssertionError(f"Prometheus refused {promql!r}: {body}")
    result: list[Any] = body["data"]["result"]
    return result


async def _await_ready(session: aiohttp.ClientSession, url: str, proc: Any, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise AssertionError(f"prometheus exited {proc.returncode}:\n{log.read_text()}")
        try:
            async with session.get(url) as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.1)
    raise AssertionError(f"prometheus not ready within {READY_TIMEOUT_S} s:\n{log.read_text()}")


@pytest.fixture
async def mesh(tmp_path: Path) -> AsyncIterator[MeshState]:
    require_tool("prometheus")  # before starting anything
    require_tool("promtool")
    supervisor = Supervisor(build_plan(base_port=0), tmp_path / "state")
    await supervisor.start()
    try:
        state = MeshState.read(tmp_path / "state")
        assert state is not None
        yield state
    finally:
        await supervisor.stop()


@pytest.mark.tool("prometheus")
async def test_every_expression_returns_data(mesh: MeshState, tmp_path: Path) -> None:
    binary = require_tool("prometheus")
    promtool = require_tool("promtool")
    prom = prometheus_node(
        mesh.nodes,
        host="127.0.0.1",
        port=PortAllocator(0).take(),
        state_dir=tmp_path / "prometheus",
        binary=binary,
    )
    check_config(prom.config_path, promtool=promtool)
    log = tmp_path / "prometheus.log"
    with open(log, "wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *prom.argv, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
    checks = _checks()
    began = time.monotonic()
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5)) as session:
            await _await_ready(session, prom.health_url, proc, log)
            # The resilient client asks for the large TXT again once its 5 s TTL runs
            # out: 20 s of a cut path is a few failures, enough for a rate to see.
            links = Links(mesh)
            await links.add_toxic("dns", "truncate", attributes={"max_size": 512}, ttl=20)
            await links.add_toxic("api-1", "latency", attributes={"latency": 300}, ttl=60)
            faults_at = time.monotonic()
            pending = dict(checks)
            while pending and time.monotonic() - faults_at < CHECK_DEADLINE_S:
                for query in list(pending):
                    if await _query(session, prom.url, query):
                        del pending[query]
                if pending:
                    await asyncio.sleep(1.0)
            took = time.monotonic() - faults_at
    finally:
        if proc.returncode is None:
            proc.terminate()
            try:
                await asyncio.wait_for(proc.wait(), 10)
            except TimeoutError:
                proc.kill()
                await proc.wait()
    missing = "\n".join(
        f"  {check.query}  <- {'; '.join(check.why[:3])}" for check in pending.values()
    )
    assert not pending, (
        f"{len(pending)} of {len(checks)} queries returned no data within "
        f"{CHECK_DEADLINE_S:.0f} s of the faults:\n{missing}"
    )
    print(
        f"{len(checks)} queries returned data {took:.1f} s after the faults "
        f"({time.monotonic() - began:.1f} s with Prometheus start-up)"
    )
