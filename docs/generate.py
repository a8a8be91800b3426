"""Render docs/http-apis.md from the OpenAPI document each API serves.

    python docs/generate.py          # rewrite docs/http-apis.md
    python docs/generate.py --check  # exit 1 when it is stale (a test runs this)

The documents live beside their routes (``openapi.yaml``) and are what each app serves
at ``GET /openapi.json``; this page is their reading copy, never edited by hand.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from chaos.console import app as console_app  # noqa: E402
from chaos.mesh import control  # noqa: E402
from chaos.proxy import api as proxy_api  # noqa: E402
from services.common import openapi  # noqa: E402
from services.dns import admin as dns_admin  # noqa: E402
from services.ntp import admin as ntp_admin  # noqa: E402

OUTPUT = ROOT / "docs" / "http-apis.md"


@dataclass(frozen=True)
class Api:
    slug: str
    title: str
    served_by: str
    source: str
    document: Callable[[], dict[str, Any]]


APIS: tuple[Api, ...] = (
    Api(
        "proxy",
        "Fault proxy (Toxiproxy-compatible)",
        "`python -m chaos.proxy` (the `proxy` node); in the compose mesh, real Toxiproxy "
        "behind the token gate (`chaos/compose/toxiproxy_gate.py`) answers the same routes",
        "chaos/proxy/openapi.yaml",
        proxy_api.document,
    ),
    Api(
        "control",
        "Control API",
        "the embedded supervisor and the compose `control` service",
        "chaos/mesh/openapi.yaml",
        control.document,
    ),
    Api(
        "dns",
        "DNS admin API",
        "each `dns` node, on its `--admin-port`",
        "services/dns/openapi.yaml",
        dns_admin.document,
    ),
    Api(
        "ntp",
        "NTP admin API",
        "each `ntp-*` node, on its `--admin-port`",
        "services/ntp/openapi.yaml",
        ntp_admin.document,
    ),
    Api(
        "api",
        "API replica, public listener",
        "each `api-*` replica (and the rogue one)",
        "services/api/openapi.yaml",
        lambda: openapi.load("services.api"),
    ),
    Api(
        "api-admin",
        "API replica, admin listener",
        "each `api-*` replica, on its `admin_port`",
        "services/api/openapi-admin.yaml",
        lambda: openapi.load("services.api", "openapi-admin.yaml"),
    ),
    Api(
        "console",
        "Web console",
        "`fallacies console` (and `fallacies up`), on 127.0.0.1:17900 by default",
        "chaos/console/openapi.yaml",
        console_app.document,
    ),
    Api(
        "workload",
        "Workload status",
        "the `workload` node",
        "services/workload/openapi.yaml",
        lambda: openapi.load("services.workload"),
    ),
)


def _type(schema: dict[str, Any]) -> str:
    if "enum" in schema:
        return " \\| ".join(f"`{value}`" for value in schema["enum"])
    kind = schema.get("type", "any")
    if isinstance(kind, list):
        kind = " or ".join(str(k) for k in kind)
    bounds = [
        f"{word} {schema[key]:g}" if isinstance(schema[key], int | float) else ""
        for key, word in (
            ("minimum", "≥"),
            ("exclusiveMinimum", ">"),
            ("maximum", "≤"),
            ("exclusiveMaximum", "<"),
        )
        if key in schema
    ]
    if "maxLength" in schema:
        bounds.append(f"≤ {schema['maxLength']} chars")
    return str(kind) + (f" ({', '.join(b for b in bounds if b)})" if bounds else "")


def _body(doc: dict[str, Any], op: dict[str, Any]) -> str:
    content = op.get("requestBody", {}).get("content", {})
    schema = openapi.resolve(doc, content.get("application/json", {}).get("schema", {}))
    if not schema:
        return ""
    if "allOf" in schema:
        schema = openapi.merge_all_of(schema)
    if "oneOf" in schema:
        return " or ".join(str(option.get("type", "?")) for option in schema["oneOf"])
    required = set(schema.get("required", ()))
    fields = [
        f"`{name}`{'*' if name in required else ''}: {_type(prop)}"
        for name, prop in schema.get("properties", {}).items()
    ]
    return "; ".join(fields) or str(schema.get("type", ""))


def _section(spec: Api) -> list[str]:
    doc = spec.document()
    lines = [
        f"## {spec.title}",
        "",
        f"Served by {spec.served_by}. Source: [`{spec.source}`](../{spec.source}); "
        f"the running app serves it at `GET {openapi.PATH}`.",
        "",
        " ".join(str(doc["info"].get("description", "")).split()),
        "",
        "| method | path | what | body (* required) | answers |",
        "|---|---|---|---|---|",
    ]
    for path, method, op in openapi.operations(doc):
        answers = ", ".join(sorted(set(op.get("responses", {})) - openapi.shared_statuses()))
        summary = str(op.get("summary", "")).replace("|", "\\|")
        lines.append(f"| {method.upper()} | `{path}` | {summary} | {_body(doc, op)} | {answers} |")
    return lines + [""]


def render() -> str:
    lines = [
        "# HTTP APIs",
        "",
        "Generated by `python docs/generate.py` from the OpenAPI documents the apps serve;",
        "edit the `openapi.yaml` beside each app, not this page. Answers every admin API",
        "shares (the browser guard's 403, the token's 401, 404, 405, 413) are written once,",
        "in `services/common/openapi_common.yaml`. Errors are `{error, status, field?}`.",
        "",
    ]
    for spec in APIS:
        lines += _section(spec)
    return "\n".join(lines).rstrip() + "\n"


def stale() -> bool:
    return not OUTPUT.exists() or OUTPUT.read_text(encoding="utf-8") != render()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 when the page is stale")
    args = parser.parse_args()
    if args.check:
        if stale():
            print(f"{OUTPUT.relative_to(ROOT)} is stale: run python docs/generate.py")
            return 1
        return 0
    OUTPUT.write_text(render(), encoding="utf-8")
    print(f"wrote {OUTPUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
