"""Probes: measurements of one's own services for the steady state, the expectations and a
stop condition — ``http``, ``promql``, ``command``. A new probe is one module and a line here.

    probe: {http: {url: http://127.0.0.1:8090/checkout, status: 200, max_latency: 500ms}}
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chaos.probes.base import Measurement, Probe, ProbeSpecError
from chaos.probes.command import CommandProbe
from chaos.probes.http import HttpProbe
from chaos.probes.promql import PromqlProbe

__all__ = ["PROBES", "Measurement", "Probe", "ProbeSpecError", "probe_from"]

PROBES: dict[str, type[Probe]] = {
    probe.kind: probe for probe in (HttpProbe, PromqlProbe, CommandProbe)
}


def probe_from(value: object) -> Probe:
    """``{kind: {…}}`` from an experiment file; ``ProbeSpecError`` with the field under it."""
    if not isinstance(value, Mapping) or len(value) != 1:
        kinds = ", ".join(PROBES)
        raise ProbeSpecError("", f"must be one mapping {{KIND: {{…}}}} with KIND one of {kinds}")
    ((kind, spec),) = value.items()
    if kind not in PROBES:
        raise ProbeSpecError(str(kind), f"unknown probe; known: {', '.join(PROBES)}")
    if not isinstance(spec, Mapping):
        raise ProbeSpecError(str(kind), "must be a mapping of the probe's fields")
    try:
        return PROBES[kind].from_spec(dict[str, Any](spec))
    except ProbeSpecError as exc:
        raise ProbeSpecError(f"{kind}.{exc.field}" if exc.field else kind, exc.message) from None
