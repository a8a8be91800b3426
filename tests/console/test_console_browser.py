"""The console in a real browser (Debian's chromium driven by Playwright), on a real mesh.

Each step saves a screenshot to ``$FALLACIES_SCREENSHOTS`` (else a temporary folder,
printed), so a person can look at what the room would see.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from chaos.mesh.links import Links
from tests.conftest import require_tool
from tests.console.conftest import Console
from tests.polling import eventually

pytestmark = [pytest.mark.asyncio(loop_scope="module"), pytest.mark.tool("chromium")]


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Any]:
    path = require_tool("chromium")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=path, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = Path(os.environ.get("FALLACIES_SCREENSHOTS") or tmp_path_factory.mktemp("shots"))
    folder.mkdir(parents=True, exist_ok=True)
    print(f"console screenshots in {folder}")
    return folder


@pytest_asyncio.fixture(loop_scope="module")
async def page(browser: Any, live: Console) -> AsyncIterator[Any]:
    context = await browser.new_context(viewport={"width": 1366, "height": 900})
    opened = await context.new_page()
    errors: list[str] = []
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    await opened.goto(live.server.page_url)
    await opened.locator("body[data-last-snapshot]").wait_for(state="attached")
    yield opened
    await context.close()
    assert errors == []


WATCH = """(selector) => {
    window.shownAt = null;
    new MutationObserver((_, observer) => {
        if (document.querySelector(selector)) {
            window.shownAt = Date.now();
            observer.disconnect();
        }
    }).observe(document.body, {childList: true, subtree: true});
}"""
"""Timestamps, in the page, the moment a selector first matches: the page's delay, not
that of Playwright's polling."""


async def _last(page: Any, chart: str, trace: str) -> float | None:
    value: float | None = await page.evaluate(
        """([chart, trace]) => {
            const div = document.getElementById(chart);
            const found = div && div.data ? div.data.find((t) => t.name === trace) : null;
            return found && found.y.length ? Number(found.y[found.y.length - 1]) : null;
        }""",
        [chart, trace],
    )
    return value


async def test_the_page_lists_every_node_and_link(page: Any, live: Console, shots: Path) -> None:
    for name in live.state.nodes:
        assert await page.locator(f'[data-testid="node-{name}"]').count() == 1, name
    for name in live.state.links:
        assert await page.locator(f'[data-testid="link-{name}"]').count() == 1, name
    state = await page.get_attribute('[data-testid="node-api-1"]', "data-state")
    assert state == "running"
    for client in ("naive", "resilient"):
        shown = page.locator(f'[data-testid="num-{client}-success_ratio"]')
        assert (await shown.get_attribute("data-value")) is not None
        assert "—" not in await shown.inner_text()
    await page.screenshot(path=str(shots / "01-mesh.png"), full_page=True)


async def test_each_clients_last_journey_is_drawn_hop_by_hop(page: Any, shots: Path) -> None:
    for client in ("naive", "resilient"):
        box = page.locator(f'#journeys .wf[data-client="{client}"]')
        await box.locator('.row[data-kind="http"]').first.wait_for(timeout=15_000)
        steps = await box.locator('.row[data-kind="step"] .name').all_inner_texts()
        assert steps == ["resolve", "write", "catalog", "items"], client
        assert "last journey" in await box.locator("h3").inner_text()
    await page.locator("#journeys-section").screenshot(path=str(shots / "01b-journeys.png"))


async def test_a_fault_added_by_clicking_shows_within_a_second_and_ends_at_its_ttl(
    page: Any, live: Console, shots: Path
) -> None:
    await page.select_option("#fault-link", "api-1")
    await page.select_option("#fault-type", "latency")
    await page.fill("#attr-latency", "800")
    await page.fill("#fault-ttl", "12")
    await page.evaluate(WATCH, '[data-testid^="fault-api-1-latency"]')
    clicked = time.time()
    await page.click("#fault-add")
    badge = page.locator('[data-testid^="fault-api-1-latency"]')
    await badge.first.wait_for(state="visible", timeout=10_000)
    shown_after = await page.evaluate("() => window.shownAt") / 1000 - clicked
    print(f"fault on the diagram {shown_after * 1000:.0f} ms after the click")
    assert shown_after <= 1.0
    assert await page.get_attribute('[data-testid="link-api-1"]', "data-faults") == "1"
    await page.screenshot(path=str(shots / "02-fault-added.png"), full_page=True)

    async def naive_above() -> bool:
        naive = await _last(page, "chart-p99", "naive")
        resilient = await _last(page, "chart-p99", "resilient")
        return naive is not None and resilient is not None and naive > resilient + 0.2

    await eventually(naive_above, timeout=5.0, interval=0.25, what="naive p99 above resilient")
    await page.screenshot(path=str(shots / "03-naive-p99-above.png"), full_page=True)

    await badge.first.wait_for(state="detached", timeout=20_000)
    assert await page.get_attribute('[data-testid="link-api-1"]', "data-faults") == "0"
    await page.screenshot(path=str(shots / "04-fault-gone-at-ttl.png"), full_page=True)


async def test_reset_clears_every_link(page: Any, live: Console, shots: Path) -> None:
    links = Links(live.state, actor="test")
    await links.add_toxic("api-2", "latency", attributes={"latency": 50}, ttl=60)
    await links.add_toxic("ntp-a", "loss", attributes={"probability": 0.5}, ttl=60)
    await page.locator('[data-testid^="fault-ntp-a-"]').first.wait_for(timeout=5000)
    await page.screenshot(path=str(shots / "05-before-reset.png"), full_page=True)
    await page.click("#reset")

    async def cleared() -> bool:
        counts = [
            await page.get_attribute(f'[data-testid="link-{name}"]', "data-faults")
            for name in live.state.links
        ]
        return all(count == "0" for count in counts)

    await eventually(cleared, timeout=5.0, interval=0.2, what="every link clear on the page")
    assert all(not view.toxics for view in await links.views())
    await page.screenshot(path=str(shots / "06-after-reset.png"), full_page=True)


async def test_running_fallacy_4_from_the_page_ends_in_passed_with_its_narration(
    page: Any, live: Console, shots: Path
) -> None:
    experiment = next(e for e in live.server.runs.experiments if e.fallacy == 4)
    await page.select_option("#run-which", "4")
    await page.check("#run-quick")
    await page.click("#run-start")
    state = page.locator("#run-state")
    await page.locator('#run-state[data-state="running"]').wait_for(timeout=15_000)
    narration = await page.inner_text("#run-narration")
    assert experiment.narration.watch.split(".")[0][:40] in " ".join(narration.split())
    await page.screenshot(path=str(shots / "07-run-going.png"), full_page=True)
    over = ", ".join(
        f'#run-state[data-state="{s}"]' for s in ("passed", "failed", "error", "stopped")
    )
    await page.locator(over).wait_for(timeout=180_000)
    await page.screenshot(path=str(shots / "08-run-over.png"), full_page=True)
    assert await state.get_attribute("data-state") == "passed", await page.inner_text(
        "#run-results"
    )
    assert "passed" in (await page.inner_text("#run-results")).lower()
