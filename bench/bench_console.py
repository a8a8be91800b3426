"""What the web console costs and how fast it shows a fault: ``python bench/bench_console.py``.

Starts an embedded mesh (``fallacies up --detach --base-port 0``, which serves the
console in its own process), then measures, side by side in one run:

- the console process's CPU (percent of one core, from /proc) over ``--seconds``
  with no page open, one page and ten pages (chromium tabs driven by Playwright),
  beside the whole mesh's CPU over the same span, for scale;
- the time from a fault's injection by another client (the CLI's path, not the
  page) to its badge on the page's diagram, over ``--faults`` injections.

Loopback only; the mesh and the console are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from chaos.console.lifecycle import ConsoleRecord  # noqa: E402
from chaos.mesh.links import Links  # noqa: E402
from chaos.mesh.state import MeshState  # noqa: E402

CLI = [sys.executable, "-m", "chaos.cli"]
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of one process so far (seconds)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def mesh_pids(state: MeshState) -> list[int]:
    return [state.supervisor_pid] + [n.pid for n in state.nodes.values() if n.pid]


async def measure_cpu(console_pid: int, state: MeshState, seconds: float) -> tuple[float, float]:
    """(console % of a core, mesh % of a core) over ``seconds``."""
    pids = mesh_pids(state)
    c0, m0, t0 = cpu_seconds(console_pid), sum(map(cpu_seconds, pids)), time.monotonic()
    await asyncio.sleep(seconds)
    c1, m1, t1 = cpu_seconds(console_pid), sum(map(cpu_seconds, pids)), time.monotonic()
    span = t1 - t0
    return 100 * (c1 - c0) / span, 100 * (m1 - m0) / span


async def open_pages(browser: Any, url: str, count: int) -> list[Any]:
    pages = []
    for _ in range(count):
        page = await browser.new_page(viewport={"width": 1366, "height": 900})
        await page.goto(url)
        await page.locator("body[data-last-snapshot]").wait_for(state="attached")
        pages.append(page)
    return pages


async def fault_to_page(page: Any, state: MeshState, rounds: int) -> list[float]:
    links = Links(state, actor="bench")
    seen: list[float] = []
    for i in range(rounds):
        name = f"bench_{i}"
        started = time.monotonic()
        await links.add_toxic("api-2", "latency", attributes={"latency": 1}, name=name, ttl=30)
        await page.locator(f'[data-testid="fault-api-2-{name}"]').wait_for(timeout=10_000)
        seen.append(time.monotonic() - started)
        await links.remove_toxic("api-2", name)
        await page.locator(f'[data-testid="fault-api-2-{name}"]').wait_for(
            state="detached", timeout=10_000
        )
    return seen


async def bench(args: argparse.Namespace, state_dir: Path) -> None:
    from playwright.async_api import async_playwright

    state = MeshState.read(state_dir)
    record = ConsoleRecord.read(state_dir, "embedded")
    assert state is not None and record is not None
    rows: list[tuple[str, float, float]] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            rows.append(("no page", *await measure_cpu(record.pid, state, args.seconds)))
            pages = await open_pages(browser, record.page_url, 1)
            rows.append(("1 page", *await measure_cpu(record.pid, state, args.seconds)))
            pages += await open_pages(browser, record.page_url, 9)
            rows.append(("10 pages", *await measure_cpu(record.pid, state, args.seconds)))
            for page in pages[1:]:
                await page.close()
            latencies = await fault_to_page(pages[0], state, args.faults)
        finally:
            await browser.close()
    print(f"console CPU, percent of one core, over {args.seconds:.0f} s each (mesh beside it):")
    idle = rows[0][1]
    for label, console_pct, mesh_pct in rows:
        ratio = console_pct / idle if idle > 0 else float("nan")
        shown = f"console {console_pct:5.1f} %  ({ratio:4.2f}x idle)"
        print(f"  {label:>9}: {shown}   mesh {mesh_pct:5.1f} %")
    ms = sorted(1000 * s for s in latencies)
    print(
        f"fault injected elsewhere -> badge on the page, {len(ms)} faults: "
        f"median {statistics.median(ms):.0f} ms, max {ms[-1]:.0f} ms (goal <= 1000 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="each CPU span (s)")
    parser.add_argument("--faults", type=int, default=10, help="injections timed")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fallacies-bench-console-") as tmp:
        state_dir = Path(tmp) / "state"
        up = subprocess.run(
            [*CLI, "up", "--detach", "--base-port", "0", "--no-prometheus", "--state-dir",
             str(state_dir)],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if up.returncode != 0 or not re.search(r"web console: ", up.stdout):
            sys.exit(f"the mesh or its console did not start:\n{up.stdout}\n{up.stderr}")
        try:
            asyncio.run(bench(args, state_dir))
        finally:
            subprocess.run([*CLI, "down", "--state-dir", str(state_dir)], capture_output=True)


if __name__ == "__main__":
    main()
