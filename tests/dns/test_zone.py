from __future__ import annotations

import io
from pathlib import Path

import dns.name
import dns.rrset
import pytest
import yaml
from dns.rdatatype import RdataType

from services.common.errors import FieldError
from services.dns import MAX_TTL, Zone

ORIGIN = dns.name.from_text("mesh.test.")


def name(text: str) -> dns.name.Name:
    return dns.name.from_text(text)


def test_default_zone_has_the_mesh_records(zone: Zone) -> None:
    assert zone.serial == 1
    assert zone.soa[0].mname == name("ns.mesh.test.")
    assert zone.get("@", "NS") is not None
    for owner in ("ns", "api-1", "api-2"):
        view = zone.get(owner, "A")
        assert view is not None and view.values == ["127.0.0.1"]
    srv = zone.get("_api._tcp", "SRV")
    assert srv is not None and len(srv.values) == 2


def test_big_txt_does_not_fit_classic_udp(zone: Zone) -> None:
    node = zone.node(name("big.mesh.test."))
    assert node is not None
    wire = io.BytesIO()
    node[RdataType.TXT].to_wire(wire)
    assert len(wire.getvalue()) > 512


@pytest.mark.parametrize("text", ["api-1", "api-1.mesh.test", "api-1.mesh.test.", "API-1"])
def test_names_relative_or_absolute(zone: Zone, text: str) -> None:
    view = zone.get(text, "A")
    assert view is not None and view.name == "api-1.mesh.test."


def test_apex_is_at(zone: Zone) -> None:
    view = zone.get("@", "SOA")
    assert view is not None and view.name == "mesh.test."


@pytest.mark.parametrize("text", ["example.com.", "test.", "*.mesh.test."])
def test_names_outside_the_zone_or_wildcards_are_rejected(zone: Zone, text: str) -> None:
    with pytest.raises(FieldError) as caught:
        zone.add(text, "A", ["127.0.0.1"])
    assert caught.value.field == "name"


def test_changes_bump_the_serial_but_no_ops_do_not(zone: Zone) -> None:
    assert zone.add("web", "A", ["10.0.0.1"], ttl=10) is True
    assert zone.serial == 2
    assert zone.add("web", "A", ["10.0.0.1"]) is False
    assert zone.serial == 2
    assert zone.add("web", "A", ["10.0.0.2"]) is True
    assert zone.get("web", "A").values == ["10.0.0.1", "10.0.0.2"]  # type: ignore[union-attr]
    assert zone.replace("web", "A", ["10.0.0.3"]) is True
    assert zone.get("web", "A").ttl == 10  # type: ignore[union-attr]
    assert zone.replace("web", "A", ["10.0.0.3"]) is False
    assert zone.set_ttl("web", "A", 20) is True
    assert zone.set_ttl("web", "A", 20) is False
    assert zone.delete("web", "A") is True
    assert zone.delete("web", "A") is False
    assert zone.serial == 6
    assert zone.soa[0].serial == 6


def test_add_with_a_ttl_applies_it_to_the_whole_rrset(zone: Zone) -> None:
    zone.add("web", "A", ["10.0.0.1"], ttl=10)
    zone.add("web", "A", ["10.0.0.2"], ttl=99)
    assert zone.get("web", "A").ttl == 99  # type: ignore[union-attr]


def test_new_rrsets_get_the_default_ttl(zone: Zone) -> None:
    zone.add("web", "AAAA", ["::1"])
    assert zone.get("web", "AAAA").ttl == zone.default_ttl  # type: ignore[union-attr]


def test_soa_ttl_can_be_patched_but_soa_cannot_be_deleted(zone: Zone) -> None:
    assert zone.set_ttl("@", "SOA", 5) is True
    assert zone.soa.ttl == 5
    assert zone.negative_soa.ttl == 5
    with pytest.raises(FieldError) as caught:
        zone.delete("@", "SOA")
    assert caught.value.field == "type"


def test_set_ttl_of_a_missing_rrset_is_a_key_error(zone: Zone) -> None:
    with pytest.raises(KeyError):
        zone.set_ttl("nothing", "A", 5)


def test_negative_soa_ttl_is_the_minimum(zone: Zone) -> None:
    assert zone.soa.ttl == 60
    assert zone.negative_soa.ttl == 30
    assert zone.negative_soa[0] == zone.soa[0]


def test_empty_non_terminals_exist_without_records(zone: Zone) -> None:
    assert zone.node(name("_tcp.mesh.test.")) == {}
    assert zone.node(name("nope.mesh.test.")) is None
    zone.delete("_api._tcp", "SRV")
    assert zone.node(name("_tcp.mesh.test.")) is None


