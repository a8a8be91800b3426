"""Fault steps are checked before any mesh exists; every error names the field to fix."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

import pytest

from chaos.embedded.plan import build_plan
from chaos.experiment.model import FaultStep
from chaos.faults import FAULTS, ROLLBACKS, FaultSpecError, validate_step
from chaos.faults._common import NODE_TARGETS
from chaos.faults.dns_record import mesh_records
from chaos.faults.rollbacks import validate_rollback
from chaos.faults.toxic import ENVELOPE, TOXICS
from chaos.mesh.model import LINK_NAMES, LINKS, MAX_API_REPLICAS
from chaos.mesh.state import MeshState
from chaos.proxy.stream import NetProtocol
from chaos.proxy.toxics import REGISTRY

KINDS = {
    "latency", "bandwidth", "loss", "reset_peer", "timeout", "slicer", "limit_data", "truncate",
    "duplicate", "slow_close", "partition", "dns_rewrite", "link_down", "node_stop",
    "node_kill", "node_pause", "dns_record", "clock_skew", "key_rotation", "redirect",
    "profile", "move", "catalog_update", "http_status", "http_latency", "http_header",
    "http_body", "http_abort", "engine_drain",
}  # fmt: skip


def test_http_toxics_that_act_on_responses_refuse_the_upstream_stream() -> None:
    for kind in ("http_status", "http_abort"):
        problem = error(kind, "api-1", stream="both")
        assert problem.field == "attributes.stream" and "downstream only" in str(problem)
    assert "unknown link" in str(error("http_status", "api-9"))
    assert "TCP links only" in str(error("http_header", "dns", name="X-A"))


def make(kind: str, target: str, **attributes: Any) -> FaultStep:
    return FaultStep(kind=kind, target=target, at_s=0, duration_s=5, attributes=attributes)


def error(kind: str, target: str, **attributes: Any) -> FaultSpecError:
    with pytest.raises(FaultSpecError) as caught:
        validate_step(make(kind, target, **attributes))
    return caught.value


def test_every_kind_is_registered_once_with_a_description() -> None:
    assert set(FAULTS) == KINDS
    for kind, fault in FAULTS.items():
        assert fault.kind == kind
        assert fault.description
        assert fault.target_kind in ("link", "node", "record", "mesh")
    assert set(ROLLBACKS) == {
        "reset_links",
        "start_nodes",
        "reset_clocks",
        "restore_keys",
        "restore_dns",
        "activate_engines",
    }


def test_link_table_matches_the_plan() -> None:
    plan = build_plan(base_port=0)
    assert {link.name: link.protocol for link in plan.links} == dict(LINKS)
    assert tuple(LINKS) == LINK_NAMES
    fabric = {"dns", "ntp-a", "ntp-b", "ntp-c", "rogue"}
    assert set(NODE_TARGETS) == fabric | {f"api-{i}" for i in range(1, MAX_API_REPLICAS + 1)}
    assert set(NODE_TARGETS) >= {node.name for node in plan.nodes} - {"proxy", "workload"}


def test_toxic_table_matches_the_proxy_registry() -> None:
    """Validation must accept exactly what the project's proxy accepts."""
    for name, spec in TOXICS.items():
        toxic = REGISTRY[name]
        wanted = {str(p.name).lower() for p in NetProtocol if p in toxic.protocols}
        assert set(spec.protocols) == wanted, name
        hints = typing.get_type_hints(toxic)
        fields = {f.name: hints[f.name] for f in dataclasses.fields(toxic)}  # type: ignore[arg-type]
        assert {k: a.type for k, a in spec.attributes.items()} == fields, name
        streams = {d.wire for d in toxic.streams}
        assert set(spec.streams) == (streams | {"both"} if len(streams) == 2 else streams), name
    assert set(REGISTRY) - set(TOXICS) == {"noop"}


def test_mesh_records_match_the_plan() -> None:
    plan = build_plan(base_port=0)
    state = MeshState.from_plan(plan, supervisor_pid=0)
    assert mesh_records(state) == list(plan.records)


