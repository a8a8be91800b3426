"""Last-writer-wins and the idempotency store, without a network."""

from __future__ import annotations

import itertools

import pytest

from services.api.idempotency import IdempotencyStore, StoredResponse, fingerprint
from services.api.store import Entry, IdempotencyTag, KVStore
from services.common.errors import FieldError


def test_larger_timestamp_wins_then_larger_replica_id():
    store = KVStore()
    assert store.apply(Entry("k", "old", 1.0, "api-2"))
    assert store.apply(Entry("k", "new", 2.0, "api-1"))
    assert not store.apply(Entry("k", "older", 1.5, "api-2"))
    assert store.apply(Entry("k", "tie", 2.0, "api-2"))
    assert not store.apply(Entry("k", "tie-loses", 2.0, "api-1"))
    assert store.get("k") == Entry("k", "tie", 2.0, "api-2")


def test_any_delivery_order_gives_the_same_state():
    writes = [
        Entry("k", v, ts, o)
        for v, ts, o in [
            ("a", 1.0, "api-1"),
            ("b", 3.0, "api-1"),
            ("c", 3.0, "api-2"),
            ("d", 2.0, "api-2"),
        ]
    ]
    roots = set()
    for order in itertools.permutations(writes):
        store = KVStore()
        for entry in order:
            store.apply(entry)
        assert store.get("k") == writes[2]
        roots.add(store.root_digest())
    assert len(roots) == 1


def test_wire_round_trip_keeps_the_idempotency_tag():
    entry = Entry("k", {"n": [1, 2]}, 1.25, "api-1", IdempotencyTag("idem", "f" * 64))
    assert Entry.from_wire(entry.to_wire()) == entry


@pytest.mark.parametrize(
    ("wire", "field"),
    [
        ("nope", "entries[3]"),
        ({"value": 1, "ts": 1, "origin": "a"}, "entries[3].key"),
        ({"key": "k", "ts": 1, "origin": "a"}, "entries[3].value"),
        ({"key": "k", "value": 1, "ts": "1", "origin": "a"}, "entries[3].ts"),
        ({"key": "k", "value": 1, "ts": True, "origin": "a"}, "entries[3].ts"),
        ({"key": "k", "value": 1, "ts": 1, "origin": ""}, "entries[3].origin"),
    ],
)
def test_bad_wire_entries_name_the_field(wire, field):
    with pytest.raises(FieldError) as info:
        Entry.from_wire(wire, 3)
    assert info.value.field == field


class Tick:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _response(n: int) -> StoredResponse:
    return StoredResponse(200, str(n).encode(), "fp")


def test_idempotency_entries_expire_after_the_ttl():
    tick = Tick()
    store = IdempotencyStore(ttl_s=10, max_entries=100, clock=tick)
    store.put("a", _response(1))
    tick.now = 9.9
    assert store.get("a") == _response(1)
    tick.now = 10.0
    assert store.get("a") is None
    assert len(store) == 0


def test_idempotency_store_is_bounded_oldest_first():
    store = IdempotencyStore(ttl_s=600, max_entries=3, clock=Tick())
    for n in range(5):
        store.put(f"k{n}", _response(n))
    assert len(store) == 3
    assert store.get("k0") is None and store.get("k1") is None
    assert store.get("k4") == _response(4)


def test_fingerprint_separates_its_parts():
    assert fingerprint("PUT", "/kv/a", b"b") != fingerprint("PUT", "/kv/ab", b"")
    assert fingerprint("put", "/kv/a", b"") == fingerprint("PUT", "/kv/a", b"")
