"""The embedded mesh under cycling faults for N minutes: memory and file descriptors of
every process stay flat, and no fault is left behind.

    python bench/soak.py --minutes 30
    python bench/soak.py --minutes 2 --seed 3

Starts ``fallacies up --detach --base-port 0 --no-prometheus --no-console`` in a temporary state dir
(Prometheus' own TSDB grows with the samples it keeps, by design; it is not the mesh).
A schedule drawn from ``--seed`` then cycles faults through the runner's own fault
kinds (``chaos.faults``): latency, loss, timeouts, bandwidth caps, partitions, cut
links, resets, slicing, duplicates and truncation on the links, lying NTP clocks, and
node pauses, stops and kills with restarts through the control API. At most
``--concurrent`` at once, one per target, each with a TTL the mesh enforces itself.

RSS and open fds of the supervisor and of every node (by its current pid, from the
control API) are read from /proc every ``--interval`` seconds. Node stops and kills
happen only between the end of the warm-up and a settle time before the final window,
so no window measures a process just born. At the end every active fault is reverted
and the mesh must show no leftover (``tests/runner/cleanliness.py``), every node
healthy, and the resilient client finishing journeys again.

Fails (exit 1) when a process's median RSS over the final window is more than
``--growth`` % above its median over the last window of the warm-up, its median fd
count more than that plus ``--fd-slack``, a fault could not be applied or reverted, or
anything is left behind. The mesh is torn down (``fallacies down``) in every case,
Ctrl-C and SIGTERM included. Loopback only; the run ends by itself.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from chaos.experiment.model import FaultStep  # noqa: E402
from chaos.faults import Fault, FaultContext, validate_step  # noqa: E402
from chaos.mesh.control import fetch_status  # noqa: E402
from chaos.mesh.state import MeshState  # noqa: E402
from tests.runner.cleanliness import leftovers  # noqa: E402

CLI = [sys.executable, "-m", "chaos.cli"]

MENU: list[tuple[str, str, dict[str, Any]]] = [
    ("latency", "api-1", {"latency": 300, "jitter": 100}),
    ("latency", "api-2", {"latency": 800, "jitter": 200, "stream": "both"}),
    ("latency", "dns", {"latency": 200}),
    ("latency", "ntp-a", {"latency": 150, "stream": "both"}),
    ("latency", "repl-2-1", {"latency": 500}),
    ("loss", "dns", {"probability": 0.5}),
    ("loss", "ntp-b", {"probability": 0.7, "stream": "both"}),
    ("timeout", "api-1", {"timeout": 0}),
    ("timeout", "dns-tcp", {"timeout": 2000}),
    ("bandwidth", "api-1", {"rate": 100}),
    ("bandwidth", "api-2", {"rate": 50}),
    ("bandwidth", "repl-1-2", {"rate": 20}),
    ("link_down", "repl-1-2", {}),
    ("link_down", "api-2", {}),
    ("link_down", "ntp-c", {}),
    ("partition", "repl-2-1", {"stream": "upstream"}),
    ("reset_peer", "api-2", {"timeout": 100}),
    ("slicer", "api-1", {"average_size": 64, "size_variation": 32, "delay": 200}),
    ("limit_data", "api-2", {"bytes": 10000}),
    ("slow_close", "api-1", {"delay": 1000}),
    ("duplicate", "dns", {"probability": 0.5, "copies": 2}),
    ("truncate", "dns", {"max_size": 512}),
    ("clock_skew", "ntp-a", {"offset_s": 30}),
    ("clock_skew", "ntp-b", {"drift_ppm": 500, "stratum": 1}),
    ("node_pause", "api-2", {}),
    ("node_pause", "ntp-a", {}),
    ("node_stop", "api-1", {}),
    ("node_kill", "api-2", {}),
    ("node_kill", "ntp-c", {}),
]
"""(fault kind, target, attributes): what the schedule draws from."""
RESTARTS = frozenset({"node_stop", "node_kill"})
"""Kinds after which the node is a new process."""
NODE_FAULTS = RESTARTS | {"node_pause"}
"""Kept out of the compared windows: a new process is still warming up, and a frozen
upstream holds the proxy's connections to it (two fds each) until it is resumed."""
TTL_MARGIN_S = 15.0
"""The mesh's own TTL outlives the planned end by this much: the soak reverts first,
the TTL is the net if it cannot."""


