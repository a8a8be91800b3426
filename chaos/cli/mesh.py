"""``fallacies up | status | down | node | links``: a mesh's lifecycle, on either backend."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from chaos.cli._common import (
    ComposeFlag,
    ProxyUrl,
    StateDir,
    SwarmFlag,
    app,
    backend,
    console,
    err_console,
    fail,
    run,
    running,
    state_dir_of,
)
from chaos.console import DEFAULT_PORT
from chaos.mesh.backend import SCALE_IS_SWARM
from chaos.mesh.errors import MeshError, UsageError
from chaos.mesh.model import DEFAULT_SCALE, MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS, Scale
from services.common.errors import PortInUseError

if TYPE_CHECKING:
    from chaos.mesh.model import MeshPlan, NodeStatus
    from chaos.toxiproxy import Toxic


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
    _print_prometheus({n.name: n.metrics_url for n in plan.nodes})


def _print_prometheus(metrics_urls: dict[str, str | None]) -> None:
    """Where Prometheus' own pages are, when the mesh runs one: its root, which leads to
    the UI the build has (Debian's ships the classic one under ``/classic/``)."""
    url = metrics_urls.get("prometheus")
    if url:
        ui = url.removesuffix("/metrics")
        console.print(f"Prometheus: {ui}/ (queries; the fallacies' alerts under Alerts)")


def _print_status_table(rows: list[NodeStatus] | None) -> bool:
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
        all_ok &= row.healthy
        health = "[green]healthy[/]" if row.healthy else "[red]down[/]"
        state = row.state + (f" ({row.returncode})" if row.returncode is not None else "")
        pid = str(row.pid or "-")
        table.add_row(row.name, state, health, pid, _ports(row.listen), row.metrics_url)
    console.print(table)
    _print_prometheus({row.name: row.metrics_url for row in rows})
    return all_ok


@app.command()
def up(
    base_port: Annotated[
        int, typer.Option(help="First port of the mesh's layout; 0 picks free ephemeral ports.")
    ] = 17000,
    detach: Annotated[
        bool, typer.Option(metavar="", help="Return once healthy; the mesh keeps running.")
    ] = False,
    toxiproxy: Annotated[
        bool,
        typer.Option(
            metavar="", help="Carry the TCP links on a real toxiproxy-server (must be on PATH)."
        ),
    ] = False,
    seed: Annotated[
        int | None, typer.Option(help="Seed the fault proxy's random draws (reproducible).")
    ] = None,
    prometheus: Annotated[
        bool,
        typer.Option(
            metavar="", help="Also run Prometheus (with the project's rules) when it is installed."
        ),
    ] = True,
    compose: Annotated[
        bool,
        typer.Option(
            metavar="", help="Run the Docker Compose mesh (compose/compose.yaml) instead."
        ),
    ] = False,
    swarm: Annotated[
        bool,
        typer.Option(
            metavar="",
            help="Deploy the Docker Swarm stack (compose/stack.yaml; the engine must be a "
            "swarm manager) with --detach.",
        ),
    ] = False,
    build: Annotated[
        bool, typer.Option(metavar="", help="With --compose: build the images first.")
    ] = False,
    grafana: Annotated[
        bool, typer.Option(metavar="", help="With --compose: also start Grafana.")
    ] = False,
    env_file: Annotated[
        Path | None,
        typer.Option(
            help="With --compose or --swarm: image overrides (compose/offline.env from the build)."
        ),
    ] = None,
    web_console: Annotated[
        bool,
        typer.Option("--console/--no-console", metavar="", help="Serve the live web console too."),
    ] = True,
    console_port: Annotated[
        int | None,
        typer.Option(help=f"Port of the web console (default {DEFAULT_PORT}; free with base 0)."),
    ] = None,
    client: Annotated[
        str | None,
        typer.Option(
            "--client",
            help="Run your own client beside the two: path/to/file.py:Class or "
            "package.module:Class (template: examples/my_client.py).",
        ),
    ] = None,
    api_replicas: Annotated[
        int | None,
        typer.Option(
            help=f"With --swarm: API replicas, {DEFAULT_SCALE.api} to {MAX_API_REPLICAS} "
            f"(default {DEFAULT_SCALE.api})."
        ),
    ] = None,
    workloads: Annotated[
        int | None,
        typer.Option(
            help=f"With --swarm: workload pairs (a naive and a resilient client each), 1 to "
            f"{MAX_WORKLOAD_PAIRS} (default {DEFAULT_SCALE.workloads})."
        ),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """Start the whole mesh as local processes on 127.0.0.1 (no Docker), or with --compose
    or --swarm."""
    from chaos.cli.experiments import own_client
    from chaos.console import lifecycle as web
    from chaos.mesh.backend import UpOptions

    if (api_replicas is not None or workloads is not None) and not swarm:
        raise fail(SCALE_IS_SWARM, 2)
    try:
        scale = Scale(
            api_replicas if api_replicas is not None else DEFAULT_SCALE.api,
            workloads if workloads is not None else DEFAULT_SCALE.workloads,
        )
    except ValueError as exc:
        raise fail(str(exc), 2) from None

    if client is not None and (compose or swarm):
        raise fail("--client is for the embedded mesh (the container meshes run built images)", 2)
    yours = own_client(client)
    mesh = backend(compose, state_dir, swarm=swarm)
    directory = state_dir_of(state_dir)
    port = console_port if console_port is not None else (0 if base_port == 0 else DEFAULT_PORT)

    def start_console(wait_s: float = 0.0) -> None:
        record = web.launch(
            mesh.name,
            directory,
            host="127.0.0.1",
            port=port,
            out_root=Path("fallacies-runs"),
            wait_s=wait_s,
        )
        if wait_s:
            console.print(f"web console: http://127.0.0.1:{port}/ once the mesh is healthy")
        elif record is None:
            log = web.log_path(directory, mesh.name)
            err_console.print(f"the web console did not start; see {log}")
        else:
            console.print(f"web console: {record.page_url}")

    def ready(plan: MeshPlan, started_in_s: float | None) -> None:
        _print_plan_table(plan, started_in_s)
        if web_console:
            start_console()

    if web_console and compose and not detach:
        # docker compose shows the containers' logs until Ctrl-C: the console waits for them.
        start_console(wait_s=600)
    options = UpOptions(
        detach=detach,
        base_port=base_port,
        toxiproxy=toxiproxy,
        seed=seed,
        prometheus=prometheus,
        build=build,
        grafana=grafana,
        env_file=env_file,
        client=yours[0] if yours else None,
        scale=scale,
    )
    try:
        state = mesh.up(options, ready)
    except UsageError as exc:
        raise fail(str(exc), 2) from None
    except (MeshError, PortInUseError) as exc:
        raise fail(str(exc)) from None
    finally:
        if not detach:
            web.stop(directory, mesh.name)
    if state is None:
        console.print("mesh stopped")
        return
    if state.supervisor_pid:
        console.print(f"mesh running (supervisor pid {state.supervisor_pid})")
    _print_status_table(asyncio.run(mesh.status()))
    if web_console:
        start_console()


@app.command()
def status(
    compose: ComposeFlag = False, swarm: SwarmFlag = False, state_dir: StateDir = None
) -> None:
    """Show the health of each node; exit 1 if any is down."""
    if not _print_status_table(asyncio.run(backend(compose, state_dir, swarm=swarm).status())):
        raise typer.Exit(code=1)


@app.command()
def down(
    compose: ComposeFlag = False, swarm: SwarmFlag = False, state_dir: StateDir = None
) -> None:
    """Stop every process of a mesh started with `fallacies up` (or its containers)."""
    from chaos.console.lifecycle import stop

    mesh = backend(compose, state_dir, swarm=swarm)
    stop(state_dir_of(state_dir), mesh.name)
    try:
        console.print(mesh.down())
    except MeshError as exc:
        raise fail(str(exc)) from None


@app.command()
def node(
    name: Annotated[str, typer.Argument(help="Node name, e.g. api-1.")],
    action: Annotated[str, typer.Argument(help="stop | start | restart | kill | pause | resume")],
    compose: ComposeFlag = False,
    swarm: SwarmFlag = False,
    ttl: Annotated[
        float | None,
        typer.Option(
            "--ttl", min=0.1, help="Seconds until the mesh's janitor undoes stop, kill or pause."
        ),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """Stop, start, kill, pause or resume one node of the running mesh."""
    from chaos.mesh.control import node_action

    mesh = running(compose, state_dir, swarm=swarm)
    result = run(node_action(mesh, name, action, ttl_s=ttl))
    line = f"{result['name']}: {result['state']} (pid {result['pid'] or '-'})"
    revert = result.get("revert")
    if revert:
        line += f"; {revert.get('description', 'the undo')} in {ttl:g} s (by the janitor)"
    console.print(line)


def toxic_summary(toxic: Toxic) -> str:
    attrs = " ".join(f"{k}={v}" for k, v in toxic.attributes.items())
    extra = f" toxicity={toxic.toxicity:g}" if toxic.toxicity != 1 else ""
    if toxic.expires_at is not None:
        extra += f" expires {toxic.expires_at:%H:%M:%S}"
    return f"{toxic.name} ({toxic.type} {toxic.stream}{extra}) {attrs}".strip()


@app.command()
def links(compose: ComposeFlag = False, proxy: ProxyUrl = None, state_dir: StateDir = None) -> None:
    """List the mesh's links (or any proxy's, with --proxy): protocol, ports, which
    proxy carries them, active faults."""
    from rich.table import Table

    from chaos.mesh.links import Links

    views = run(Links(running(compose, state_dir, proxy)).views())
    table = Table()
    for column in ("link", "proto", "listen", "upstream", "via", "state", "faults"):
        table.add_column(column)
    for view in views:
        enabled = {True: "[green]up[/]", False: "[red]down[/]", None: "?"}[view.enabled]
        faults = "\n".join(toxic_summary(t) for t in view.toxics) or "-"
        info = view.info
        table.add_row(
            view.name, info.protocol, info.listen, info.upstream, info.proxy, enabled, faults
        )
    console.print(table)
