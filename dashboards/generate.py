"""Generate the Grafana dashboards in ``dashboards/grafana/`` — this script is their source.

    python dashboards/generate.py           # rewrite the JSON files and the signal rules
    python dashboards/generate.py --check   # exit 1 if a file differs from what it makes

The signals' recording rules (``dashboards/rules/fallacies.signals.yaml``) are written
from the signal library too: each signal's ``promql()`` under its ``record`` name, the
series every signal panel and alert reads.

An overview (``fallacies-overview``: one tile per fallacy, naive against resilient on
the experiment's key signal, and the alerts firing) and one dashboard per fallacy
(``fallacies-1`` … ``fallacies-8``: the experiment's signals). Titles, descriptions and
the signals shown come from the experiments (``chaos/experiments/*.yaml``) and the
signal library (``chaos/signals/library.py``), so the dashboards say what the runner
and the report say. Queries read the recorded series of ``dashboards/rules``.

Every panel shades its fallacy's faults on a right-hand axis (active toxics on the
experiment's links, or the evidence of a fault that is not a toxic: the rogue
replica answering, a replica down, a time server's offset), and every dashboard
carries a "Faults" annotation for each active toxic. The datasource is always
``{"type": "prometheus", "uid": "prometheus"}``, the uid provisioned in
``compose/grafana/provisioning/datasources``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Any

import yaml

from chaos.experiment import Experiment
from chaos.faults import FAULTS
from chaos.faults.toxic import EVERY_API_LINK
from chaos.loader import load_all
from chaos.signals.library import LIBRARY, WINDOW, LibrarySignal

JSON = dict[str, Any]

OUT_DIR = Path(__file__).resolve().parent / "grafana"
DATASOURCE: JSON = {"type": "prometheus", "uid": "prometheus"}
SCHEMA_VERSION = 39
OVERVIEW_UID = "fallacies-overview"
TAG = "fallacies"
CLIENTS = ("naive", "resilient")
CLIENT_COLORS = {"naive": "red", "resilient": "green"}
FAULT_COLOR = "orange"
FAULT_REF = "F"
FAULTS_ANNOTATION = "link_kind:fallacies_proxy_fault_active:sum > 0"
FIRING_ALERTS = 'max by (alertname, client) (ALERTS{alertstate="firing"})'


@dataclass(frozen=True)
class Query:
    """How a panel shows one signal.

    ``expr`` is a template: ``$client`` becomes ``naive`` and ``resilient`` (one query
    each, legend = the client, plus ``legend_suffix``). Without ``per_client`` the
    expression runs once with ``legend``.
    """

    expr: str
    unit: str
    title: str | None = None
    """Panel title; default: the library's title (``/s`` added for rates)."""
    per_client: bool = True
    legend: str = ""
    legend_suffix: str = ""
    ratio: bool = False
    """A 0..1 ratio: the clients' axis is fixed to 0-100 %."""
    description: str | None = None
    """Default: the library's description."""


GRAFANA_UNITS = {
    "ratio": "percentunit",
    "seconds": "s",
    "bytes": "decbytes",
    "bytes/s": "Bps",
    "1/s": "short",
    "count": "short",
    "dollars": "currencyUSD",
}
"""The library's units (``chaos.signals.units``) as Grafana's."""


def signal_query(signal: LibrarySignal) -> Query:
    """A signal's panel: its recorded series, per client, in its unit."""
    if signal.per_client:
        return Query(
            expr=f'{signal.record}{{client="$client"}}',
            unit=GRAFANA_UNITS[signal.unit],
            title=_titled(signal),
            ratio=signal.unit == "ratio",
        )
    return Query(
        expr=signal.record,
        unit=GRAFANA_UNITS[signal.unit],
        title=_titled(signal),
        per_client=False,
        legend=signal.title,
    )


def _titled(signal: LibrarySignal) -> str:
    """Counts are over the recorded window: the title says which."""
    return (
        f"{signal.title} in {WINDOW}" if signal.operation.startswith("increase") else signal.title
    )


QUERIES: dict[str, Query] = {signal.name: signal_query(signal) for signal in LIBRARY}
"""Signal name (the experiments' vocabulary) → how a panel shows it."""