@pytest.mark.parametrize(
    ("ttl", "ok"), [(0, True), (MAX_TTL, True), (-1, False), (MAX_TTL + 1, False), (True, False)]
)
def test_ttl_bounds(zone: Zone, ttl: object, ok: bool) -> None:
    if ok:
        zone.add("web", "A", ["10.0.0.1"], ttl=ttl)
    else:
        with pytest.raises(FieldError) as caught:
            zone.add("web", "A", ["10.0.0.1"], ttl=ttl)
        assert caught.value.field == "ttl"


@pytest.mark.parametrize(
    ("rdtype", "value", "field"),
    [
        ("A", "::1", "values[0]"),
        ("A", "10.0.0", "values[0]"),
        ("AAAA", "127.0.0.1", "values[0]"),
        ("SRV", {"priority": 1, "weight": 1, "port": 70000, "target": "x"}, "values[0].port"),
        ("SRV", {"priority": 1, "weight": 1, "port": 80, "target": "x", "q": 1}, "values[0].q"),
        ("SRV", "1 2 three x", "values[0].port"),
        ("TXT", 12, "values[0]"),
        ("MX", "10 mail", "type"),
        ("CNAME", "api-1", "type"),
    ],
)
def test_bad_values_name_the_field(zone: Zone, rdtype: str, value: object, field: str) -> None:
    with pytest.raises(FieldError) as caught:
        zone.add("web", rdtype, [value])
    assert caught.value.field == field
    assert zone.serial == 1


def test_srv_values_as_text_or_object_are_the_same(zone: Zone) -> None:
    zone.replace("_x._udp", "SRV", ["1 2 53 ns"])
    as_text = zone.get("_x._udp", "SRV")
    zone.replace("_x._udp", "SRV", [{"priority": 1, "weight": 2, "port": 53, "target": "ns"}])
    assert zone.get("_x._udp", "SRV") == as_text
    assert as_text is not None
    assert as_text.values == [{"priority": 1, "weight": 2, "port": 53, "target": "ns.mesh.test."}]


def test_long_txt_strings_are_split_into_255_byte_chunks(zone: Zone) -> None:
    zone.add("long", "TXT", ["x" * 600])
    view = zone.get("long", "TXT")
    assert view is not None
    assert [len(s) for s in view.values[0]] == [255, 255, 90]


def test_serial_wraps_at_2_to_the_32(zone: Zone) -> None:
    wrapped = Zone(serial=2**32 - 1)
    wrapped.add("web", "A", ["10.0.0.1"])
    assert wrapped.serial == 0


def test_zone_file_round_trip(zone: Zone, tmp_path: Path) -> None:
    zone.add("web", "TXT", [["a", "b"], "c"])
    path = tmp_path / "zone.yaml"
    path.write_text(yaml.safe_dump(zone.to_dict()))
    loaded = Zone.from_file(path)
    assert loaded.rrsets() == zone.rrsets()
    assert loaded.serial == zone.serial


def test_the_packaged_example_loads_from_its_path() -> None:
    path = Path(__file__).parents[2] / "services" / "dns" / "default_zone.yaml"
    assert Zone.from_file(path).rrsets() == Zone.default().rrsets()


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("records: [{name: a, type: A, values: [1.2.3.4], colour: red}]", "records[0].colour"),
        ("records: [{name: a, type: A, values: [1.2.3.400]}]", "records[0].values[0]"),
        ("records: [{name: a, type: A}]", "records[0].values"),
        ("records: [{name: a, type: A, values: [1.2.3.4], ttl: -5}]", "records[0].ttl"),
        ("soa: {minimum: -1}", "soa.minimum"),
        ("origin: mesh.test.\nextra: 1", "extra"),
        ("[1, 2]", "zone"),
    ],
)
def test_zone_file_errors_name_the_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "zone.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=field.replace("[", r"\[").replace("]", r"\]")):
        Zone.from_file(path)


def test_zone_file_that_is_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "zone.yaml"
    path.write_text("records: [unclosed")
    with pytest.raises(ValueError, match="not valid YAML"):
        Zone.from_file(path)


def test_missing_zone_file_is_an_os_error(tmp_path: Path) -> None:
    with pytest.raises(OSError):
        Zone.from_file(tmp_path / "absent.yaml")


def test_rrset_views_are_sorted_and_include_the_soa(zone: Zone) -> None:
    kinds = {(v.name, v.type) for v in zone.rrsets()}
    assert ("mesh.test.", "SOA") in kinds
    assert all(isinstance(v.values, list) for v in zone.rrsets())
    assert isinstance(zone.soa, dns.rrset.RRset)
