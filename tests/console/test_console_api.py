"""The console's feed and actions against a real embedded mesh, without a browser."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

import aiohttp
import pytest

from chaos.console.hub import ACTOR
from chaos.mesh.links import Links
from tests.console.conftest import Console, next_snapshot
from tests.polling import eventually

pytestmark = pytest.mark.asyncio(loop_scope="module")


def _faults(snapshot: dict[str, object], link: str) -> list[dict[str, object]]:
    links = snapshot["links"]
    assert isinstance(links, list)
    found = next(item for item in links if item["name"] == link)
    return list(found["faults"])


async def test_meta_lists_toxics_with_units_defaults_and_the_experiments(live: Console) -> None:
    status, meta = await live.call("GET", "/api/meta")
    assert status == 200
    latency = next(t for t in meta["toxics"] if t["type"] == "latency")
    assert {"name": "latency", "type": "int", "default": 0, "unit": "ms"}.items() <= (
        latency["attributes"][0].items()
    )
    assert (
        next(t for t in meta["toxics"] if t["type"] == "bandwidth")["attributes"][0]["unit"]
        == "KB/s"
    )
    status_toxic = next(t for t in meta["toxics"] if t["type"] == "http_status")
    assert status_toxic["protocols"] == ["tcp"] and status_toxic["toxiproxy"] is False
    assert [a["name"] for a in status_toxic["attributes"]][:2] == ["method", "path"]
    assert all(a["doc"] for a in status_toxic["attributes"])
    assert sorted(e["fallacy"] for e in meta["experiments"]) == list(range(1, 9))
    assert "ewma" in meta["defences"] and meta["token_required"] is bool(live.server.token)


async def test_the_snapshot_shows_every_node_link_and_both_clients(live: Console) -> None:
    snapshot = await next_snapshot(live)
    assert {n["name"] for n in snapshot["nodes"]} == set(live.state.nodes)
    assert all(n["state"] == "running" for n in snapshot["nodes"])
    links = {item["name"]: item for item in snapshot["links"]}
    assert set(links) == set(live.state.links)
    assert (links["api-1"]["from"], links["api-1"]["to"]) == ("workload", "api-1")
    assert (links["repl-1-2"]["from"], links["repl-1-2"]["to"]) == ("api-1", "api-2")
    assert links["dns"]["protocol"] == "udp" and links["dns-tcp"]["to"] == "dns"

    def sampled() -> dict[str, object] | None:
        latest = live.server.hub.latest
        return latest["sample"] if latest and latest["sample"] else None

    sample = await eventually(sampled, timeout=15.0, what="client numbers")
    for client in ("naive", "resilient"):
        numbers = sample["clients"][client]
        assert 0.0 <= numbers["success_ratio"] <= 1.0
        assert numbers["p99_s"] >= numbers["p50_s"] >= 0.0
        assert all(isinstance(v, int | float) for k, v in numbers.items() if k != "failing")


async def test_a_fault_added_from_the_console_shows_counts_down_and_ends_at_its_ttl(
    live: Console,
) -> None:
    before = time.time()
    status, added = await live.call(
        "POST",
        "/api/links/api-1/faults",
        {"type": "latency", "attributes": {"latency": 300}, "ttl_s": 3},
    )
    assert status == 201, added
    name = added["fault"]["name"]
    seen = await next_snapshot(live, after=before)
    fault = next(f for f in _faults(seen, "api-1") if f["name"] == name)
    assert fault["attributes"] == {"latency": 300, "jitter": 0}
    assert isinstance(fault["expires_in_s"], float) and 0 < fault["expires_in_s"] <= 3
    window = next(w for w in seen["windows"] if w["fault"] == name)
    assert window["link"] == "api-1" and window["end"] is None

    def ended() -> dict[str, object] | None:
        latest = live.server.hub.latest
        assert latest is not None
        return latest if not _faults(latest, "api-1") else None

    gone = await eventually(ended, timeout=10.0, what="the fault gone at its TTL")
    closed = next(w for w in gone["windows"] if w["fault"] == name)
    assert closed["end"] is not None and closed["end"] - closed["start"] < 6.0
    assert any(row["toxic"] == name and row["actor"] == ACTOR for row in gone["audit"])


async def test_an_http_fault_from_the_console_answers_requests_on_the_link(
    live: Console,
) -> None:
    status, added = await live.call(
        "POST",
        "/api/links/api-2/faults",
        {
            "type": "http_status",
            "attributes": {"status": 503, "retry_after": 2, "path": "/healthz"},
            "ttl_s": 5,
        },
    )
    assert status == 201, added
    listen = live.server.hub.home.links["api-2"].listen
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://{listen}/healthz") as response:
            assert (response.status, response.headers["Retry-After"]) == (503, "2")
    status, _ = await live.call("DELETE", f"/api/links/api-2/faults/{added['fault']['name']}")
    assert status in (200, 204)


async def test_reset_clears_every_link(live: Console) -> None:
    links = Links(live.state, actor="test")
    await links.add_toxic("api-2", "latency", attributes={"latency": 100}, ttl=60)
    await links.add_toxic("dns", "loss", attributes={"probability": 0.5}, ttl=60)
    status, body = await live.call("POST", "/api/reset", {})
    assert status == 200 and "api-2" in body["reset"]
    assert all(not view.toxics for view in await links.views())


async def test_a_bad_fault_is_a_400_naming_the_field_and_nothing_is_applied(
    live: Console,
) -> None:
    cases = [
        ({"type": "latency", "ttl_s": 1e12}, "ttl_s"),
        ({"type": "latency", "ttl_s": "soon"}, "ttl_s"),
        ({"type": "no-such-toxic"}, "type"),
        ({"type": "latency", "toxicity": 2}, "toxicity"),
        ({"type": "latency", "stream": "sideways"}, "stream"),
        ({"type": "latency", "attributes": []}, "attributes"),
        ({"type": "latency", "colour": "red"}, "colour"),
    ]
    for body, field in cases:
        status, answer = await live.call("POST", "/api/links/api-1/faults", body)
        assert (status, answer.get("field")) == (400, field), (body, answer)
    status, answer = await live.call(
        "POST", "/api/links/api-1/faults", {"type": "latency", "attributes": {"latency": "x"}}
    )
    assert status == 400 and "latency" in answer["error"]
    status, answer = await live.call("POST", "/api/links/nowhere/faults", {"type": "latency"})
    assert status == 404 and "api-1" in answer["error"]
    assert all(not view.toxics for view in await Links(live.state).views())


async def test_malformed_bodies_are_400s_and_the_console_keeps_serving(live: Console) -> None:
    async with aiohttp.ClientSession() as session:
        for raw in (b"{", b"[1, 2]", b'"x"', b"\xff\xfe", b"[" * 100 + b"]" * 100):
            async with session.post(
                live.url + "/api/reset",
                data=raw,
                headers={**live.headers, "Content-Type": "application/json"},
            ) as response:
                assert response.status == 400, raw
                assert (await response.json())["field"] == "body"
        async with session.post(
            live.url + "/api/reset",
            data=b"x" * 100_000,
            headers={**live.headers, "Content-Type": "application/json"},
        ) as response:
            assert response.status == 413
    status, _ = await live.call("GET", "/healthz")
    assert status == 200


async def test_browsers_are_kept_out(live: Console) -> None:
    body = {"type": "latency", "attributes": {"latency": 100}}
    path = "/api/links/api-1/faults"
    status, answer = await live.call("POST", path, body, {"Host": "rebound.example:80"})
    assert status == 403 and "Host" in answer["error"]
    status, answer = await live.call("GET", "/api/meta", headers={"Host": "rebound.example"})
    assert status == 403
    status, answer = await live.call("POST", path, body, {"Origin": "http://evil.example"})
    assert status == 403 and "evil.example" in answer["error"]
    status, answer = await live.call("POST", path, body, {"Sec-Fetch-Site": "cross-site"})
    assert status == 403
    async with aiohttp.ClientSession() as session:
        for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
            async with session.post(
                live.url + path,
                data=json.dumps(body),
                headers={**live.headers, "Content-Type": kind},
            ) as response:
                assert response.status == 403, kind
    assert all(not view.toxics for view in await Links(live.state).views())


async def test_a_write_without_the_token_is_refused_when_the_mesh_has_one(live: Console) -> None:
    assert live.server.token, "the embedded mesh carries an admin token"
    async with aiohttp.ClientSession() as session:
        async with session.post(live.url + "/api/reset", json={}) as response:
            assert response.status == 401
        async with session.post(
            live.url + "/api/reset", json={}, headers={"X-Fallacies-Admin-Token": "wrong"}
        ) as response:
            assert response.status == 401
        for path in ("/", "/static/console.js", "/api/meta", "/static/vendor/plotly.min.js"):
            async with session.get(live.url + path) as response:
                assert response.status == 200, path


async def test_node_actions_go_through_the_control_api(live: Console) -> None:
    status, body = await live.call("POST", "/api/nodes/ntp-c/pause", {})
    assert (status, body["state"]) == (200, "paused")

    async def paused() -> bool:
        snapshot = await next_snapshot(live, after=time.time())
        return any(n["name"] == "ntp-c" and n["state"] == "paused" for n in snapshot["nodes"])

    await eventually(paused, timeout=10.0, what="ntp-c shown paused")
    status, body = await live.call("POST", "/api/nodes/ntp-c/resume", {})
    assert (status, body["state"]) == (200, "running")
    status, body = await live.call("POST", "/api/nodes/ntp-c/explode", {})
    assert (status, body["field"]) == (400, "action")
    status, body = await live.call("POST", "/api/nodes/nobody/stop", {})
    assert status == 404 and "api-1" in body["error"]


async def test_ten_pages_cost_no_more_scraping_than_one(live: Console) -> None:
    hub = live.server.hub

    async def read_events(session: aiohttp.ClientSession, stop: asyncio.Event) -> int:
        seen = 0
        async with session.ws_connect(live.url + "/live") as socket:
            async for message in socket:
                if json.loads(message.data)["event"] == "snapshot":
                    seen += 1
                if stop.is_set():
                    return seen
        return seen

    async def scrapes_over(pages: int, seconds: float) -> tuple[int, list[int]]:
        stop = asyncio.Event()
        async with aiohttp.ClientSession() as session:
            readers = [asyncio.create_task(read_events(session, stop)) for _ in range(pages)]
            await eventually(lambda: hub.pages >= pages, timeout=10.0, what="pages open")
            start = hub.scrapes
            await asyncio.sleep(seconds)  # a span to count over, not a synchronisation
            done = hub.scrapes - start
            stop.set()
            seen = await asyncio.gather(*readers)
        return done, seen

    one, _ = await scrapes_over(1, 4.0)
    ten, seen = await scrapes_over(10, 4.0)
    assert ten <= one + 2, (one, ten)
    assert all(count >= 3 for count in seen), seen


async def test_step_mode_waits_for_next_and_skip_ends_the_run(live: Console) -> None:
    status, run = await live.call("POST", "/api/runs", {"which": "4", "step": True})
    assert status == 202, run

    def waiting() -> dict[str, object] | None:
        current = live.server.runs.current
        return current.to_dict() if current and current.state == "waiting" else None

    shown = await eventually(waiting, timeout=10.0, what="the run waiting for Next")
    assert shown["experiment"]["fallacy"] == 4
    assert set(shown["experiment"]["narration"]) == {"fallacy", "inject", "watch", "pattern", "ask"}
    status, busy = await live.call("POST", "/api/runs", {"which": "1"})
    assert status == 409
    status, run = await live.call("POST", "/api/runs/next", {"skip": True})
    assert status == 200

    def ended() -> dict[str, object] | None:
        current = live.server.runs.current
        return current.to_dict() if current and current.state == "stopped" else None

    over = await eventually(ended, timeout=10.0, what="the skipped run over")
    assert over["results"] == []
    status, answer = await live.call("POST", "/api/runs/next", {})
    assert status == 409


async def test_a_run_request_with_an_unknown_experiment_or_defence_is_refused(
    live: Console,
) -> None:
    status, answer = await live.call("POST", "/api/runs", {"which": "9"})
    assert status == 400 and "9" in answer["error"]
    status, answer = await live.call("POST", "/api/runs", {"which": "4", "disable": ["luck"]})
    assert status == 400 and "luck" in answer["error"]
    status, answer = await live.call("POST", "/api/runs", {"which": "4", "quick": "yes"})
    assert (status, answer["field"]) == (400, "quick")


async def test_a_link_switched_off_or_re_pointed_shows_as_a_fault_with_its_ttl(
    live: Console,
) -> None:
    links = Links(live.state, actor="test")
    rogue = next(iter(live.state.nodes["rogue"].listen.values()))
    async with links.client(live.state.links["api-2"].api) as proxies:
        await proxies.update_proxy("api-2", upstream=rogue, ttl=30)
        await proxies.disable("ntp-b", ttl=30)
    try:
        seen = await next_snapshot(live, after=time.time())
        redirect = next(f for f in _faults(seen, "api-2") if f["type"] == "redirect")
        assert redirect["attributes"] == {"upstream": rogue}
        assert 0 < redirect["expires_in_s"] <= 30
        down = next(f for f in _faults(seen, "ntp-b") if f["type"] == "down")
        assert 0 < down["expires_in_s"] <= 30
        assert {("api-2", "re-pointed"), ("ntp-b", "link-down")} <= {
            (w["link"], w["fault"]) for w in seen["windows"] if w["end"] is None
        }
    finally:
        await links.reset()
    cleared = await next_snapshot(live, after=time.time())
    assert not _faults(cleared, "api-2") and not _faults(cleared, "ntp-b")


async def test_the_live_feed_refuses_another_sites_page(live: Console) -> None:
    """No CORS rule guards a WebSocket: without this, any page could read the mesh."""
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(live.url + "/live", origin="http://evil.example")
        assert refused.value.status == 403
        async with session.ws_connect(live.url + "/live", origin=live.url) as socket:
            first = json.loads((await socket.receive(timeout=10)).data)
            assert first["event"] == "history" and "samples" in first["data"]


async def test_a_run_with_a_defence_off_is_watched_on_its_own_mesh_and_fills_the_matrix(
    live: Console,
) -> None:
    status, run = await live.call("POST", "/api/runs", {"which": "8", "disable": ["ewma"]})
    assert status == 202, run

    def on_its_own_mesh() -> dict[str, object] | None:
        latest = live.server.hub.latest
        return latest if latest and latest["view"]["kind"] == "run" else None

    seen = await eventually(on_its_own_mesh, timeout=60.0, what="the run's own mesh watched")
    assert "ewma" in seen["view"]["why"]
    assert live.server.hub.state is not live.server.hub.home

    def over() -> dict[str, object] | None:
        current = live.server.runs.current
        done = current is not None and current.state not in ("starting", "running")
        return current.to_dict() if done else None

    ended = await eventually(over, timeout=180.0, interval=1.0, what="the run over")
    assert ended["state"] == "failed", ended  # the defence it switched off mattered
    assert live.server.hub.state is live.server.hub.home
    cell = next(
        c
        for c in live.server.runs.snapshot()["matrix"]
        if (c["fallacy"], c["defence"]) == (8, "ewma")
    )
    assert cell["last"] == "breaks"
    assert ended["report"] and Path(str(ended["report"])).exists()