EXTRA_PANELS: dict[int, tuple[str | Query, ...]] = {
    2: (
        Query(
            expr="histogram_quantile(0.99, sum by (client, replica, le) "
            '(rate(fallacies_workload_replica_latency_seconds_bucket{client="$client"}[30s])))',
            unit="s",
            title="Latency p99 per replica",
            legend_suffix=" {{replica}}",
            description="p99 of answered requests per replica: the slow replica shows here, "
            "whichever client pays for it.",
        ),
    ),
    3: ("not_modified",),
    4: ("api2_share",),
    5: (
        Query(
            expr='up{node=~"api-[0-9]+"}',
            unit="short",
            title="API replicas up",
            per_client=False,
            legend="{{node}}",
            description="1 while Prometheus can scrape the replica, 0 while it is stopped.",
        ),
    ),
    6: (
        Query(
            expr="fallacies_ntp_served_offset_seconds",
            unit="s",
            title="Offset served by each time server",
            per_client=False,
            legend="{{node}}",
            description="Served time minus true time per NTP server: another administrator "
            "made one of them lie.",
        ),
    ),
    7: (
        Query(
            expr="sum by (client) (rate(fallacies_workload_transport_cost_dollars_total"
            '{client="$client"}[30s]))',
            unit="currencyUSD",
            title="Transport cost per second",
            description="Bytes × price per GB + requests × price per request, per second.",
        ),
    ),
}
"""Panels a fallacy's dashboard shows after the experiment's signals (at most 5 in all):
a signal's name, or a query of its own."""

MAX_PANELS = 5
STUCK = "journey_age_seconds"
"""On every fallacy's dashboard: a failing client never hides behind a gap."""


UNSEEN_LINK_FAULTS = frozenset({"redirect"})
"""Link faults ``fallacies_proxy_fault_active`` does not count (no toxic: a new upstream)."""


@dataclass(frozen=True)
class Overlay:
    expr: str
    legend: str


def fault_overlay(experiment: Experiment) -> Overlay:
    """What shades the experiment's fault window on its panels.

    Toxics on links are counted by ``fallacies_proxy_fault_active``; the other faults
    show through their evidence.
    """
    kinds = {step.kind for step in experiment.method}
    links = sorted(
        {
            # "api" is every API link of the mesh, as many as the stack runs.
            "api-[0-9]+" if step.target == EVERY_API_LINK else step.target
            for step in experiment.method
            if FAULTS[step.kind].target_kind == "link" and step.kind not in UNSEEN_LINK_FAULTS
        }
    )
    if links:
        return Overlay(
            f'sum(link_kind:fallacies_proxy_fault_active:sum{{link=~"{"|".join(links)}"}})',
            "faults active",
        )
    if "redirect" in kinds:
        return Overlay(
            'sum(rate(fallacies_api_requests_total{node="rogue"}[30s]))', "rogue answers /s"
        )
    if "node_stop" in kinds:
        nodes = "|".join(sorted(s.target for s in experiment.method if s.kind == "node_stop"))
        return Overlay(f'count(up{{node=~"{nodes}"}} == 0) or vector(0)', "nodes stopped")
    if "clock_skew" in kinds:
        nodes = "|".join(sorted(s.target for s in experiment.method if s.kind == "clock_skew"))
        return Overlay(
            f'max(abs(fallacies_ntp_served_offset_seconds{{node=~"{nodes}"}}))',
            "time server offset (s)",
        )
    raise ValueError(f"{experiment.name}: no metric shows its faults ({sorted(kinds)})")


# -- Grafana JSON ----------------------------------------------------------------------


def _target(ref: str, expr: str, legend: str) -> JSON:
    return {
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": expr,
        "instant": False,
        "legendFormat": legend,
        "range": True,
        "refId": ref,
    }


def _query_targets(query: Query) -> list[JSON]:
    if not query.per_client:
        return [_target("A", query.expr, query.legend)]
    return [
        _target(ref, Template(query.expr).substitute(client=client), client + query.legend_suffix)
        for ref, client in zip("AB", CLIENTS, strict=True)
    ]