# -- the schedule ---------------------------------------------------------------------


@dataclass(frozen=True)
class Planned:
    at_s: float
    duration_s: float
    kind: str
    target: str
    attributes: dict[str, Any]

    def step(self) -> FaultStep:
        return FaultStep(
            kind=self.kind,
            target=self.target,
            at_s=self.at_s,
            duration_s=self.duration_s,
            attributes=dict(self.attributes),
        )


@dataclass(frozen=True)
class Phases:
    """Seconds from the start of the faults: warm-up, the two windows compared."""

    total: float
    warmup: float
    window: float
    settle: float

    @property
    def node_faults_from(self) -> float:
        return self.warmup

    @property
    def node_faults_until(self) -> float:
        return self.total - self.window - self.settle


def plan(rng: random.Random, phases: Phases, concurrent: int) -> list[Planned]:
    """Faults back to back for the whole run: one per target, ``concurrent`` at most,
    node faults only where no compared window sees them (``NODE_FAULTS``), at least
    one restart."""
    schedule: list[Planned] = []
    t = 1.0
    while t < phases.total - 2:
        busy = {p.target for p in schedule if p.at_s <= t < p.at_s + p.duration_s}
        running = sum(1 for p in schedule if p.at_s <= t < p.at_s + p.duration_s)
        if running < concurrent:
            duration = round(rng.uniform(4, 20), 1)
            choices = [
                item
                for item in MENU
                if item[1] not in busy
                and (
                    item[0] not in NODE_FAULTS
                    or phases.node_faults_from <= t
                    and t + duration <= phases.node_faults_until
                )
            ]
            restarts = [item for item in choices if item[0] in RESTARTS]
            if restarts and not any(p.kind in RESTARTS for p in schedule):
                choices = restarts  # at least one new process per run
            if choices:
                kind, target, attributes = rng.choice(choices)
                end = min(t + duration, phases.total - 1)
                schedule.append(Planned(t, round(end - t, 1), kind, target, attributes))
        t = round(t + rng.uniform(1, 6), 1)
    return schedule


# -- sampling /proc ---------------------------------------------------------------------


@dataclass
class Sample:
    at_s: float
    rss_mb: float
    fds: int
    held: int = 0
    """Of ``fds``, those the proxy's own gauge explains: its UDP sessions and TCP pairs."""


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def median(self, start: float, end: float) -> tuple[float, float, float] | None:
        """(RSS MB, fds, fds net of the proxy's sessions) over ``start``..``end`` s."""
        inside = [s for s in self.samples if start <= s.at_s <= end]
        if not inside:
            return None
        return (
            statistics.median(s.rss_mb for s in inside),
            statistics.median(s.fds for s in inside),
            statistics.median(s.fds - s.held for s in inside),
        )


def read_proc(pid: int) -> tuple[float, int] | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = len(os.listdir(f"/proc/{pid}/fd"))
    except (FileNotFoundError, ProcessLookupError):
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.M)
    return (int(match.group(1)) / 1024, fds) if match else None


async def proxy_held(state: MeshState, session: aiohttp.ClientSession) -> int:
    """fds the proxy holds by design: one per UDP session, two per TCP connection. UDP
    sessions live 60-120 s after their client's last datagram (bounded per link), and
    the workload opens one per DNS or NTP query, so raw fds ramp for two minutes."""
    url = state.nodes["proxy"].metrics_url
    assert url is not None
    async with session.get(url) as response:
        text = await response.text()
    held = 0
    pattern = r'^fallacies_proxy_active_connections\{link="([^"]+)"\} (\S+)$'
    for link, value in re.findall(pattern, text, re.M):
        info = state.links.get(link)
        held += int(float(value)) * (1 if info is not None and info.protocol == "udp" else 2)
    return held