GOOD = [
    ("latency", "api-1", {"latency": 200, "jitter": 50, "stream": "both"}),
    ("latency", "ntp-a", {"latency": 20, "stream": "upstream"}),
    ("bandwidth", "api-2", {"rate": 100, "toxicity": 0.5}),
    ("loss", "dns", {"probability": 0.3}),
    ("loss", "ntp-b", {}),
    ("reset_peer", "api-1", {"timeout": 100}),
    ("timeout", "dns", {"timeout": 0}),
    ("slicer", "api-1", {"average_size": 64, "size_variation": 32, "delay": 10}),
    ("limit_data", "repl-1-2", {"bytes": 1000}),
    ("truncate", "dns", {"max_size": 512, "drop": True}),
    ("duplicate", "dns", {"probability": 1, "copies": 2, "delay": 5}),
    ("slow_close", "api-2", {"delay": 500}),
    ("partition", "repl-1-2", {"stream": "upstream"}),
    ("dns_rewrite", "dns", {"name": "api-1.mesh.test", "address": "127.0.0.9"}),
    ("link_down", "repl-2-1", {}),
    ("node_stop", "api-1", {}),
    ("node_kill", "rogue", {}),
    ("node_pause", "ntp-c", {}),
    ("dns_record", "_api._tcp", {"only": "api-2", "ttl": 1}),
    ("dns_record", "api-1", {"values": ["127.0.0.2"]}),
    ("dns_record", "api-1", {"values": "127.0.0.2", "type": "a"}),
    ("dns_record", "big", {"type": "TXT", "delete": True}),
    ("dns_record", "api-2", {"ttl": 1}),
    ("clock_skew", "ntp-a", {"offset_s": -3.5, "drift_ppm": 200, "stratum": 2}),
    ("key_rotation", "api", {}),
    ("key_rotation", "api", {"grace_s": 2}),
    ("redirect", "api-1", {}),
    ("redirect", "api-2", {"to": "api-1"}),
    ("profile", "api-1", {"name": "lte"}),
    ("profile", "dns", {"name": "wifi"}),
    ("move", "api-2", {}),
    ("move", "api-1", {"alone": True}),
    ("catalog_update", "api", {}),
    ("catalog_update", "api", {"every_s": 1.5}),
]


@pytest.mark.parametrize(("kind", "target", "attributes"), GOOD)
def test_good_steps_pass(kind: str, target: str, attributes: dict[str, Any]) -> None:
    assert validate_step(make(kind, target, **attributes)) is FAULTS[kind]


