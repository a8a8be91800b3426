"""The journey of a request as rows: a request's hops are one row's segments, a step with
many requests keeps its slowest and counts the rest, a stuck client is said to be stuck."""

from __future__ import annotations

from typing import Any

from chaos.journal import Journal, Signal
from chaos.report.waterfall import waterfall_html, waterfall_markdown
from chaos.waterfall import MAX_REQUESTS, rows, steps_total


def _span(kind: str, name: str, start: float, end: float, detail: str = "") -> dict[str, Any]:
    return {"kind": kind, "name": name, "start_s": start, "end_s": end, "detail": detail}


def _request(name: str, start: float, took: float, replica: str = "api-1") -> list[dict[str, Any]]:
    detail = f"{replica} · HTTP 200"
    return [
        _span("send", name, start, start + took * 0.1, detail),
        _span("wait", name, start + took * 0.1, start + took * 0.9, detail),
        _span("body", name, start + took * 0.9, start + took, detail),
    ]


def _journey(items: int) -> dict[str, Any]:
    spans = [
        _span("step", "resolve", 0.0, 0.01),
        _span("dns", "SRV _api._tcp.mesh.", 0.0, 0.005, "udp"),
        _span("dns", "SRV _api._tcp.mesh.", 0.005, 0.01, "tcp"),
        _span("step", "write", 0.01, 1.0),
        _span("connect", "PUT /kv/a", 0.01, 0.02, "api-1 · HTTP 200"),
        *_request("PUT /kv/a", 0.02, 0.98),
        _span("step", "catalog", 1.0, 1.1),
        *_request("GET /catalog", 1.0, 0.1),
        _span("step", "items", 1.1, 1.1 + 0.01 * items),
        *(s for i in range(items) for s in _request(f"GET /items/{i}", 1.1 + 0.01 * i, 0.01)),
        _span("ntp", "ntp-a", -0.5, 0.2),
    ]
    return {"duration_s": 1.1 + 0.01 * items, "outcome": "ok", "spans": spans}


def test_a_request_is_one_row_with_its_hops_as_segments() -> None:
    found = rows(_journey(items=2))
    write = next(r for r in found if r.name == "PUT /kv/a")
    assert [s.kind for s in write.segments] == ["connect", "send", "wait", "body"]
    assert (write.start_s, write.end_s) == (0.01, 1.0)
    assert [r.name for r in found if r.level == 0 and r.kind == "step"] == [
        "resolve", "write", "catalog", "items",
    ]  # fmt: skip
    dns = [r for r in found if r.kind == "dns"]
    assert [r.detail for r in dns] == ["udp", "tcp"]
    assert any(r.kind == "ntp" for r in found)


def test_many_requests_keep_the_slowest_and_count_the_rest() -> None:
    found = rows(_journey(items=MAX_REQUESTS + 5))
    items = [r for r in found if r.name.startswith("GET /items/")]
    assert len(items) == MAX_REQUESTS
    (more,) = [r for r in found if r.kind == "more"]
    assert more.name == "5 more requests, each shorter"


def test_the_steps_add_up_to_the_journey() -> None:
    journey = _journey(items=3)
    assert steps_total(journey) == journey["duration_s"]


def _journal(journeys: list[dict[str, Any]], running: dict[str, float]) -> Journal:
    signal = Signal("journey_success_ratio", "Journey success ratio", "ratio")
    return Journal(
        name="x", title="X", fallacy=1, fallacy_name="The network is reliable", narration={},
        key_signal=signal, signals=[signal], started_at="2026-12-07T00:00:00+00:00",
        journeys=journeys, key_running_s=running,
    )  # fmt: skip


def test_the_report_draws_each_sampled_journey_and_names_a_stuck_client() -> None:
    journey = {**_journey(items=2), "client": "resilient", "role": "slowest during the fault"}
    journal = _journal([{**journey, "t": 12.5}], {"naive": 9.0})
    html = waterfall_html(journal)
    assert "resilient · slowest during the fault · started at 12.5 s · 1.12 s · ok" in html
    assert html.count('class="row l0"') == 5  # four steps, one NTP query
    assert "naive: no journey finished during the fault (one running 9 s)." in html
    markdown = "\n".join(waterfall_markdown(journal))
    assert "| &nbsp;&nbsp;PUT /kv/a | 10 ms | 990 ms | api-1 · HTTP 200; connect 10 ms" in markdown