async def sample_forever(
    state: MeshState,
    session: aiohttp.ClientSession,
    series: dict[str, Series],
    started: float,
    interval: float,
) -> None:
    while True:
        statuses = await fetch_status(state)
        pids = {"supervisor": state.supervisor_pid}
        for node in statuses or []:
            if node.pid and node.state == "running":
                pids[node.name] = node.pid
        try:
            held = await proxy_held(state, session)
        except (aiohttp.ClientError, TimeoutError):
            held = -1
        now = time.monotonic() - started
        for name, pid in pids.items():
            read = read_proc(pid)
            if read is None or (name == "proxy" and held < 0):
                continue
            one = series.setdefault(name, Series())
            one.samples.append(Sample(now, *read, held=held if name == "proxy" else 0))
            if pid not in one.pids:
                one.pids.append(pid)
        await asyncio.sleep(interval)


# -- the faults ---------------------------------------------------------------------------


@dataclass
class Active:
    planned: Planned
    fault: Fault
    applied: dict[str, Any]


@dataclass
class Cycled:
    applied: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


async def cycle(ctx: FaultContext, schedule: list[Planned], started: float, cycled: Cycled) -> None:
    """Apply each planned fault at its time, revert it at its end; revert all on the way out."""
    active: list[Active] = []
    pending = sorted(schedule, key=lambda p: p.at_s)
    try:
        while pending or active:
            now = time.monotonic() - started
            for one in [a for a in active if a.planned.at_s + a.planned.duration_s <= now]:
                active.remove(one)
                await revert(ctx, one, cycled)
            while pending and pending[0].at_s <= now:
                planned = pending.pop(0)
                step = planned.step()
                fault = validate_step(step)
                try:
                    applied = await fault.apply(ctx, step, planned.duration_s + TTL_MARGIN_S)
                except Exception as exc:
                    what = f"{now:.0f} s: apply {planned.kind} on {planned.target}"
                    cycled.errors.append(f"{what}: {exc}")
                    continue
                cycled.applied[planned.kind] += 1
                active.append(Active(planned, fault, applied))
            await asyncio.sleep(0.2)
    finally:
        for one in active:
            await revert(ctx, one, cycled)


async def revert(ctx: FaultContext, one: Active, cycled: Cycled) -> None:
    try:
        await one.fault.revert(ctx, one.planned.step(), one.applied)
    except Exception as exc:
        cycled.errors.append(f"revert {one.planned.kind} on {one.planned.target}: {exc}")


# -- checks after -------------------------------------------------------------------------


async def journeys_ok(state: MeshState, session: aiohttp.ClientSession) -> float:
    url = state.nodes["workload"].metrics_url
    assert url is not None
    async with session.get(url) as response:
        text = await response.text()
    pattern = r'^fallacies_workload_journeys_total\{client="resilient",outcome="ok"\} (\S+)$'
    return sum(float(m.group(1)) for m in re.finditer(pattern, text, re.M))


async def settle(state: MeshState, session: aiohttp.ClientSession, timeout: float) -> list[str]:
    """Poll until nothing is left behind and the resilient client finishes journeys again;
    what is still wrong at the deadline."""
    deadline = time.monotonic() + timeout
    first = await journeys_ok(state, session)
    problems: list[str] = ["not checked"]
    while time.monotonic() < deadline:
        problems = await leftovers(state)
        if not problems and await journeys_ok(state, session) <= first:
            problems = ["the resilient client finished no journey since the faults ended"]
        if not problems:
            return []
        await asyncio.sleep(1.0)
    return problems


# -- the run ------------------------------------------------------------------------------


