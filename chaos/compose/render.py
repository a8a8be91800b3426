"""Write ``compose/config/`` from the topology: node configs, Toxiproxy's links, the zone.

    python -m chaos.compose.render [DIR]          write the files (default compose/config)
    python -m chaos.compose.render --check [DIR]  exit 1 if a file differs from the topology

The files are checked in, so ``docker compose`` needs no Python on the host; a test
runs ``--check`` so they never drift from ``chaos.compose.topology``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import yaml

from chaos.compose import topology
from chaos.mesh.model import ZONE, MeshPlan

__all__ = ["CONFIG_DIR", "render", "write", "zone_yaml"]

CONFIG_DIR = Path(__file__).resolve().parents[2] / "compose" / "config"
"""``compose/config`` of a source checkout."""

APP_NODES = ("dns", "ntp-a", "ntp-b", "ntp-c", "api-1", "api-2", "rogue", "proxy", "workload")
"""Nodes run as ``python -m chaos.node KIND --config /config/NAME.json``."""

_ZONE_HEADER = """\
# The compose mesh's zone (written by `python -m chaos.compose.render`; do not edit).
#
# The api names point at the Toxiproxy container (172.30.0.31), whose api-1 / api-2
# links (ports 8001 / 8002) lead to the replicas: every client edge is a named link.
# Same format as services/dns/default_zone.yaml.
"""


def _zone(plan: MeshPlan) -> str:
    return zone_yaml(plan, ns=topology.IPS["dns"])


def zone_yaml(plan: MeshPlan, *, ns: str) -> str:
    """The zone file: the packaged zone with the plan's records, ``ns`` the DNS node's address."""
    default = Path(__file__).resolve().parents[2] / "services" / "dns" / "default_zone.yaml"
    zone: dict[str, Any] = yaml.safe_load(default.read_text(encoding="utf-8"))
    wanted = {(r["name"], r["type"]): r for r in plan.records}
    records: list[dict[str, Any]] = []
    known: set[tuple[str, str]] = set()
    for record in zone["records"]:
        name = record["name"]
        absolute = ZONE if name == "@" else f"{name}.{ZONE}"
        known.add((absolute, record["type"]))
        if name == "ns":
            record = {**record, "values": [ns]}
        found = wanted.get((absolute, record["type"]))
        if found is not None:
            record = {**record, "ttl": found["ttl"]}
            if "values" in found:
                record["values"] = found["values"]
        records.append(record)
    for (absolute, kind), found in wanted.items():
        if (absolute, kind) not in known and "values" in found:
            # A replica past the packaged zone's two (a Swarm stack of more, Scale).
            name = absolute.removesuffix(f".{ZONE}")
            records.append(
                {"name": name, "type": kind, "ttl": found["ttl"], "values": found["values"]}
            )
    zone["records"] = records
    return _ZONE_HEADER + yaml.safe_dump(zone, sort_keys=False, allow_unicode=True, width=100)


def _json(data: Any) -> str:
    """Plain JSON: the nodes refuse unknown keys, so comments live in config/README.md."""
    return json.dumps(data, indent=2) + "\n"


def render() -> dict[str, str]:
    """File name → content of every generated file in ``compose/config``."""
    plan = topology.compose_plan()
    files: dict[str, str] = {}
    for name in APP_NODES:
        files[f"{name}.json"] = _json(plan.node(name).config)
    files["toxiproxy.json"] = _json(
        [topology.link_config(link) for link in plan.links if link.proxy == "toxiproxy"]
    )
    files["zone.yaml"] = _zone(plan)
    return files


def write(directory: Path) -> list[str]:
    """Write every file that differs; return their names."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = []
    for name, text in render().items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            changed.append(name)
    return changed


def stale(directory: Path) -> list[str]:
    """Files missing or different from what ``render`` would write."""
    return [
        name
        for name, text in render().items()
        if not (directory / name).exists() or (directory / name).read_text(encoding="utf-8") != text
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.compose.render", description=__doc__)
    parser.add_argument("directory", nargs="?", type=Path, default=CONFIG_DIR)
    parser.add_argument("--check", action="store_true", help="only compare, write nothing")
    args = parser.parse_args(argv)
    if args.check:
        bad = stale(args.directory)
        for name in bad:
            print(f"{args.directory / name}: differs from chaos.compose.topology", file=sys.stderr)
        return 1 if bad else 0
    for name in write(args.directory):
        print(f"wrote {args.directory / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