BAD = [
    # unknown kind / target
    ("jam", "api-1", {}, "kind", "unknown fault kind"),
    ("latency", "api-3", {"latency": 1}, "target", "unknown link 'api-3'"),
    ("link_down", "nowhere", {}, "target", "unknown link"),
    ("node_stop", "api-10", {}, "target", "unknown node 'api-10'"),
    ("node_kill", "proxy", {}, "target", "unknown node"),
    ("node_pause", "workload", {}, "target", "unknown node"),
    ("clock_skew", "api-1", {"offset_s": 1}, "target", "unknown NTP server"),
    ("key_rotation", "api-1", {}, "target", "use one of api"),
    ("redirect", "dns", {}, "target", "unknown api link"),
    ("profile", "eth0", {"name": "lte"}, "target", "unknown link"),
    ("dns_record", "-bad-..", {"ttl": 1}, "target", "not a valid domain name"),
    # protocol
    ("loss", "api-1", {}, "target", "UDP links only"),
    ("loss", "api", {}, "target", "UDP links only"),
    ("truncate", "dns-tcp", {}, "target", "UDP links only"),
    ("duplicate", "repl-1-2", {}, "target", "UDP links only"),
    ("dns_rewrite", "api-1", {"name": "x", "address": "127.0.0.1"}, "target", "UDP"),
    ("reset_peer", "dns", {}, "target", "TCP links only"),
    ("slicer", "ntp-a", {"average_size": 10}, "target", "TCP links only"),
    ("slow_close", "ntp-b", {"delay": 1}, "target", "TCP links only"),
    # attribute names and types
    ("latency", "api-1", {"latency": "200ms"}, "attributes.latency", "must be an integer"),
    ("latency", "api-1", {"latency": 2.5}, "attributes.latency", "must be an integer"),
    ("latency", "api-1", {"latency": True}, "attributes.latency", "must be an integer"),
    ("latency", "api-1", {"latency": -1}, "attributes.latency", "at least 0"),
    ("latency", "api-1", {}, "attributes.latency", "is required"),
    ("latency", "api-1", {"latency": 1, "jiter": 2}, "attributes.jiter", "unknown attribute"),
    ("latency", "api-1", {"latency": 1, "stream": "sideways"}, "attributes.stream", "use one of"),
    ("bandwidth", "api-1", {"rate": 1, "toxicity": 1.5}, "attributes.toxicity", "at most 1"),
    ("loss", "dns", {"probability": 2}, "attributes.probability", "at most 1"),
    ("loss", "dns", {"probability": "half"}, "attributes.probability", "must be a number"),
    ("truncate", "dns", {"drop": "yes"}, "attributes.drop", "true or false"),
    ("slicer", "api-1", {"average_size": 8, "size_variation": 8}, "attributes.size_variation", ""),
    ("dns_rewrite", "dns", {"name": "a"}, "attributes.address", "is required"),
    ("dns_rewrite", "dns", {"name": "a", "address": "x"}, "attributes.address", "not an IPv4"),
    ("partition", "api-1", {"latency": 1}, "attributes.latency", "unknown attribute"),
    ("link_down", "api-1", {"ttl": 1}, "attributes.ttl", "unknown attribute"),
    ("node_stop", "api-1", {"signal": 9}, "attributes.signal", "unknown attribute"),
    ("clock_skew", "ntp-a", {}, "attributes", "at least one"),
    ("clock_skew", "ntp-a", {"offset": 1}, "attributes.offset", "unknown attribute"),
    ("clock_skew", "ntp-a", {"stratum": 16}, "attributes.stratum", "at most 15"),
    ("clock_skew", "ntp-a", {"drift_ppm": "fast"}, "attributes.drift_ppm", "number"),
    ("redirect", "api-1", {"to": "dns"}, "attributes.to", "use one of"),
    ("profile", "api-1", {}, "attributes.name", "is required"),
    ("profile", "api-1", {"name": "5g"}, "attributes.name", "ethernet, wifi, lte"),
    ("key_rotation", "api", {"grace_s": "soon"}, "attributes.grace_s", "number"),
    ("move", "dns", {}, "target", "unknown API replica"),
    ("move", "api-1", {"alone": "yes"}, "attributes.alone", "true or false"),
    ("catalog_update", "api-1", {}, "target", "use one of api"),
    ("catalog_update", "api", {"every_s": 0.1}, "attributes.every_s", "at least 0.5"),
    ("dns_record", "api-1", {}, "attributes", "give values, only, delete or ttl"),
    ("dns_record", "api-1", {"values": ["1.2.3.4"], "delete": True}, "attributes.delete", ""),
    ("dns_record", "api-1", {"values": ["not-an-ip"]}, "attributes.values[0]", "IPv4"),
    ("dns_record", "api-1", {"type": "MX", "ttl": 1}, "attributes.type", "not supported"),
    ("dns_record", "api-1", {"ttl": -1}, "attributes.ttl", "at least 0"),
    ("dns_record", "api-1", {"only": "api-2", "type": "A"}, "attributes.only", "SRV records only"),
    ("dns_record", "_api._tcp", {"only": 7}, "attributes.only", "node name"),
    (
        "dns_record",
        "_api._tcp",
        {"values": [{"priority": 1, "weight": 1, "port": "x", "target": "a"}]},
        "attributes.values[0].port",
        "",
    ),
]


@pytest.mark.parametrize(("kind", "target", "attributes", "field", "message"), BAD)
def test_bad_steps_name_the_field(
    kind: str, target: str, attributes: dict[str, Any], field: str, message: str
) -> None:
    exc = error(kind, target, **attributes)
    assert exc.field == field, str(exc)
    assert message in str(exc)


def test_rollback_validation() -> None:
    validate_rollback("reset_links", {})
    with pytest.raises(FaultSpecError) as caught:
        validate_rollback("reset_everything", {})
    assert caught.value.field == "action"
    with pytest.raises(FaultSpecError) as caught:
        validate_rollback("start_nodes", {"nodes": ["api-1"]})
    assert caught.value.field == "args.nodes"


def test_envelope_is_separate_from_toxic_attributes() -> None:
    for spec in TOXICS.values():
        assert not set(spec.attributes) & set(ENVELOPE)