@dataclass
class Outcome:
    schedule: list[Planned]
    series: dict[str, Series]
    cycled: Cycled
    left: list[str]
    faults_s: float
    healthy_s: float


async def soak(state: MeshState, args: argparse.Namespace, phases: Phases) -> Outcome:
    schedule = plan(random.Random(args.seed), phases, args.concurrent)
    series: dict[str, Series] = {}
    cycled = Cycled()
    async with aiohttp.ClientSession(
        timeout=aiohttp.ClientTimeout(total=60), headers=state.admin_headers
    ) as session:
        ctx = FaultContext(state, session, actor="soak")
        started = time.monotonic()
        sampling = sample_forever(state, session, series, started, args.interval)
        sampler = asyncio.create_task(sampling)
        try:
            await cycle(ctx, schedule, started, cycled)
            while time.monotonic() - started < phases.total:
                await asyncio.sleep(0.2)
            faults_s = time.monotonic() - started
            left = await settle(state, session, timeout=90)
            healthy_s = time.monotonic() - started
            await asyncio.sleep(args.interval * 5)  # the after column: a few quiet samples
        finally:
            sampler.cancel()
        return Outcome(schedule, series, cycled, left, faults_s, healthy_s)


def judge(outcome: Outcome, args: argparse.Namespace, phases: Phases) -> list[str]:
    problems: list[str] = []
    print(
        f"  {'process':<11}{'pids':>5}{'samples':>9}{'RSS warm-up MB':>16}{'RSS end MB':>12}"
        f"{'RSS %':>8}{'fds warm-up':>13}{'fds end':>9}{'fds %':>8}"
    )
    footnote = ""
    for name in sorted(outcome.series):
        one = outcome.series[name]
        warm = one.median(phases.warmup - phases.window, phases.warmup)
        end = one.median(phases.total - phases.window, phases.total)
        if warm is None or end is None:
            problems.append(f"{name}: no samples in a compared window")
            continue
        rss_growth = 100 * (end[0] / warm[0] - 1)
        fd_growth = 100 * (end[2] / warm[2] - 1) if warm[2] else 0.0
        star = "*" if name == "proxy" else ""
        print(
            f"  {name + star:<11}{len(one.pids):>5}{len(one.samples):>9}{warm[0]:>16.1f}"
            f"{end[0]:>12.1f}{rss_growth:>+8.1f}{warm[2]:>13.1f}{end[2]:>9.1f}{fd_growth:>+8.1f}"
        )
        if star:
            footnote = (
                f"  * fds net of the proxy's UDP sessions (one fd each) and TCP connections "
                f"(two), from fallacies_proxy_active_connections; all its fds: "
                f"{warm[1]:.0f} -> {end[1]:.0f}"
            )
        if rss_growth > args.growth:
            problems.append(f"{name}: RSS grew {rss_growth:.1f} % (bound {args.growth:g} %)")
        if end[2] > warm[2] * (1 + args.growth / 100) + args.fd_slack:
            problems.append(
                f"{name}: fds {warm[2]:.0f} -> {end[2]:.0f} "
                f"(bound +{args.growth:g} % + {args.fd_slack})"
            )
    if footnote:
        print(footnote)
    problems += [f"fault error: {e}" for e in outcome.cycled.errors]
    problems += [f"left behind: {thing}" for thing in outcome.left]
    return problems