def _client_overrides(query: Query) -> list[JSON]:
    """Naive red, resilient green; a ratio's axis 0-100 % (not the fault axis)."""
    if not query.per_client or query.legend_suffix:
        return []
    overrides: list[JSON] = []
    for client, color in CLIENT_COLORS.items():
        properties: list[JSON] = [{"id": "color", "value": {"fixedColor": color, "mode": "fixed"}}]
        if query.ratio:
            properties += [{"id": "min", "value": 0}, {"id": "max", "value": 1}]
        overrides.append({"matcher": {"id": "byName", "options": client}, "properties": properties})
    return overrides


def _overlay_override() -> JSON:
    return {
        "matcher": {"id": "byFrameRefID", "options": FAULT_REF},
        "properties": [
            {"id": "custom.axisPlacement", "value": "right"},
            {"id": "custom.axisLabel", "value": "fault"},
            {"id": "custom.lineInterpolation", "value": "stepAfter"},
            {"id": "custom.lineWidth", "value": 0},
            {"id": "custom.fillOpacity", "value": 20},
            {"id": "unit", "value": "none"},
            {"id": "min", "value": 0},
            {"id": "color", "value": {"fixedColor": FAULT_COLOR, "mode": "fixed"}},
        ],
    }


def _timeseries(
    panel_id: int,
    title: str,
    description: str,
    grid: tuple[int, int, int, int],
    query: Query,
    overlay: Overlay,
    links: Sequence[JSON] = (),
) -> JSON:
    x, y, w, h = grid
    defaults: JSON = {
        "color": {"mode": "palette-classic"},
        "custom": {
            "axisPlacement": "auto",
            "drawStyle": "line",
            "fillOpacity": 0,
            "lineInterpolation": "linear",
            "lineWidth": 2,
            "showPoints": "never",
            "spanNulls": False,
        },
        "unit": query.unit,
    }
    return {
        "datasource": DATASOURCE,
        "description": description,
        "fieldConfig": {
            "defaults": defaults,
            "overrides": [*_client_overrides(query), _overlay_override()],
        },
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "id": panel_id,
        "links": list(links),
        "options": {
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
            "tooltip": {"mode": "multi", "sort": "none"},
        },
        "targets": [*_query_targets(query), _target(FAULT_REF, overlay.expr, overlay.legend)],
        "title": title,
        "type": "timeseries",
    }


def _alerts_panel(panel_id: int, grid: tuple[int, int, int, int]) -> JSON:
    x, y, w, h = grid
    return {
        "datasource": DATASOURCE,
        "description": "Alerts of dashboards/rules firing, per client: each fallacy's alert "
        "fires for the naive client during its experiment; one firing for the resilient "
        "client is a defence that failed.",
        "fieldConfig": {
            "defaults": {
                "color": {"fixedColor": "red", "mode": "fixed"},
                "custom": {"fillOpacity": 80, "lineWidth": 0},
                "mappings": [
                    {
                        "options": {"1": {"color": "red", "index": 0, "text": "firing"}},
                        "type": "value",
                    }
                ],
            },
            "overrides": [],
        },
        "gridPos": {"h": h, "w": w, "x": x, "y": y},
        "id": panel_id,
        "options": {
            "alignValue": "left",
            "legend": {"displayMode": "list", "placement": "bottom", "showLegend": False},
            "mergeValues": True,
            "rowHeight": 0.8,
            "showValue": "never",
            "tooltip": {"mode": "single", "sort": "none"},
        },
        "targets": [_target("A", FIRING_ALERTS, "{{alertname}} {{client}}")],
        "title": "Alerts firing",
        "type": "state-timeline",
    }


