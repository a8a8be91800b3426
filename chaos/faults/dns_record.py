"""``dns_record``: the zone changed under the clients (topology changes, fallacy 5).

The current RRset is read first, the new one put in its place, and a revert that
puts the old one back (or deletes the RRset if there was none) is filed with the
janitor. Attributes (exactly one of ``values``, ``only``, ``delete``, or just ``ttl``):

    type     A | AAAA | SRV | TXT ...  default SRV for ``_service._proto`` names, else A
    values   the new values, as the DNS admin API takes them
    only     SRV only: keep just the targets of these nodes (``only: api-2``), with
             the ports the zone has now; an experiment cannot know ports in advance
    delete   true: remove the RRset (NXDOMAIN / NODATA)
    ttl      record TTL in seconds; default: keep the current one

The target is the owner name, relative to the zone (``_api._tcp``, ``api-1``) or
absolute (``api-1.mesh.test.``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote

import dns.name

from chaos.experiment.model import FaultStep
from chaos.faults import register
from chaos.faults._common import (
    Attr,
    FaultError,
    admin_url,
    check_attributes,
    http,
    mesh_replicas,
    units_of,
)
from chaos.faults.base import Fault, FaultContext, FaultSpecError
from chaos.mesh.model import ZONE
from chaos.mesh.model import mesh_records as model_records
from chaos.mesh.state import MeshState
from services.common.errors import FieldError
from services.dns import records

SCHEMA: Mapping[str, Attr] = {
    "type": Attr(str),
    "values": Attr(object),
    "only": Attr(object),
    "delete": Attr(bool),
    "ttl": Attr(int, unit="s"),
}


def record_type(step: FaultStep) -> str:
    explicit = step.attributes.get("type")
    if isinstance(explicit, str):
        return explicit.upper()
    return "SRV" if step.target.startswith("_") or "only" in step.attributes else "A"


def _only(step: FaultStep) -> list[str]:
    raw = step.attributes["only"]
    names = [raw] if isinstance(raw, str) else raw
    if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
        raise FaultSpecError("attributes.only", "must be a node name or a list of them")
    return [str(n) for n in names]


def _values(step: FaultStep) -> list[Any]:
    raw = step.attributes["values"]
    return raw if isinstance(raw, list) else [raw]


@contextmanager
def _as_spec_error(field: str) -> Iterator[None]:
    """The DNS parsers' ``FieldError("values[0].port")`` as ``attributes.values[0].port``."""
    try:
        yield
    except FieldError as exc:
        parent = field.rpartition(".")[0]
        where = f"{parent}.{exc.field}" if parent else field
        raise FaultSpecError(where, str(exc).split(": ", 1)[-1]) from None


def rrset_url(ctx: FaultContext, name: str, rdtype: str) -> str:
    return f"{admin_url(ctx.state, 'dns')}/records/{quote(name, safe='')}/{quote(rdtype, safe='')}"


async def get_rrset(ctx: FaultContext, url: str) -> dict[str, Any] | None:
    found = await http(ctx, "GET", url, missing_ok=True)
    return dict(found) if isinstance(found, dict) else None


async def put_back(ctx: FaultContext, url: str, previous: Mapping[str, Any] | None) -> None:
    if previous is None:
        await http(ctx, "DELETE", url, missing_ok=True)
    else:
        body = {"ttl": previous["ttl"], "values": previous["values"]}
        await http(ctx, "PUT", url, body=body)


def keep_targets(values: list[Any], nodes: list[str]) -> list[Any]:
    """SRV values whose target's first label is one of ``nodes`` (``api-2.mesh.test.``)."""
    return [
        v for v in values if isinstance(v, dict) and str(v.get("target", "")).split(".")[0] in nodes
    ]