def write_samples(path: Path, series: dict[str, Series]) -> None:
    rows = ["process,at_s,rss_mb,fds,fds_held"]
    for name, one in sorted(series.items()):
        rows += [f"{name},{s.at_s:.1f},{s.rss_mb:.2f},{s.fds},{s.held}" for s in one.samples]
    path.write_text("\n".join(rows) + "\n")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=30.0, help="of cycling faults")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--concurrent", type=int, default=3, help="faults at once at most")
    parser.add_argument("--interval", type=float, help="seconds between samples (default: 2-5)")
    parser.add_argument("--warmup", type=float, help="seconds (default: 20 %%, 30-300)")
    parser.add_argument("--window", type=float, help="seconds compared (default: 15 %%, <= 120)")
    parser.add_argument("--growth", type=float, default=10.0, help="%% allowed after warm-up")
    parser.add_argument("--fd-slack", type=int, default=4, help="fds allowed beyond --growth")
    parser.add_argument("--state-dir", type=Path, help="for the mesh (default: a temp dir)")
    parser.add_argument("--samples", type=Path, help="write every sample to this CSV file")
    args = parser.parse_args()
    total = args.minutes * 60
    warmup = args.warmup if args.warmup is not None else min(300.0, max(30.0, 0.2 * total))
    window = args.window if args.window is not None else min(120.0, 0.15 * total)
    phases = Phases(total, warmup, window, settle=min(60.0, max(20.0, 0.1 * total)))
    args.interval = args.interval or min(5.0, max(2.0, total / 120))
    if phases.node_faults_until <= phases.node_faults_from or window > warmup:
        parser.error("--minutes too short for --warmup and --window")

    state_dir = args.state_dir or Path(tempfile.mkdtemp(prefix="fallacies-soak-"))
    # The console is left out: it is no node, and its polling would count in the
    # supervisor's and the proxy's fds (seen: supervisor 17 -> 23 over two minutes).
    up = [*CLI, "up", "--detach", "--base-port", "0", "--no-prometheus", "--no-console"]
    up += ["--seed", str(args.seed)]
    started = time.monotonic()
    result = subprocess.run(
        [*up, "--state-dir", str(state_dir)], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
        subprocess.run([*CLI, "down", "--state-dir", str(state_dir)], capture_output=True)
        return 1
    up_s = time.monotonic() - started
    try:
        state = MeshState.read(state_dir)
        assert state is not None
        outcome = run_cancellable(soak(state, args, phases))
    except KeyboardInterrupt:
        print("interrupted: tearing the mesh down", file=sys.stderr)
        return 130
    finally:
        subprocess.run([*CLI, "down", "--state-dir", str(state_dir)], capture_output=True)

    kinds = ", ".join(f"{k} {n}" for k, n in sorted(outcome.cycled.applied.items()))
    restarts = sum(n for k, n in outcome.cycled.applied.items() if k in RESTARTS)
    print(
        f"soak: seed {args.seed}, {outcome.faults_s / 60:.1f} min of faults on the embedded "
        f"mesh (up in {up_s:.1f} s), {os.cpu_count()} CPUs"
    )
    print(
        f"  {sum(outcome.cycled.applied.values())} faults cycled of {len(outcome.schedule)} "
        f"planned, at most {args.concurrent} at once, {restarts} node restarts: {kinds}"
    )
    print(
        f"  warm-up {phases.warmup:.0f} s; medians over {phases.warmup - phases.window:.0f}-"
        f"{phases.warmup:.0f} s vs {phases.total - phases.window:.0f}-{phases.total:.0f} s; "
        f"a sample every {args.interval:g} s"
    )
    if args.samples:
        write_samples(args.samples, outcome.series)
    problems = judge(outcome, args, phases)
    left = "none" if not outcome.left else f"{len(outcome.left)}"
    print(
        f"  left behind after the reverts: {left}; all healthy and journeys again "
        f"{outcome.healthy_s - outcome.faults_s:.1f} s after the last fault"
    )
    for problem in problems:
        print(f"FAIL {problem}")
    print("result: " + ("FAIL" if problems else "PASS"))
    return 1 if problems else 0


def run_cancellable(coro: Any) -> Outcome:
    """asyncio.run, with SIGTERM handled like Ctrl-C: the faults are reverted on the way out."""

    async def guarded() -> Outcome:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        try:
            result: Outcome = await coro
            return result
        except asyncio.CancelledError:
            raise KeyboardInterrupt from None

    return asyncio.run(guarded())


if __name__ == "__main__":
    sys.exit(main())