def _dashboard(
    uid: str, title: str, description: str, tags: list[str], panels: list[JSON], links: list[JSON]
) -> JSON:
    return {
        "annotations": {
            "list": [
                {
                    "datasource": DATASOURCE,
                    "enable": True,
                    "expr": FAULTS_ANNOTATION,
                    "hide": False,
                    "iconColor": FAULT_COLOR,
                    "name": "Faults",
                    "step": "1s",
                    "tagKeys": "link,kind",
                    "textFormat": "{{kind}} on {{link}}",
                    "titleFormat": "fault",
                    "useValueForTime": False,
                }
            ]
        },
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": links,
        "liveNow": False,
        "panels": panels,
        "refresh": "5s",
        "schemaVersion": SCHEMA_VERSION,
        "tags": tags,
        "templating": {"list": []},
        "time": {"from": "now-15m", "to": "now"},
        "timepicker": {"refresh_intervals": ["1s", "5s", "10s", "30s", "1m", "5m"]},
        "timezone": "browser",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def _signal(name: str) -> LibrarySignal:
    for signal in LIBRARY:
        if signal.name == name:
            return signal
    raise KeyError(f"signal {name!r} is not in chaos/signals/library.py")


def _query(name: str) -> Query:
    try:
        return QUERIES[name]
    except KeyError:
        raise KeyError(f"signal {name!r} has no query in dashboards/generate.py") from None


def _panel_title(name: str, query: Query) -> str:
    return query.title or _signal(name).title


def fallacy_uid(fallacy: int) -> str:
    return f"fallacies-{fallacy}"


def _fallacy_link(fallacy: int) -> JSON:
    return {
        "targetBlank": False,
        "title": f"Fallacy {fallacy} dashboard",
        "url": f"/d/{fallacy_uid(fallacy)}?${{__url_time_range}}",
    }


def _nav_links(*, overview: bool) -> list[JSON]:
    links: list[JSON] = []
    if not overview:
        links.append(
            {
                "icon": "dashboard",
                "includeVars": False,
                "keepTime": True,
                "tags": [],
                "targetBlank": False,
                "title": "Overview",
                "tooltip": "",
                "type": "link",
                "url": f"/d/{OVERVIEW_UID}",
            }
        )
    links.append(
        {
            "asDropdown": True,
            "icon": "external link",
            "includeVars": False,
            "keepTime": True,
            "tags": [TAG],
            "targetBlank": False,
            "title": "Fallacies",
            "tooltip": "",
            "type": "dashboards",
            "url": "",
        }
    )
    return links


def overview(experiments: Sequence[Experiment]) -> JSON:
    """One tile per fallacy (its experiment's key signal), then the alerts firing."""
    panels: list[JSON] = []
    width, height, per_row = 6, 8, 4
    for index, experiment in enumerate(experiments):
        query = _query(experiment.key_signal)
        signal = _signal(experiment.key_signal)
        grid = ((index % per_row) * width, (index // per_row) * height, width, height)
        panels.append(
            _timeseries(
                index + 1,
                f"{experiment.fallacy}. {experiment.fallacy_name}",
                f"{_panel_title(experiment.key_signal, query)}: {signal.description}\n\n"
                f"{experiment.narration.watch}",
                grid,
                query,
                fault_overlay(experiment),
                links=[_fallacy_link(experiment.fallacy)],
            )
        )
    rows = (len(experiments) + per_row - 1) // per_row
    panels.append(_alerts_panel(len(panels) + 1, (0, rows * height, 24, 8)))
    return _dashboard(
        OVERVIEW_UID,
        "Fallacies: overview",
        "The eight fallacies of distributed computing: naive against resilient client on "
        "each experiment's key signal, faults shaded.",
        [TAG],
        panels,
        _nav_links(overview=True),
    )


def _grid(count: int) -> list[tuple[int, int, int, int]]:
    """The key signal across the top, the others below, up to two per row."""
    grids = [(0, 0, 24, 9)]
    rest = count - 1
    per_row = rest if rest <= 3 else 2
    width = 24 // per_row if per_row else 24
    for index in range(rest):
        grids.append(((index % per_row) * width, 9 + (index // per_row) * 8, width, 8))
    return grids


def _signal_panel(name: str) -> tuple[str, Query, str]:
    query = _query(name)
    return _panel_title(name, query), query, query.description or _signal(name).description


def _own_panel(query: Query) -> tuple[str, Query, str]:
    if not query.title or not query.description:
        raise ValueError(f"an extra panel needs a title and a description: {query.expr}")
    return query.title, query, query.description


def fallacy_dashboard(experiment: Experiment) -> JSON:
    names = [experiment.key_signal, *(s for s in experiment.signals if s != experiment.key_signal)]
    shown = [_signal_panel(name) for name in names]
    # Where a stuck client's ratios and quantiles have no value, this panel climbs.
    if STUCK not in names:
        shown.insert(1, _signal_panel(STUCK))
    for extra in EXTRA_PANELS.get(experiment.fallacy, ()):
        panel = _signal_panel(extra) if isinstance(extra, str) else _own_panel(extra)
        if len(shown) < MAX_PANELS and panel[0] not in {title for title, _, _ in shown}:
            shown.append(panel)
    shown = shown[:MAX_PANELS]
    narration = experiment.narration
    overlay = fault_overlay(experiment)
    panels = []
    for index, ((title, query, description), grid) in enumerate(
        zip(shown, _grid(len(shown)), strict=True)
    ):
        if index == 0:
            description = (
                f"{description}\n\nWatch: {narration.watch}\n\nPattern: {narration.pattern}"
            )
        panels.append(_timeseries(index + 1, title, description, grid, query, overlay))
    return _dashboard(
        fallacy_uid(experiment.fallacy),
        f"Fallacy {experiment.fallacy}: {experiment.fallacy_name}",
        f"{experiment.title}. {narration.fallacy} Inject: {narration.inject}",
        [TAG, f"fallacy-{experiment.fallacy}"],
        panels,
        _nav_links(overview=False),
    )


def build(experiments: Sequence[Experiment] | None = None) -> dict[str, JSON]:
    """File name → dashboard, for every dashboard this script owns."""
    loaded = list(experiments) if experiments is not None else load_all()
    by_fallacy = {e.fallacy: e for e in loaded}
    if sorted(by_fallacy) != list(range(1, 9)) or len(loaded) != 8:
        raise ValueError("expected exactly one experiment per fallacy 1-8")
    ordered = [by_fallacy[n] for n in range(1, 9)]
    files = {"00-overview.json": overview(ordered)}
    for experiment in ordered:
        files[f"{experiment.fallacy:02d}-{experiment.name}.json"] = fallacy_dashboard(experiment)
    return files


def render(dashboard: JSON) -> str:
    return json.dumps(dashboard, indent=2, ensure_ascii=False) + "\n"


RULES_FILE = Path(__file__).resolve().parent / "rules" / "fallacies.signals.yaml"
RULES_HEADER = """\
# The experiments' signals as recorded series, one per client: written by
# `python dashboards/generate.py` from chaos/signals/library.py (each signal's
# promql() under its record name). Do not edit: change the signal and regenerate.
#
# Names follow level:metric:operations (prometheus.io/docs/practices/rules): the
# level is `client` (or `mesh`), the metric is the signal's name, the operations
# say what was done over the 30 s window. Counters that appear with their first
# event fall back to 0 per client, so a chart draws a flat line, not a gap; a
# ratio over no finished journey has no value, as the runner says.
"""


def signal_rules() -> str:
    """The recording rules file, from the signal library."""
    rules = [{"record": signal.record, "expr": signal.promql()} for signal in LIBRARY]
    groups = {"groups": [{"name": "fallacies.signals", "interval": "1s", "rules": rules}]}
    return RULES_HEADER + yaml.safe_dump(groups, sort_keys=False, width=1000)


def stale_files(out_dir: Path = OUT_DIR, rules_file: Path = RULES_FILE) -> list[str]:
    """Files that differ from what the script makes, are missing, or are left over."""
    wanted = {name: render(dash) for name, dash in build().items()}
    problems = []
    for name, text in wanted.items():
        path = out_dir / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            problems.append(name)
    problems += sorted(p.name for p in out_dir.glob("*.json") if p.name not in wanted)
    if not rules_file.is_file() or rules_file.read_text(encoding="utf-8") != signal_rules():
        problems.append(rules_file.name)
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="only compare, exit 1 on a diff")
    parser.add_argument("--out", type=Path, default=OUT_DIR, help="output directory")
    parser.add_argument("--rules", type=Path, default=RULES_FILE, help="signal rules file")
    args = parser.parse_args(argv)
    out_dir: Path = args.out
    rules_file: Path = args.rules
    if args.check:
        stale = stale_files(out_dir, rules_file)
        for name in stale:
            print(f"{name}: differs from `python dashboards/generate.py`", file=sys.stderr)
        return 1 if stale else 0
    out_dir.mkdir(parents=True, exist_ok=True)
    files = build()
    for path in out_dir.glob("*.json"):
        if path.name not in files:
            path.unlink()
    for name, dashboard in files.items():
        (out_dir / name).write_text(render(dashboard), encoding="utf-8")
    rules_file.write_text(signal_rules(), encoding="utf-8")
    print(
        f"wrote {len(files)} dashboards to {out_dir} "
        f"and {len(LIBRARY)} signal rules to {rules_file}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
