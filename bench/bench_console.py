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

import aiohttp

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


def browser_pids(executable: str) -> list[int]:
    """Every process of the browser the benchmark drives (its renderers draw the pages)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "cmdline").read_bytes().split(b"\0", 1)[0]
            except OSError:
                continue
            if Path(command.decode(errors="replace")).name == Path(executable).name:
                found.append(int(entry.name))  # /usr/bin/chromium execs /usr/lib/chromium/...
    return found


def _total(pids: list[int]) -> float:
    seconds = 0.0
    for pid in pids:
        try:
            seconds += cpu_seconds(pid)
        except OSError:
            pass  # a renderer that ended meanwhile
    return seconds


async def measure_cpu(
    console_pid: int, state: MeshState, seconds: float, browser: str
) -> tuple[float, float, float]:
    """(console, mesh, browser) CPU over ``seconds``, each in percent of one core."""
    groups = [[console_pid], mesh_pids(state), browser_pids(browser)]
    before, t0 = [_total(g) for g in groups], time.monotonic()
    await asyncio.sleep(seconds)
    after, t1 = [_total(g) for g in groups], time.monotonic()
    console, mesh, pages = (100 * (a - b) / (t1 - t0) for a, b in zip(after, before, strict=True))
    return console, mesh, pages


async def open_pages(browser: Any, url: str, count: int) -> list[Any]:
    pages = []
    for _ in range(count):
        page = await browser.new_page(viewport={"width": 1366, "height": 900})
        await page.goto(url)
        await page.locator("body[data-last-snapshot]").wait_for(state="attached")
        pages.append(page)
    return pages


WATCH = """(id) => {
    window.benchSeenAt = null;
    const seen = () => document.querySelector(`[data-testid="${id}"]`);
    new MutationObserver((_, observer) => {
        if (seen()) { window.benchSeenAt = Date.now(); observer.disconnect(); }
    }).observe(document.body, {childList: true, subtree: true});
}"""
"""Timestamps, in the page, the moment the badge enters the document (the page's own
clock: what Playwright's polling of the locator would add is not the page's delay)."""


async def _on_feed(url: str, name: str) -> float:
    """When a snapshot naming ``name`` arrives over the feed (monotonic seconds)."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(url.split("#", 1)[0] + "live") as socket:
            async for message in socket:
                if f'"name": "{name}"' in message.data:
                    return time.monotonic()
    raise RuntimeError("the feed ended")


async def fault_to_page(
    page: Any, url: str, state: MeshState, rounds: int
) -> list[tuple[float, float]]:
    """(injection → on the feed, injection → on the page) per fault, seconds."""
    links = Links(state, actor="bench")
    seen: list[tuple[float, float]] = []
    for i in range(rounds):
        name = f"bench_{i}"
        feed = asyncio.create_task(_on_feed(url, name))
        await asyncio.sleep(1.0)  # the feed's socket opens and its history arrives first
        await page.evaluate(WATCH, f"fault-api-2-{name}")
        wall, started = time.time(), time.monotonic()
        await links.add_toxic("api-2", "latency", attributes={"latency": 1}, name=name, ttl=30)
        await page.locator(f'[data-testid="fault-api-2-{name}"]').wait_for(timeout=10_000)
        on_page = await page.evaluate("() => window.benchSeenAt") / 1000 - wall
        seen.append((await asyncio.wait_for(feed, 10) - started, on_page))
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
    rows: list[tuple[str, float, float, float]] = []
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=args.chromium, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            rows.append(
                ("no page", *await measure_cpu(record.pid, state, args.seconds, args.chromium))
            )
            pages = await open_pages(browser, record.page_url, 1)
            rows.append(
                ("1 page", *await measure_cpu(record.pid, state, args.seconds, args.chromium))
            )
            pages += await open_pages(browser, record.page_url, 9)
            rows.append(
                ("10 pages", *await measure_cpu(record.pid, state, args.seconds, args.chromium))
            )
            for page in pages[1:]:
                await page.close()
            latencies = await fault_to_page(pages[0], record.url, state, args.faults)
        finally:
            await browser.close()
    print(f"CPU, percent of one core, over {args.seconds:.0f} s each:")
    idle = rows[0][1]
    for label, console_pct, mesh_pct, browser_pct in rows:
        ratio = console_pct / idle if idle > 0 else float("nan")
        shown = f"console {console_pct:5.1f} % ({ratio:4.2f}x idle)"
        print(f"  {label:>9}: {shown}   browser {browser_pct:6.1f} %   mesh {mesh_pct:5.1f} %")
    for label, index in (("on the feed", 0), ("on the page", 1)):
        ms = sorted(1000 * pair[index] for pair in latencies)
        print(
            f"fault injected elsewhere -> {label}, {len(ms)} faults: "
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
