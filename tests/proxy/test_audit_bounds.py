"""The audit log is bounded in bytes, not only in entries: a client cannot grow the proxy.

Found by a client sending large actors and bodies: 1,000 entries of any size took RSS
to 356 MB, and one ``GET /audit`` answered 600 MB.
"""

from __future__ import annotations

import json

from chaos.proxy.audit import MAX_ENTRY_BYTES, MAX_LOG_BYTES, AuditLog
from tests.proxy.helpers import Api


def size(entries: list[dict[str, object]]) -> int:
    return sum(len(json.dumps(e, separators=(",", ":")).encode()) for e in entries)


def test_large_entries_are_truncated_and_the_log_stays_within_its_bytes() -> None:
    audit = AuditLog(capacity=10_000)
    for index in range(3_000):
        audit.record(
            "toxic.create",
            actor="a" * 5_000,
            proxy="p",
            toxic=f"t{index}",
            detail={"x": "y" * 60_000},
        )
    entries = audit.entries()
    assert size(entries) <= MAX_LOG_BYTES
    assert all(
        len(json.dumps(e, separators=(",", ":")).encode()) <= MAX_ENTRY_BYTES for e in entries
    )
    assert entries[-1]["toxic"] == "t2999"  # the newest are kept
    assert entries[-1]["detail"] == {
        "truncated": True,
        "bytes": len(json.dumps({"x": "y" * 60_000}, separators=(",", ":"))),
    }
    assert audit.dropped == 3_000 - len(entries)


def test_small_entries_are_kept_whole() -> None:
    audit = AuditLog()
    audit.record("proxy.create", actor="runner", proxy="api-1", detail={"name": "api-1"})
    (entry,) = audit.entries()
    assert entry["actor"] == "runner" and entry["detail"] == {"name": "api-1"}


async def test_a_huge_actor_header_is_cut(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    status, _ = await api.call(
        "POST",
        "/proxies/echo/toxics",
        {"type": "latency", "attributes": {"latency": 1}},
        headers={"X-Fallacies-Actor": "z" * 6_000},
    )
    assert status == 200
    _, audit = await api.call("GET", "/audit")
    actor = audit["entries"][-1]["actor"]
    assert len(actor) <= 200 and actor.startswith("zzz")


async def test_the_audit_logs_size_is_a_metric(api: Api, echo_port: int) -> None:
    await api.create("echo", echo_port)
    _, text = await api.call("GET", "/metrics")
    (line,) = [x for x in text.splitlines() if x.startswith("fallacies_proxy_audit_bytes ")]
    assert 0 < float(line.split()[1]) <= MAX_LOG_BYTES
