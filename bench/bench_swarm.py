"""How the Swarm stack's cost grows with the engines under it: ``python bench/bench_swarm.py``.

    python bench/bench_swarm.py [--engines 1 2 3] [--seconds 20]

For each size, side by side in one run: a lab of that many engines
(``chaos.swarm.lab``), ``fallacies up --swarm`` timed to healthy, then over
``--seconds`` each engine's CPU (percent of one core) and resident memory, dockerd and its tasks
together, and the journeys/s the workload completes; the lab is removed before the next
size. Ratios are against the first size. Loopback and the lab's own network only; needs
root, Docker and the images of compose/build-images.sh. Not a test.

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

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.compose import topology  # noqa: E402
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


def _journeys() -> dict[str, float]:
    port = topology.PUBLISHED[("workload", "http")]
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
    totals: dict[str, float] = {}
    for client, value in re.findall(
        r'^fallacies_workload_journeys_total\{client="(\w+)",outcome="ok"\} ([0-9.e+]+)$',
        text,
        re.M,
    ):
        totals[client] = float(value)
    return totals


def one_size(count: int, seconds: float) -> dict[str, object]:
    state_dir = Path(tempfile.mkdtemp(prefix="fallacies-bench-"))
    t0 = time.monotonic()
    started = lab.up(count, state_dir=state_dir)
    lab_s = time.monotonic() - t0
    env = {**os.environ, "DOCKER_HOST": started.docker_host}
    cli = [sys.executable, "-m", "chaos.cli"]
    try:
        t1 = time.monotonic()
        subprocess.run(
            [*cli, "up", "--swarm", "--detach", "--no-console", "--state-dir", str(state_dir)],
            check=True, capture_output=True, env=env,
        )  # fmt: skip
        up_s = time.monotonic() - t1
        time.sleep(5)  # past the first journeys' connection set-up
        names = lab.engines()
        dirs = {name: _cgroup_dirs(name) for name in names}
        if not all(dirs.values()):
            raise SystemExit(f"no cgroup of an engine's container under {CGROUP}: {dirs}")
        before = {name: _cpu_s(d) for name, d in dirs.items()}
        first = _journeys()
        time.sleep(seconds)
        last = _journeys()
        cpu = {n: 100 * (_cpu_s(d) - before[n]) / seconds for n, d in dirs.items()}
        memory = {n: _memory_mb(d) for n, d in dirs.items()}
        rates = {c: (last[c] - first.get(c, 0.0)) / seconds for c in last}
    finally:
        subprocess.run(
            [*cli, "down", "--swarm", "--state-dir", str(state_dir)], capture_output=True, env=env
        )
        lab.down(state_dir=state_dir)
        shutil.rmtree(state_dir, ignore_errors=True)  # the stack's state holds its token
    return {"lab_s": lab_s, "up_s": up_s, "cpu": cpu, "memory": memory, "rates": rates}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, nargs="+", default=[1, 2, 3])
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args()
    results = {count: one_size(count, args.seconds) for count in args.engines}
    base = results[args.engines[0]]
    print(f"Swarm stack on a lab of N engines, {args.seconds:.0f} s samples, {os.cpu_count()} CPUs")
    for count, r in results.items():
        cpu, memory, rates = r["cpu"], r["memory"], r["rates"]
        assert isinstance(cpu, dict) and isinstance(memory, dict) and isinstance(rates, dict)
        base_cpu = sum(base["cpu"].values())  # type: ignore[attr-defined]
        total = sum(cpu.values())
        print(
            f"{count} engine(s): lab up {r['lab_s']:.1f} s, stack healthy in {r['up_s']:.1f} s; "
            f"journeys/s naive {rates.get('naive', 0):.2f}, "
            f"resilient {rates.get('resilient', 0):.2f}; "
            f"CPU {total:.1f} % of one core in all ({total / max(base_cpu, 1e-9):.2f}x), "
            f"memory {sum(memory.values()):.0f} MB"
        )
        for name in cpu:
            print(f"    {name}: CPU {cpu[name]:.1f} %, memory {memory[name]:.0f} MB")


if __name__ == "__main__":
    main()
