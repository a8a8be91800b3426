"""Embedded mesh figures: time to healthy, journeys/s per client, CPU per node.

    python bench/bench_mesh.py [--seconds 20] [--runs 3]

Starts ``fallacies up --detach --base-port 0`` in a temporary state dir, reads the
supervisor's own "healthy in" figure, samples /proc for CPU time of every node while
the workload runs, then pauses the workload (SIGSTOP through the control API) and
samples again: that second figure is the idle mesh. Prints one table; not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.mesh.control import node_action  # noqa: E402
from chaos.mesh.state import MeshState  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def journeys(metrics_url: str) -> dict[str, float]:
    text = urllib.request.urlopen(metrics_url, timeout=5).read().decode()
    totals: dict[str, float] = {}
    for match in re.finditer(
        r'^fallacies_workload_journeys_total\{client="(\w+)",outcome="(\w+)"\} ([0-9.e+]+)$',
        text,
        re.M,
    ):
        client, outcome, value = match.groups()
        if outcome == "ok":
            totals[client] = totals.get(client, 0.0) + float(value)
    return totals


def sample_cpu(pids: dict[str, int], seconds: float) -> dict[str, float]:
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    time.sleep(seconds)
    return {name: 100 * (cpu_seconds(pid) - before[name]) / seconds for name, pid in pids.items()}


def one_run(seconds: float) -> dict[str, object]:
    state_dir = Path(tempfile.mkdtemp(prefix="fallacies-bench-"))
    cli = [sys.executable, "-m", "chaos.cli"]
    t0 = time.monotonic()
    subprocess.run(
        [*cli, "up", "--detach", "--base-port", "0", "--state-dir", str(state_dir)],
        check=True,
        capture_output=True,
    )
    wall = time.monotonic() - t0
    try:
        healthy = re.search(r"healthy in ([0-9.]+) s", (state_dir / "up.log").read_text())
        state = MeshState.read(state_dir)
        assert state is not None
        pids = {name: int(node.pid or 0) for name, node in state.nodes.items()}
        metrics = state.nodes["workload"].metrics_url
        start = journeys(metrics)
        busy = sample_cpu(pids, seconds)
        end = journeys(metrics)
        rates = {c: (end[c] - start.get(c, 0.0)) / seconds for c in end}
        asyncio.run(node_action(state, "workload", "pause"))
        idle = sample_cpu({n: p for n, p in pids.items() if n != "workload"}, seconds)
        unobserved: dict[str, float] = {}
        if "prometheus" in pids:
            # The mesh on its own: nobody scraping it every second either.
            asyncio.run(node_action(state, "prometheus", "pause"))
            quiet = {n: p for n, p in pids.items() if n not in ("workload", "prometheus")}
            unobserved = sample_cpu(quiet, seconds)
    finally:
        subprocess.run([*cli, "down", "--state-dir", str(state_dir)], capture_output=True)
    return {
        "healthy_s": float(healthy.group(1)) if healthy else float("nan"),
        "up_wall_s": wall,
        "rates": rates,
        "busy": busy,
        "idle": idle,
        "unobserved": unobserved,
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    results = [one_run(args.seconds) for _ in range(args.runs)]
    print(f"embedded mesh, {args.runs} run(s), {args.seconds:.0f} s samples, {os.cpu_count()} CPUs")
    for i, r in enumerate(results, 1):
        rates = r["rates"]
        busy, idle = r["busy"], r["idle"]
        assert isinstance(rates, dict) and isinstance(busy, dict) and isinstance(idle, dict)
        print(
            f"run {i}: healthy in {r['healthy_s']:.2f} s (up --detach returned after "
            f"{r['up_wall_s']:.2f} s); journeys/s naive {rates.get('naive', 0):.2f}, "
            f"resilient {rates.get('resilient', 0):.2f}"
        )
        print(
            "  CPU % of one core with the workload running: "
            + ", ".join(f"{n} {v:.1f}" for n, v in busy.items())
            + f"; total {sum(busy.values()):.1f}"
        )
        print(
            "  CPU % of one core, workload paused (idle mesh): "
            + ", ".join(f"{n} {v:.1f}" for n, v in idle.items())
            + f"; total {sum(idle.values()):.1f}"
        )
        unobserved = r["unobserved"]
        assert isinstance(unobserved, dict)
        if unobserved:
            print(
                "  CPU % of one core, workload and Prometheus paused (nothing scrapes): "
                + ", ".join(f"{n} {v:.1f}" for n, v in unobserved.items())
                + f"; total {sum(unobserved.values()):.1f}"
            )


if __name__ == "__main__":
    main()
