"""The ``fallacies`` command. The only module that imports Typer and Rich."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from services.common.base import Service
from services.common.errors import PortInUseError

if TYPE_CHECKING:
    from chaos.mesh.plan import MeshPlan
    from chaos.mesh.supervisor import Supervisor

app = typer.Typer(
    name="fallacies",
    help="A chaos playground that makes the eight fallacies of distributed computing visible.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
serve_app = typer.Typer(help="Run one node of the mesh in the foreground.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

Host = Annotated[str, typer.Option(help="Address to listen on.")]
AdminHost = Annotated[str, typer.Option(help="Address of the admin API (loopback by default).")]


def _run(service: Service) -> None:
    from services.common.lifecycle import run

    def announce(endpoints: dict[str, str]) -> None:
        for role, where in endpoints.items():
            console.print(f"{service.name} {role} listening on {where}")

    try:
        run(service, announce)
    except PortInUseError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(code=1) from None


@serve_app.command("dns")
def serve_dns(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="UDP and TCP port for DNS.")] = 5353,
    admin_host: AdminHost = "127.0.0.1",
    admin_port: Annotated[int, typer.Option(help="Port of the admin/metrics API.")] = 8053,
    zone: Annotated[
        Path | None, typer.Option(help="Zone file (YAML) to load instead of the default.")
    ] = None,
) -> None:
    """Authoritative DNS server for mesh.test. over UDP and TCP."""
    from services.dns import DNSServer, Zone

    try:
        loaded = Zone.from_file(zone) if zone is not None else None
    except (OSError, ValueError) as exc:
        err_console.print(f"error: {zone}: {exc}")
        raise typer.Exit(code=2) from None
    _run(DNSServer(host=host, port=port, admin_host=admin_host, admin_port=admin_port, zone=loaded))


@serve_app.command("ntp")
def serve_ntp(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="UDP port for SNTP.")] = 1123,
    admin_host: AdminHost = "127.0.0.1",
    admin_port: Annotated[int, typer.Option(help="Port of the admin/metrics API.")] = 8123,
    name: Annotated[str, typer.Option(help="Node name, e.g. ntp-a.")] = "ntp",
    rate_limit: Annotated[
        float, typer.Option(help="Requests/s per client before a RATE kiss-o'-death; 0: off.")
    ] = 16.0,
    burst: Annotated[int, typer.Option(help="Requests a client may send at once.")] = 32,
) -> None:
    """SNTPv4 server that can be told to lie (offset, drift, stratum, leap)."""
    from services.ntp import NTPServer

    _run(
        NTPServer(
            host=host,
            port=port,
            admin_host=admin_host,
            admin_port=admin_port,
            name=name,
            rate_limit=rate_limit,
            burst=burst,
        )
    )


ConfigFile = Annotated[Path, typer.Option(help="JSON or YAML file with the node's config.")]


def _serve_from_config(kind: str, config: Path) -> None:
    import json

    import yaml

    from services.registry import build

    try:
        text = config.read_text(encoding="utf-8")
        data = json.loads(text) if config.suffix == ".json" else yaml.safe_load(text)
        service = build(kind, data or {})
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise _fail(f"{config}: {exc}", 2) from None
    _run(service)


@serve_app.command("api")
def serve_api(config: ConfigFile) -> None:
    """One API replica (see docs/api.md for the config keys)."""
    _serve_from_config("api", config)


@serve_app.command("workload")
def serve_workload(config: ConfigFile) -> None:
    """The naive and resilient clients, side by side."""
    _serve_from_config("workload", config)


StateDir = Annotated[
    Path | None,
    typer.Option(
        help="Where the mesh keeps its state "
        "(default: $FALLACIES_STATE_DIR or ~/.local/state/fallacies)."
    ),
]


def _state_dir(state_dir: Path | None) -> Path:
    from chaos.mesh.state import default_state_dir

    return state_dir if state_dir is not None else default_state_dir()


def _fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"error: {message}")
    return typer.Exit(code=code)


def _ports(listen: dict[str, str]) -> str:
    """``udp+tcp :5353  admin :8053``: every node is on the same host, so show ports only."""
    return "  ".join(f"{role} :{where.rsplit(':', 1)[1]}" for role, where in listen.items())


def _print_plan_table(plan: MeshPlan, started_in_s: float | None) -> None:
    from rich.table import Table

    title = "fallacies mesh"
    if started_in_s is not None:
        title += f" (healthy in {started_in_s:.2f} s)"
    table = Table(title=title)
    table.add_column("node")
    table.add_column(f"ports on {plan.host}")
    table.add_column("metrics", no_wrap=True)
    for node in plan.nodes:
        table.add_row(node.name, _ports(node.listen), node.metrics_url)
    console.print(table)
    console.print(f"control API: {plan.control_url}   stop with Ctrl-C or `fallacies down`")


@app.command()
def up(
    base_port: Annotated[
        int, typer.Option(help="First port of the mesh's layout; 0 picks free ephemeral ports.")
    ] = 17000,
    detach: Annotated[
        bool, typer.Option(help="Return once healthy; the mesh keeps running.")
    ] = False,
    state_dir: StateDir = None,
) -> None:
    """Start the whole mesh as local processes on 127.0.0.1 (no Docker)."""
    import asyncio

    from chaos.mesh.lifecycle import MeshError, run_foreground, start_detached
    from chaos.mesh.plan import build_plan
    from chaos.mesh.supervisor import MeshStartError

    directory = _state_dir(state_dir)
    if detach:
        try:
            state = start_detached(["--base-port", str(base_port)], directory)
        except MeshError as exc:
            raise _fail(str(exc)) from None
        console.print(f"mesh running (supervisor pid {state.supervisor_pid})")
        _print_status_table(asyncio.run(_status_rows(directory)))
        return
    try:
        plan = build_plan(base_port=base_port)
    except ValueError as exc:
        raise _fail(str(exc), 2) from None

    def ready(supervisor: Supervisor) -> None:
        _print_plan_table(supervisor.plan, supervisor.started_in_s)

    try:
        asyncio.run(run_foreground(plan, directory, ready))
    except (MeshError, MeshStartError, PortInUseError) as exc:
        raise _fail(str(exc)) from None
    console.print("mesh stopped")


async def _status_rows(directory: Path) -> list[dict[str, Any]] | None:
    from chaos.mesh.lifecycle import fetch_status, running_mesh

    state = running_mesh(directory)
    if state is None:
        return None
    return await fetch_status(state)


def _print_status_table(rows: list[dict[str, Any]] | None) -> bool:
    from rich.table import Table

    if rows is None:
        err_console.print("no mesh is running (start one with `fallacies up`)")
        return False
    table = Table()
    for column in ("node", "state", "health", "pid", "ports"):
        table.add_column(column)
    table.add_column("metrics", no_wrap=True)
    all_ok = True
    for row in rows:
        healthy = bool(row["healthy"])
        all_ok &= healthy
        health = "[green]healthy[/]" if healthy else "[red]down[/]"
        state = row["state"]
        if row.get("returncode") is not None:
            state += f" ({row['returncode']})"
        pid = str(row["pid"] or "-")
        table.add_row(row["name"], state, health, pid, _ports(row["listen"]), row["metrics_url"])
    console.print(table)
    return all_ok


@app.command()
def status(state_dir: StateDir = None) -> None:
    """Show the health of each node; exit 1 if any is down."""
    import asyncio

    if not _print_status_table(asyncio.run(_status_rows(_state_dir(state_dir)))):
        raise typer.Exit(code=1)


@app.command()
def down(state_dir: StateDir = None) -> None:
    """Stop every process of a mesh started with `fallacies up`."""
    import asyncio

    from chaos.mesh.lifecycle import MeshError, shut_down

    try:
        forced = asyncio.run(shut_down(_state_dir(state_dir)))
    except MeshError as exc:
        raise _fail(str(exc)) from None
    if forced:
        console.print(f"mesh stopped; had to kill pids {', '.join(map(str, forced))}")
    else:
        console.print("mesh stopped")


@app.command()
def node(
    name: Annotated[str, typer.Argument(help="Node name, e.g. api-1.")],
    action: Annotated[str, typer.Argument(help="stop | start | restart | kill | pause | resume")],
    state_dir: StateDir = None,
) -> None:
    """Stop, start, kill, pause or resume one node of the running mesh."""
    import asyncio

    from chaos.mesh.lifecycle import MeshError, node_action, running_mesh

    state = running_mesh(_state_dir(state_dir))
    if state is None:
        raise _fail("no mesh is running (start one with `fallacies up`)")
    try:
        result = asyncio.run(node_action(state, name, action))
    except MeshError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{result['name']}: {result['state']} (pid {result['pid'] or '-'})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
