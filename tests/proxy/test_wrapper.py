"""Decoding toxics like Toxiproxy's AddToxicJson, plus the stricter attribute checks."""

from __future__ import annotations

import random

import pytest

from chaos.proxy import toxics
from chaos.proxy.errors import ProxyApiError
from chaos.proxy.stream import NetProtocol
from chaos.proxy.wrapper import decode_new, decode_update

TCP, UDP = NetProtocol.TCP, NetProtocol.UDP


def new(body: object, protocol: NetProtocol = TCP, taken: tuple[str, ...] = ()):
    return decode_new(
        body,
        protocol=protocol,
        exists=lambda name: name in taken,
        rng_for=lambda name: random.Random(name),
    )


def error(body: object, protocol: NetProtocol = TCP, taken: tuple[str, ...] = ()) -> ProxyApiError:
    with pytest.raises(ProxyApiError) as caught:
        new(body, protocol, taken)
    return caught.value


def test_defaults_are_toxiproxys() -> None:
    toxic = new({"type": "latency", "attributes": {"latency": 10}})
    assert toxic.to_json() == {
        "attributes": {"latency": 10, "jitter": 0},
        "name": "latency_downstream",
        "type": "latency",
        "stream": "downstream",
        "toxicity": 1,
    }


def test_stream_is_kept_as_given_and_names_the_toxic() -> None:
    toxic = new({"type": "latency", "stream": "UPSTREAM", "toxicity": 0.3})
    assert (toxic.name, toxic.stream, toxic.to_json()["toxicity"]) == (
        "latency_UPSTREAM",
        "UPSTREAM",
        0.3,
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"type": "nope"}, 400, "invalid toxic type"),
        (
            {"type": "latency", "stream": "sideways"},
            400,
            "stream was invalid, can be either upstream or downstream",
        ),
        (
            {"type": "latency", "attributes": {"latency": "abc"}},
            400,
            'bad request body: attribute "latency" must be an integer, not a string',
        ),
        (
            {"type": "latency", "attributes": {"latency": 1.5}},
            400,
            'bad request body: attribute "latency" must be an integer, not a number',
        ),
        (
            {"type": "bandwidth", "attributes": {"rate": -1}},
            400,
            'bad request body: attribute "rate" must not be negative',
        ),
        (
            {"type": "latency", "attributes": {"bogus": 1}},
            400,
            'bad request body: unknown attribute "bogus" for toxic type latency',
        ),
        (
            {"type": "latency", "toxicity": 2},
            400,
            'bad request body: "toxicity" must be between 0 and 1',
        ),
        (
            {"type": "latency", "ttl": -1},
            400,
            'bad request body: "ttl" must be a positive number of seconds',
        ),
        (
            {"type": "latency", "attributes": [1]},
            400,
            "bad request body: attributes must be an object, not an array",
        ),
        (
            [],
            400,
            "bad request body: json: cannot unmarshal array"
            " into Go value of type toxics.ToxicWrapper",
        ),
        ({"type": "latency"}, 409, "toxic already exists"),
    ],
)
def test_bad_toxics_are_rejected(body: object, status: int, message: str) -> None:
    exc = error(body, taken=("latency_downstream",) if status == 409 else ())
    assert (exc.status, exc.message) == (status, message)


def test_protocol_mismatch_is_a_400_naming_both() -> None:
    exc = error({"type": "loss"}, TCP)
    assert exc.status == 400
    assert exc.message == "toxic type loss does not support tcp proxies (it supports udp)"
    assert error({"type": "slicer", "attributes": {"average_size": 1}}, UDP).status == 400


def test_update_merges_attributes_and_keeps_toxicity() -> None:
    toxic = new({"type": "latency", "toxicity": 0.5, "attributes": {"latency": 10}})
    change = decode_update(toxic, {"attributes": {"jitter": 5}, "type": "ignored"})
    assert change.toxic.attributes() == {"latency": 10, "jitter": 5}
    assert change.toxicity == 0.5
    assert not change.ttl_given


def test_every_toxic_declares_protocols_and_round_trips_its_defaults() -> None:
    required: dict[str, dict[str, object]] = {
        "dns_rewrite": {"name": "a.test", "address": "10.0.0.1"},
        "http_header": {"name": "X-Test"},
    }
    for name, cls in toxics.REGISTRY.items():
        assert cls.protocols in (TCP, UDP, TCP | UDP), name
        made = cls.decode(required.get(name, {}))
        assert cls.decode(made.attributes()) == made


def test_the_registry_has_every_toxic_of_the_brief() -> None:
    assert toxics.types_for(TCP) == [
        "bandwidth",
        "http_abort",
        "http_body",
        "http_header",
        "http_latency",
        "http_status",
        "latency",
        "limit_data",
        "noop",
        "partition",
        "reset_peer",
        "slicer",
        "slow_close",
        "timeout",
    ]
    assert toxics.types_for(UDP) == [
        "bandwidth",
        "dns_rewrite",
        "duplicate",
        "latency",
        "limit_data",
        "loss",
        "noop",
        "partition",
        "timeout",
        "truncate",
    ]
