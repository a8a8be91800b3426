"""How the Swarm stack's cost grows with the engines and the replicas and workloads on them.

    python bench/bench_swarm.py [--engines 1 2 3] [--seconds 20]
    python bench/bench_swarm.py --scale 3    2/4/8 replicas, 1/2/4 workload pairs, 3 engines

For each size, side by side in one run: a lab of that many engines
(``chaos.swarm.lab``), ``fallacies up --swarm`` timed to healthy, then over
``--seconds`` each engine's CPU (percent of one core) and resident memory, dockerd and its tasks
together, and the journeys/s the workload completes; the lab is removed before the next
size. Ratios are against the first size. Loopback and the lab's own network only; needs
root, Docker and the images of compose/build-images.sh. Not a test.

With ``--scale`` every size runs on the one lab, so only the first includes the engines
pulling the images from the lab's registry (its time to healthy is the longer for it).

Each engine's figures are its container's cgroup, which holds its own containers' (the
lab's dockerd puts them in a cgroup parent inside its own).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.compose import topology  # noqa: E402
from chaos.mesh.model import Scale  # noqa: E402
from chaos.swarm import lab  # noqa: E402

CGROUP = Path("/sys/fs/cgroup")


def _cgroup_dirs(engine: str) -> list[tuple[Path, Path]]:
    """(cpu dir, memory dir) of the engine's container: its tasks' cgroups nest inside."""
    full = subprocess.run(
        ["docker", "inspect", "-f", "{{.Id}}", engine], capture_output=True, text=True, check=True
    ).stdout.strip()
    if (CGROUP / "cgroup.controllers").exists():  # v2: one tree
        found = [CGROUP / "system.slice" / f"docker-{full}.scope", CGROUP / "docker" / full]
        return [(d, d) for d in found if d.exists()][:1]
    return [(CGROUP / "cpuacct" / "docker" / full, CGROUP / "memory" / "docker" / full)]


def _cpu_s(dirs: list[tuple[Path, Path]]) -> float:
    total = 0.0
    for cpu, _ in dirs:
        if (cpu / "cpuacct.usage").exists():
            total += int((cpu / "cpuacct.usage").read_text()) / 1e9
        elif (cpu / "cpu.stat").exists():
            usage = re.search(r"usage_usec (\d+)", (cpu / "cpu.stat").read_text())
            total += int(usage.group(1)) / 1e6 if usage else 0.0
    return total


def _memory_mb(dirs: list[tuple[Path, Path]]) -> float:
    """Resident memory, page cache left out (the images an engine pulled sit there)."""
    total = 0
    for _, memory in dirs:
        stat = (memory / "memory.stat").read_text()
        found = re.search(r"^(?:total_rss|anon) (\d+)$", stat, re.M)
        total += int(found.group(1)) if found else 0
    return total / 2**20


def _journeys(scale: Scale) -> dict[str, float]:
    """Journeys finished ok, by client, summed over every workload pair."""
    totals: dict[str, float] = {}
    for node in scale.workload_nodes:
        url = f"http://127.0.0.1:{topology.published_port(node, 'http')}/metrics"
        text = urllib.request.urlopen(url, timeout=5).read().decode()
        for client, value in re.findall(
            r'^fallacies_workload_journeys_total\{client="(\w+)",outcome="ok"\} ([0-9.e+]+)$',
            text,
            re.M,
        ):
            totals[client] = totals.get(client, 0.0) + float(value)
    return totals


def measure(state_dir: Path, env: dict[str, str], scale: Scale, seconds: float) -> dict[str, Any]:
    """``fallacies up --swarm`` of ``scale`` timed to healthy, then each engine's CPU and
    memory and the journeys/s over ``seconds``; the stack removed after."""
    cli = [sys.executable, "-m", "chaos.cli"]
    scaled = ["--api-replicas", str(scale.api), "--workloads", str(scale.workloads)]
    try:
        t1 = time.monotonic()
        subprocess.run(
            [*cli, "up", "--swarm", "--detach", "--no-console", "--state-dir", str(state_dir),
             *scaled],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        up_s = time.monotonic() - t1
        time.sleep(5)  # past the first journeys' connection set-up
        names = lab.engines()
        dirs = {name: _cgroup_dirs(name) for name in names}
        if not all(dirs.values()):
            raise SystemExit(f"no cgroup of an engine's container under {CGROUP}: {dirs}")
        before = {name: _cpu_s(d) for name, d in dirs.items()}
        first = _journeys(scale)
        time.sleep(seconds)
        last = _journeys(scale)
        cpu = {n: 100 * (_cpu_s(d) - before[n]) / seconds for n, d in dirs.items()}
        memory = {n: _memory_mb(d) for n, d in dirs.items()}
        rates = {c: (last[c] - first.get(c, 0.0)) / seconds for c in last}
    finally:
        subprocess.run(
            [*cli, "down", "--swarm", "--state-dir", str(state_dir)], capture_output=True, env=env
        )
    return {"up_s": up_s, "cpu": cpu, "memory": memory, "rates": rates}


def on_lab(count: int, scales: list[Scale], seconds: float) -> dict[Scale, dict[str, Any]]:
    """A lab of ``count`` engines, each scale measured on it in turn, then removed."""
    state_dir = Path(tempfile.mkdtemp(prefix="fallacies-bench-"))
    t0 = time.monotonic()
    started = lab.up(count, state_dir=state_dir)
    lab_s = time.monotonic() - t0
    env = {**os.environ, "DOCKER_HOST": started.docker_host}
    try:
        results = {}
        for scale in scales:
            results[scale] = {"lab_s": lab_s, **measure(state_dir, env, scale, seconds)}
            print(f"  measured {_label(count, scale)}", file=sys.stderr, flush=True)
        return results
    finally:
        lab.down(state_dir=state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)  # the stack's state holds its token


def _label(count: int, scale: Scale) -> str:
    return f"{count} engine(s), {scale.api} replicas, {scale.workloads} pair(s)"


def report(rows: list[tuple[int, Scale, dict[str, Any]]], seconds: float) -> None:
    print(f"Swarm stack on a lab of engines, {seconds:.0f} s samples, {os.cpu_count()} CPUs")
    base_cpu = sum(rows[0][2]["cpu"].values())
    for count, scale, r in rows:
        cpu, memory, rates = r["cpu"], r["memory"], r["rates"]
        total = sum(cpu.values())
        per_pair = sum(rates.values()) / scale.workloads
        print(
            f"{_label(count, scale)}: lab up {r['lab_s']:.1f} s, stack healthy in "
            f"{r['up_s']:.1f} s; journeys/s naive {rates.get('naive', 0):.2f}, resilient "
            f"{rates.get('resilient', 0):.2f} ({per_pair:.2f} per pair); CPU {total:.1f} % "
            f"of one core in all ({total / max(base_cpu, 1e-9):.2f}x), memory "
            f"{sum(memory.values()):.0f} MB"
        )
        for name in cpu:
            print(f"    {name}: CPU {cpu[name]:.1f} %, memory {memory[name]:.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument(
        "--scale",
        type=int,
        metavar="ENGINES",
        help="instead, on one lab of ENGINES engines: 2, 4 and 8 replicas (one pair), "
        "then 2 and 4 workload pairs (two replicas)",
    )
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    rows: list[tuple[int, Scale, dict[str, Any]]] = []
    if args.scale:
        scales = [Scale(2, 1), Scale(4, 1), Scale(8, 1), Scale(2, 2), Scale(2, 4)]
        for scale, r in on_lab(args.scale, scales, args.seconds).items():
            rows.append((args.scale, scale, r))
    else:
        for count in args.engines:
            (r,) = on_lab(count, [Scale()], args.seconds).values()
            rows.append((count, Scale(), r))
    report(rows, args.seconds)


if __name__ == "__main__":
    main()