@register
class DnsRecord(Fault):
    kind = "dns_record"
    target_kind = "record"
    description = "an RRset replaced, trimmed (only) or deleted; put back at the TTL"

    def units(self, step: FaultStep) -> Mapping[str, str]:
        return units_of(SCHEMA)

    def validate(self, step: FaultStep) -> None:
        """Checked with the DNS server's own parsers, so what passes here the server takes."""
        origin = dns.name.from_text(ZONE)
        with _as_spec_error("target"):
            records.parse_name(step.target, origin)
        check_attributes(step, SCHEMA)
        attributes = step.attributes
        with _as_spec_error("attributes.type"):
            rdtype = records.parse_type(record_type(step))
        if "ttl" in attributes:
            with _as_spec_error("attributes.ttl"):
                records.parse_ttl(attributes["ttl"])
        changes = [key for key in ("values", "only", "delete") if key in attributes]
        if len(changes) > 1:
            raise FaultSpecError(
                f"attributes.{changes[1]}", f"give only one of {', '.join(changes)}"
            )
        if not changes and "ttl" not in attributes:
            raise FaultSpecError("attributes", "give values, only, delete or ttl")
        if attributes.get("delete") is False:
            raise FaultSpecError("attributes.delete", "only delete: true means anything")
        if "values" in attributes:
            with _as_spec_error("attributes.values"):
                records.parse_values(rdtype, _values(step), origin)
        if "only" in attributes:
            _only(step)
            if rdtype.name != "SRV":
                raise FaultSpecError("attributes.only", "works on SRV records only")

    async def apply(self, ctx: FaultContext, step: FaultStep, ttl_s: float) -> dict[str, Any]:
        rdtype = record_type(step)
        url = rrset_url(ctx, step.target, rdtype)
        previous = await get_rrset(ctx, url)
        attributes = step.attributes
        new: dict[str, Any] | None
        if attributes.get("delete"):
            new = None
        else:
            if "values" in attributes:
                values: Any = _values(step)
            elif previous is None:
                raise FaultError(f"no {rdtype} records at {step.target} to change")
            elif "only" in attributes:
                values = keep_targets(list(previous["values"]), _only(step))
                if not values:
                    raise FaultError(f"no target of {step.target} matches only={_only(step)}")
            else:
                values = previous["values"]
            ttl = attributes.get("ttl", previous["ttl"] if previous else None)
            new = {"values": values} if ttl is None else {"ttl": ttl, "values": values}
        janitor = await replace_rrset(
            ctx, url, previous, new, ttl_s=ttl_s, description=f"put back {step.target} {rdtype}"
        )
        return {"url": url, "previous": previous, "janitor": janitor}

    async def revert(self, ctx: FaultContext, step: FaultStep, applied: dict[str, Any]) -> None:
        await put_back(ctx, str(applied["url"]), applied.get("previous"))
        await ctx.cancel_revert(applied.get("janitor"))


async def replace_rrset(
    ctx: FaultContext,
    url: str,
    previous: Mapping[str, Any] | None,
    new: Mapping[str, Any] | None,
    *,
    ttl_s: float,
    description: str,
) -> str:
    """Put ``new`` at ``url`` (``None`` deletes it) for ``ttl_s``; the janitor's id.

    The way back is filed before the change, so a runner killed in between cannot
    leave the record changed with nobody to put it back.
    """
    janitor = await ctx.file_revert(
        due_in_s=ttl_s,
        method="DELETE" if previous is None else "PUT",
        url=url,
        body=None if previous is None else {k: previous[k] for k in ("ttl", "values")},
        description=description,
    )
    try:
        if new is None:
            await http(ctx, "DELETE", url, missing_ok=True)
        else:
            await http(ctx, "PUT", url, body=dict(new))
    except BaseException:
        await put_back(ctx, url, previous)
        await ctx.cancel_revert(janitor)
        raise
    return janitor


def mesh_records(state: MeshState) -> list[dict[str, Any]]:
    """The records the running mesh registered at start (``chaos.mesh.model.mesh_records``
    over its api links as they listen)."""
    return model_records({name: state.links[name].listen for name in mesh_replicas(state)})


async def restore_mesh_records(ctx: FaultContext) -> list[str]:
    """Register the mesh's records again, as the supervisor does at start.

    Needed after ``dns`` restarts (it comes back with its built-in zone) and after
    a ``dns_record`` fault whose revert was lost. Returns the RRsets that changed.
    """
    changed: list[str] = []
    for record in mesh_records(ctx.state):
        url = rrset_url(ctx, record["name"], record["type"])
        if "values" in record:
            body = {"ttl": record["ttl"], "values": record["values"]}
            answer = await http(ctx, "PUT", url, body=body)
        else:
            answer = await http(ctx, "PATCH", url, body={"ttl": record["ttl"]})
        if isinstance(answer, dict) and answer.get("changed"):
            changed.append(f"{record['name']} {record['type']}")
    return changed
