"""How long a scrape costs the runner: ``python bench/bench_signals.py [node=URL ...]``.

Without arguments it parses expositions of the workload and an API replica with
every label combination a run can produce filled in (an upper bound of what the
sampler sees each second). With ``node=URL`` arguments it scrapes a running mesh
instead and reports the sampler's own measurements.
"""

from __future__ import annotations

import asyncio
import functools
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from prometheus_client import CollectorRegistry, generate_latest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.signals.sampler import Sampler, parse_exposition  # noqa: E402

ROUNDS = 50


def _full_workload() -> CollectorRegistry:
    from services.workload import metrics as wm

    registry = CollectorRegistry()
    m = wm.WorkloadMetrics(registry, replicas=("api-1", "api-2"))
    replicas = ("api-1", "api-2", wm.OTHER)
    for c in wm.CLIENTS:
        for outcome in wm.OUTCOMES:
            m.journeys.labels(c, outcome).inc()
        for h in (m.journey_duration, m.journey_requests, m.journey_bytes):
            h.labels(c).observe(1)
        for step in wm.STEPS:
            m.step_duration.labels(c, step).observe(0.1)
        for hop in wm.HOPS:
            m.hop_duration.labels(c, hop).observe(0.01)
        for replica in replicas:
            m.requests.labels(c, replica).inc()
            m.replica_latency.labels(c, replica).observe(0.05)
        for transport in wm.TRANSPORTS:
            for reason in wm.DNS_FAILURE_REASONS:
                m.dns_failures.labels(c, transport, reason).inc()
        for reason in wm.REJECT_REASONS:
            m.rejects.labels(c, reason).inc()
        for server in ("ntp-a", "ntp-b", "ntp-c"):
            m.ntp_selected.labels(c, server).set(1)
            m.ntp_falsetickers.labels(c, server).inc()
        for outcome in ("ok", "no_majority", "unreachable"):
            m.ntp_syncs.labels(c, outcome).inc()
        for outcome in ("won", "lost"):
            m.hedges.labels(c, outcome).inc()
        for outcome in ("ok", "failed"):
            m.key_discoveries.labels(c, outcome).inc()
    return registry


def _full_api() -> CollectorRegistry:
    from services.api.metrics import ApiMetrics

    registry = CollectorRegistry()
    m = ApiMetrics(registry)
    routes = ("/kv/{key}", "/catalog", "/catalog/items/{id}", "/catalog/batch", "/healthz")
    for route in routes:
        for method, status in (("GET", "200"), ("GET", "304"), ("PUT", "200"), ("GET", "401")):
            m.requests.labels(route, method, status).inc()
        m.duration.labels(route).observe(0.01)
        m.response_bytes.labels(route).inc(100)
    for peer in ("api-2",):
        for outcome in ("ok", "unreachable", "rejected", "forged"):
            m.replication_attempts.labels(peer, outcome).inc()
            m.anti_entropy_runs.labels(peer, outcome).inc()
    return registry


def _timed(fn: Callable[[], object]) -> list[float]:
    samples = []
    for _ in range(ROUNDS):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return samples


def offline() -> None:
    for node, registry in (("workload", _full_workload()), ("api-1", _full_api())):
        text = generate_latest(registry).decode()
        series = len(parse_exposition(text, node))
        ms = [s * 1000 for s in _timed(functools.partial(parse_exposition, text, node))]
        print(
            f"{node:10} {len(text) / 1024:6.1f} KiB {series:5d} series  "
            f"parse {statistics.median(ms):6.2f} ms median, {max(ms):6.2f} ms max"
        )


async def live(targets: dict[str, str]) -> None:
    async with Sampler(targets) as sampler:
        walls: list[float] = []
        parse: dict[str, list[float]] = {node: [] for node in targets}
        for i in range(ROUNDS):
            started = time.perf_counter()
            snapshot = await sampler.scrape(float(i))
            walls.append(time.perf_counter() - started)
            for node, seconds in sampler.parse_seconds.items():
                parse[node].append(seconds * 1000)
            await asyncio.sleep(0.05)
        print(f"{len(snapshot.values)} series per snapshot, failures {sampler.failures}")
        for node, ms in parse.items():
            if ms:
                print(f"{node:10} parse {statistics.median(ms):6.2f} ms median")
        print(f"scrape wall time {statistics.median(walls) * 1000:6.2f} ms median")


def main(argv: list[str]) -> None:
    if not argv:
        offline()
        return
    targets = dict(arg.split("=", 1) for arg in argv)
    asyncio.run(live(targets))


if __name__ == "__main__":
    main(sys.argv[1:])
