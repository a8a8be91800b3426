"""Link faults on a real embedded mesh: applied, seen on the proxy, reverted, expired."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.faults import FAULTS, FaultContext
from chaos.faults._profiles import PROFILES
from chaos.faults.rollbacks import ROLLBACKS
from tests.faults.conftest import eventually, janitor_ids, proxy_of, step, toxics_on

pytestmark = pytest.mark.asyncio(loop_scope="module")

TOXIC_STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("latency", "api-1", {"latency": 200, "jitter": 50}),
    ("bandwidth", "api-2", {"rate": 100}),
    ("loss", "dns", {"probability": 0.3}),
    ("reset_peer", "api-1", {"timeout": 100}),
    ("timeout", "ntp-a", {"timeout": 0}),
    ("slicer", "repl-1-2", {"average_size": 64, "size_variation": 32}),
    ("limit_data", "repl-2-1", {"bytes": 100000}),
    ("truncate", "dns", {"max_size": 512}),
    ("duplicate", "ntp-b", {"probability": 1.0, "copies": 1}),
    ("slow_close", "api-2", {"delay": 100}),
    ("partition", "repl-1-2", {"stream": "upstream"}),
    ("dns_rewrite", "dns", {"name": "api-1.mesh.test", "address": "127.0.0.9"}),
    ("http_status", "api-1", {"status": 503, "retry_after": 1, "path": "/journeys"}),
    ("http_latency", "api-2", {"latency": 100, "stream": "upstream"}),
    ("http_header", "api-1", {"name": "X-Signature", "action": "remove"}),
    ("http_body", "api-2", {"mode": "truncate", "bytes": 10, "fix_length": False}),
    ("http_abort", "api-1", {"bytes": 100, "method": "GET"}),
]


async def test_every_toxic_kind_is_covered() -> None:
    from chaos.faults.toxic import TOXICS

    assert {kind for kind, _, _ in TOXIC_STEPS} == set(TOXICS)


@pytest.mark.parametrize(("kind", "link", "attributes"), TOXIC_STEPS)
async def test_toxic_apply_then_revert(
    ctx: FaultContext, kind: str, link: str, attributes: dict[str, Any]
) -> None:
    fault_step = step(kind, link, **attributes)
    assert FAULTS[kind].unsupported(ctx, fault_step) is None  # the project's proxy has them all
    applied = await FAULTS[kind].apply(ctx, fault_step, 30)
    on_link = await toxics_on(ctx, link)
    (name,) = [t["name"] for t in applied["toxics"]]
    assert on_link[name]["type"] == kind
    assert on_link[name]["stream"] == attributes.get("stream", "downstream")
    own = {k: v for k, v in attributes.items() if k != "stream"}
    assert own.items() <= on_link[name]["attributes"].items()
    assert applied["toxics"][0]["janitor"] is None  # the project's proxy keeps the TTL

    await FAULTS[kind].revert(ctx, fault_step, applied)
    assert name not in await toxics_on(ctx, link)
    await FAULTS[kind].revert(ctx, fault_step, applied)  # twice is fine


async def test_both_streams_and_two_faults_of_one_type(ctx: FaultContext) -> None:
    first = step("latency", "api-1", latency=100, stream="both")
    second = step("latency", "api-1", latency=300)
    a = await FAULTS["latency"].apply(ctx, first, 30)
    b = await FAULTS["latency"].apply(ctx, second, 30)
    on_link = await toxics_on(ctx, "api-1")
    assert sorted(on_link[t["name"]]["stream"] for t in a["toxics"]) == ["downstream", "upstream"]
    await FAULTS["latency"].revert(ctx, first, a)
    left = await toxics_on(ctx, "api-1")
    assert set(left) == {b["toxics"][0]["name"]}  # the other fault is untouched
    await FAULTS["latency"].revert(ctx, second, b)
    assert await toxics_on(ctx, "api-1") == {}


async def test_the_api_target_puts_one_toxic_on_every_api_link_and_takes_all_off(
    ctx: FaultContext,
) -> None:
    fault_step = step("bandwidth", "api", rate=100)
    FAULTS["bandwidth"].validate(fault_step)
    applied = await FAULTS["bandwidth"].apply(ctx, fault_step, 30)
    assert sorted(t["link"] for t in applied["toxics"]) == ["api-1", "api-2"]
    for record in applied["toxics"]:
        assert (await toxics_on(ctx, record["link"]))[record["name"]]["type"] == "bandwidth"
    assert await toxics_on(ctx, "repl-1-2") == {}
    await FAULTS["bandwidth"].revert(ctx, fault_step, applied)
    assert await toxics_on(ctx, "api-1") == {} and await toxics_on(ctx, "api-2") == {}


async def test_toxic_expires_without_a_revert(ctx: FaultContext) -> None:
    applied = await FAULTS["loss"].apply(ctx, step("loss", "dns", probability=1.0), 1)
    name = applied["toxics"][0]["name"]
    assert name in await toxics_on(ctx, "dns")

    async def gone() -> bool:
        return name not in await toxics_on(ctx, "dns")

    await eventually(gone, timeout=3)


async def test_link_down_and_back(ctx: FaultContext) -> None:
    fault_step = step("link_down", "repl-1-2")
    applied = await FAULTS["link_down"].apply(ctx, fault_step, 30)
    assert not (await proxy_of(ctx, "repl-1-2")).enabled
    await FAULTS["link_down"].revert(ctx, fault_step, applied)
    link = await proxy_of(ctx, "repl-1-2")
    assert link.enabled and link.expires_at is None
    await FAULTS["link_down"].revert(ctx, fault_step, applied)


async def test_link_down_expires(ctx: FaultContext) -> None:
    await FAULTS["link_down"].apply(ctx, step("link_down", "ntp-c"), 1)
    assert not (await proxy_of(ctx, "ntp-c")).enabled

    async def up() -> bool:
        return bool((await proxy_of(ctx, "ntp-c")).enabled)

    await eventually(up, timeout=3)


async def test_redirect_to_the_rogue_and_back(ctx: FaultContext) -> None:
    planned = ctx.state.links["api-1"].upstream
    rogue = ctx.state.nodes["rogue"].listen["http"]
    fault_step = step("redirect", "api-1")
    applied = await FAULTS["redirect"].apply(ctx, fault_step, 30)
    assert (await proxy_of(ctx, "api-1")).upstream == rogue
    await FAULTS["redirect"].revert(ctx, fault_step, applied)
    assert (await proxy_of(ctx, "api-1")).upstream == planned
    await FAULTS["redirect"].revert(ctx, fault_step, applied)


async def test_redirect_expires(ctx: FaultContext) -> None:
    planned = ctx.state.links["api-2"].upstream
    await FAULTS["redirect"].apply(ctx, step("redirect", "api-2", to="api-1"), 1)
    assert (await proxy_of(ctx, "api-2")).upstream == ctx.state.nodes["api-1"].listen["http"]

    async def back() -> bool:
        return bool((await proxy_of(ctx, "api-2")).upstream == planned)

    await eventually(back, timeout=3)


async def test_stacked_link_changes_keep_the_later_ttl(ctx: FaultContext) -> None:
    """A redirect inside a link-down: neither shortens the other's dead man's switch."""
    down_step = step("link_down", "api-1")
    down = await FAULTS["link_down"].apply(ctx, down_step, 2)
    redirect_step = step("redirect", "api-1")
    redirected = await FAULTS["redirect"].apply(ctx, redirect_step, 1)
    link = await proxy_of(ctx, "api-1")
    assert link.ttl is not None and link.ttl > 1.5  # the link-down's deadline, not 1 s
    await FAULTS["redirect"].revert(ctx, redirect_step, redirected)
    link = await proxy_of(ctx, "api-1")
    assert not link.enabled and link.expires_at is not None  # still down, still expiring
    assert link.upstream == ctx.state.links["api-1"].upstream

    async def up() -> bool:
        return bool((await proxy_of(ctx, "api-1")).enabled)

    await eventually(up, timeout=4)
    await FAULTS["link_down"].revert(ctx, down_step, down)


@pytest.mark.parametrize("name", sorted(PROFILES))
async def test_profile_shapes_both_directions(ctx: FaultContext, name: str) -> None:
    profile = PROFILES[name]
    fault_step = step("profile", "api-2", name=name)
    applied = await FAULTS["profile"].apply(ctx, fault_step, 30)
    on_link = await toxics_on(ctx, "api-2")
    seen = sorted(
        (t["type"], t["stream"], tuple(sorted(t["attributes"].items()))) for t in on_link.values()
    )
    latency = (("jitter", profile.jitter_ms), ("latency", profile.latency_ms))
    rate = (("rate", profile.rate_kb_s),)
    assert seen == [
        ("bandwidth", "downstream", rate),
        ("bandwidth", "upstream", rate),
        ("latency", "downstream", latency),
        ("latency", "upstream", latency),
    ]
    await FAULTS["profile"].revert(ctx, fault_step, applied)
    assert await toxics_on(ctx, "api-2") == {}


async def test_profile_expires(ctx: FaultContext) -> None:
    await FAULTS["profile"].apply(ctx, step("profile", "dns", name="lte"), 1)
    assert len(await toxics_on(ctx, "dns")) == 4

    async def gone() -> bool:
        return await toxics_on(ctx, "dns") == {}

    await eventually(gone, timeout=3)


async def test_reset_links_rollback(ctx: FaultContext) -> None:
    await FAULTS["latency"].apply(ctx, step("latency", "api-1", latency=100), 60)
    await FAULTS["link_down"].apply(ctx, step("link_down", "ntp-a"), 60)
    await FAULTS["redirect"].apply(ctx, step("redirect", "api-2"), 60)
    detail = await ROLLBACKS["reset_links"](ctx, {})
    assert "9 links" in detail
    for link in ctx.state.links:
        proxy = await proxy_of(ctx, link)
        assert proxy.enabled and not proxy.toxics, link
        assert proxy.upstream == ctx.state.links[link].upstream, link
    assert await janitor_ids(ctx) == set()
