"""The ``fallacies`` command. This package is the only one that imports Typer and Rich."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from chaos.mesh.lifecycle import MeshError
from chaos.mesh.supervisor import MeshStartError
from services.common.base import Service
from services.common.errors import PortInUseError

if TYPE_CHECKING:
    from chaos.cli.display import LiveDisplay
    from chaos.experiment import Experiment
    from chaos.mesh.plan import MeshPlan
    from chaos.mesh.state import MeshState
    from chaos.mesh.supervisor import Supervisor
    from chaos.runner import RunResult
    from chaos.toxiproxy import Toxic

T = TypeVar("T")

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
    from services.common.admin_token import token_from_env
    from services.dns import DNSServer, Zone

    try:
        loaded = Zone.from_file(zone) if zone is not None else None
    except (OSError, ValueError) as exc:
        err_console.print(f"error: {zone}: {exc}")
        raise typer.Exit(code=2) from None
    _run(
        DNSServer(
            host=host,
            port=port,
            admin_host=admin_host,
            admin_port=admin_port,
            admin_token=token_from_env(),
            zone=loaded,
        )
    )


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
    from services.common.admin_token import token_from_env
    from services.ntp import NTPServer

    _run(
        NTPServer(
            host=host,
            port=port,
            admin_host=admin_host,
            admin_port=admin_port,
            admin_token=token_from_env(),
            name=name,
            rate_limit=rate_limit,
            burst=burst,
        )
    )


ConfigFile = Annotated[Path, typer.Option(help="JSON or YAML file with the node's config.")]


def _serve_from_config(kind: str, config: Path) -> None:
    import json

    import yaml

    from chaos.node.registry import build
    from services.common.admin_token import from_env

    try:
        text = config.read_text(encoding="utf-8")
        data = json.loads(text) if config.suffix == ".json" else yaml.safe_load(text)
        service = build(kind, from_env(data or {}))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise _fail(f"{config}: {exc}", 2) from None
    _run(service)


@serve_app.command("proxy")
def serve_proxy(
    api_host: AdminHost = "127.0.0.1",
    api_port: Annotated[int, typer.Option(help="Port of the Toxiproxy-compatible API.")] = 8474,
    config: Annotated[
        Path | None, typer.Option(help="Links to create: a Toxiproxy -config JSON (or YAML).")
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for toxicity and jitter draws.")] = None,
) -> None:
    """The project's fault proxy: TCP and UDP links behind the Toxiproxy 2.x API."""
    from chaos.proxy import ConfigError, ProxyServer, load_config
    from services.common.admin_token import token_from_env

    try:
        links = load_config(config) if config is not None else None
    except (OSError, ConfigError) as exc:
        raise _fail(f"{config}: {exc}", 2) from None
    _run(
        ProxyServer(
            api_host=api_host,
            api_port=api_port,
            api_token=token_from_env(),
            config=links,
            seed=seed,
        )
    )


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
    toxiproxy: Annotated[
        bool,
        typer.Option(help="Carry the TCP links on a real toxiproxy-server (must be on PATH)."),
    ] = False,
    seed: Annotated[
        int | None, typer.Option(help="Seed the fault proxy's random draws (reproducible).")
    ] = None,
    prometheus: Annotated[
        bool,
        typer.Option(help="Also run Prometheus (with the project's rules) when it is installed."),
    ] = True,
    compose: Annotated[
        bool, typer.Option(help="Run the Docker Compose mesh (compose/compose.yaml) instead.")
    ] = False,
    build: Annotated[bool, typer.Option(help="With --compose: build the images first.")] = False,
    grafana: Annotated[bool, typer.Option(help="With --compose: also start Grafana.")] = False,
    env_file: Annotated[
        Path | None,
        typer.Option(help="With --compose: image overrides (compose/offline.env from the build)."),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """Start the whole mesh as local processes on 127.0.0.1 (no Docker), or with --compose."""
    import asyncio
    import shutil

    from chaos.mesh.lifecycle import MeshError, run_foreground, start_detached
    from chaos.mesh.plan import build_plan
    from chaos.mesh.supervisor import MeshStartError

    directory = _state_dir(state_dir)
    if compose:
        from chaos.compose import lifecycle as compose_mesh

        try:
            compose_mesh.up(
                detach=detach,
                build=build,
                env_file=env_file,
                profiles=("grafana",) if grafana else (),
                state_dir=directory,
            )
        except compose_mesh.ComposeError as exc:
            raise _fail(str(exc)) from None
        if detach:
            _print_status_table(asyncio.run(compose_mesh.status(directory)))
        return
    if toxiproxy and shutil.which("toxiproxy-server") is None:
        raise _fail("--toxiproxy needs toxiproxy-server on PATH (see README: Toxiproxy)", 2)
    if detach:
        args = ["--base-port", str(base_port)]
        args += ["--toxiproxy"] if toxiproxy else []
        args += ["--seed", str(seed)] if seed is not None else []
        args += [] if prometheus else ["--no-prometheus"]
        try:
            state = start_detached(args, directory)
        except MeshError as exc:
            raise _fail(str(exc)) from None
        console.print(f"mesh running (supervisor pid {state.supervisor_pid})")
        _print_status_table(asyncio.run(_status_rows(directory)))
        return
    try:
        plan = build_plan(
            base_port=base_port, tcp_proxy="toxiproxy" if toxiproxy else "fallacies", seed=seed
        )
        if prometheus:
            from chaos.mesh.prometheus import with_prometheus

            plan = with_prometheus(plan, directory / "run")
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


ComposeFlag = Annotated[bool, typer.Option(help="The Docker Compose mesh.")]


@app.command()
def status(compose: ComposeFlag = False, state_dir: StateDir = None) -> None:
    """Show the health of each node; exit 1 if any is down."""
    import asyncio

    if compose:
        from chaos.compose import lifecycle as compose_mesh

        rows = asyncio.run(compose_mesh.status(_state_dir(state_dir)))
    else:
        rows = asyncio.run(_status_rows(_state_dir(state_dir)))
    if not _print_status_table(rows):
        raise typer.Exit(code=1)


@app.command()
def down(compose: ComposeFlag = False, state_dir: StateDir = None) -> None:
    """Stop every process of a mesh started with `fallacies up` (or its containers)."""
    import asyncio

    from chaos.mesh.lifecycle import MeshError, shut_down

    if compose:
        from chaos.compose import lifecycle as compose_mesh

        try:
            compose_mesh.down(state_dir=_state_dir(state_dir))
        except compose_mesh.ComposeError as exc:
            raise _fail(str(exc)) from None
        console.print("compose mesh stopped")
        return

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
    compose: ComposeFlag = False,
    state_dir: StateDir = None,
) -> None:
    """Stop, start, kill, pause or resume one node of the running mesh."""
    import asyncio

    from chaos.mesh.lifecycle import MeshError, node_action

    state = _require_mesh(state_dir, compose)
    try:
        result = asyncio.run(node_action(state, name, action))
    except MeshError as exc:
        raise _fail(str(exc)) from None
    console.print(f"{result['name']}: {result['state']} (pid {result['pid'] or '-'})")


fault_app = typer.Typer(
    help="Add, list and remove faults on the running mesh's links.", no_args_is_help=True
)
app.add_typer(fault_app, name="fault")


def _require_mesh(state_dir: Path | None, compose: bool = False) -> MeshState:
    from chaos.mesh.lifecycle import running_mesh

    if compose:
        import asyncio

        from chaos.compose import lifecycle as compose_mesh

        try:
            return asyncio.run(compose_mesh.require_running(_state_dir(state_dir)))
        except compose_mesh.ComposeError as exc:
            raise _fail(str(exc)) from None
    state = running_mesh(_state_dir(state_dir))
    if state is None:
        raise _fail("no mesh is running (start one with `fallacies up`)")
    return state


def _toxic_summary(toxic: Toxic) -> str:
    attrs = " ".join(f"{k}={v}" for k, v in toxic.attributes.items())
    extra = f" toxicity={toxic.toxicity:g}" if toxic.toxicity != 1 else ""
    if toxic.expires_at is not None:
        extra += f" expires {toxic.expires_at:%H:%M:%S}"
    return f"{toxic.name} ({toxic.type} {toxic.stream}{extra}) {attrs}".strip()


@app.command()
def links(compose: ComposeFlag = False, state_dir: StateDir = None) -> None:
    """List the mesh's links: protocol, ports, which proxy carries them, active faults."""
    from rich.table import Table

    from chaos.mesh.faults import list_links

    views = _proxy_call(list_links(_require_mesh(state_dir, compose)))
    table = Table()
    for column in ("link", "proto", "listen", "upstream", "via", "state", "faults"):
        table.add_column(column)
    for view in views:
        enabled = {True: "[green]up[/]", False: "[red]down[/]", None: "?"}[view.enabled]
        faults = "\n".join(_toxic_summary(t) for t in view.toxics) or "-"
        table.add_row(
            view.name, view.protocol, view.listen, view.upstream, view.proxy, enabled, faults
        )
    console.print(table)


def _proxy_call(call: Coroutine[Any, Any, T]) -> T:
    """Run one call on the mesh's proxies; a refused fault or a proxy that does not
    answer is one line on stderr and exit 1, not a traceback."""
    import asyncio

    from chaos.mesh.faults import FaultError
    from chaos.toxiproxy import ToxiproxyError

    try:
        return asyncio.run(call)
    except (FaultError, ToxiproxyError) as exc:
        raise _fail(str(exc)) from None


@fault_app.command(
    "add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def fault_add(
    ctx: typer.Context,
    link: Annotated[str, typer.Argument(help="Link name (see `fallacies links`).")],
    toxic: Annotated[
        str,
        typer.Argument(
            help="Toxic type (latency, bandwidth, timeout, loss, ...), or `down` to cut the link."
        ),
    ],
    ttl: Annotated[
        float, typer.Option(help="Seconds until the fault reverts itself; 0 keeps it.")
    ] = 300.0,
    stream: Annotated[str, typer.Option(help="upstream or downstream.")] = "downstream",
    toxicity: Annotated[float, typer.Option(help="Probability the toxic applies.")] = 1.0,
    name: Annotated[str | None, typer.Option(help="Toxic name (default TYPE_STREAM).")] = None,
    compose: ComposeFlag = False,
    state_dir: StateDir = None,
) -> None:
    """Add a fault: `fallacies fault add api-1 latency --latency 200 --jitter 50 --ttl 60`.

    Any other `--NAME VALUE` pair becomes a toxic attribute.
    """
    from chaos.mesh.faults import add_toxic, parse_value, set_enabled

    extra = list(ctx.args)
    attributes: dict[str, Any] = {}
    while extra:
        key = extra.pop(0)
        if not key.startswith("--") or not extra:
            raise _fail(f"expected --ATTRIBUTE VALUE pairs, got {key!r}", 2)
        attributes[key[2:].replace("-", "_")] = parse_value(extra.pop(0))
    state = _require_mesh(state_dir, compose)
    if toxic == "down":
        _proxy_call(set_enabled(state, link, False, ttl=ttl or None))
        console.print(f"{link}: down" + (f" for {ttl:g} s" if ttl else ""))
        return
    added = _proxy_call(
        add_toxic(
            state,
            link,
            toxic,
            attributes=attributes,
            stream=stream,
            toxicity=toxicity,
            name=name,
            ttl=ttl or None,
        )
    )
    console.print(f"{link}: {_toxic_summary(added.toxic)}")


@fault_app.command("ls")
def fault_ls(compose: ComposeFlag = False, state_dir: StateDir = None) -> None:
    """List active faults on every link."""
    from chaos.mesh.faults import list_links

    views = _proxy_call(list_links(_require_mesh(state_dir, compose)))
    active = 0
    for view in views:
        if view.enabled is False:
            console.print(f"{view.name}: link down")
            active += 1
        for toxic in view.toxics:
            console.print(f"{view.name}: {_toxic_summary(toxic)}")
            active += 1
    if not active:
        console.print("no active faults")


@fault_app.command("rm")
def fault_rm(
    link: Annotated[str, typer.Argument(help="Link name.")],
    toxic: Annotated[str, typer.Argument(help="Toxic name (see `fallacies fault ls`), or `down`.")],
    compose: ComposeFlag = False,
    state_dir: StateDir = None,
) -> None:
    """Remove one fault (or bring a cut link back up with `down`)."""
    from chaos.mesh.faults import remove_toxic, set_enabled

    state = _require_mesh(state_dir, compose)
    if toxic == "down":
        _proxy_call(set_enabled(state, link, True))
    else:
        _proxy_call(remove_toxic(state, link, toxic))
    console.print(f"{link}: removed {toxic}")


@fault_app.command("reset")
def fault_reset(compose: ComposeFlag = False, state_dir: StateDir = None) -> None:
    """Remove every fault and bring every link back up."""
    from chaos.mesh.faults import reset

    count = _proxy_call(reset(_require_mesh(state_dir, compose)))
    console.print(f"all faults removed ({count} prox{'y' if count == 1 else 'ies'} reset)")


def _experiments() -> list[Experiment]:
    from chaos.experiment import ExperimentError, load_all
    from chaos.experiments import EXPERIMENTS_DIR

    try:
        return load_all(EXPERIMENTS_DIR)
    except ExperimentError as exc:
        raise _fail(str(exc), 2) from None


def _select(experiments: list[Experiment], which: str) -> list[Experiment]:
    if which == "all":
        return experiments
    chosen = [
        e for e in experiments if which in (e.name, str(e.fallacy)) or which == e.title.lower()
    ]
    if not chosen:
        names = ", ".join(e.name for e in experiments)
        raise _fail(f"no experiment {which!r}; choose all, a fallacy number 1-8, or: {names}", 2)
    return chosen


@app.command("list")
def list_experiments() -> None:
    """List the experiments, one per fallacy."""
    from rich.table import Table

    table = Table()
    for column in ("#", "experiment", "fallacy", "faults", "key signal"):
        table.add_column(column)
    for exp in _experiments():
        faults = ", ".join(f"{s.kind}@{s.target}" for s in exp.method)
        table.add_row(str(exp.fallacy), exp.name, exp.fallacy_name, faults, exp.key_signal)
    console.print(table)


@app.command()
def explain(
    fallacy: Annotated[str, typer.Argument(help="A fallacy number (1-8) or experiment name.")],
) -> None:
    """Print an experiment's workshop narration."""
    from rich.markdown import Markdown

    for exp in _select(_experiments(), fallacy):
        n = exp.narration
        console.print(
            Markdown(
                f"# Fallacy {exp.fallacy}: {exp.fallacy_name}\n\n*{exp.title}*\n\n"
                f"## The fallacy\n\n{n.fallacy}\n\n## What we inject\n\n{n.inject}\n\n"
                f"## What to watch\n\n{n.watch}\n\n## The pattern that saves us\n\n"
                f"{n.pattern}\n"
            )
        )


@app.command()
def run(
    which: Annotated[
        str, typer.Argument(help="all, a fallacy number (1-8), or an experiment name.")
    ],
    quick: Annotated[bool, typer.Option(help="Shorter faults (CI, demos).")] = False,
    step: Annotated[bool, typer.Option(help="Pause before each experiment (workshops).")] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Where journals and reports go (default ./fallacies-runs/STAMP)."),
    ] = None,
    disable_defence: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-defence",
            help="Switch one resilient defence off (negative control), e.g. retries. Repeatable.",
        ),
    ] = None,
    base_port: Annotated[
        int, typer.Option(help="Base port if the run starts its own mesh; 0: free ports.")
    ] = 17000,
    seed: Annotated[int | None, typer.Option(help="Seed for the fault proxy's draws.")] = None,
    target: Annotated[
        str, typer.Option(help="embedded, or compose (a mesh started with `up --compose`).")
    ] = "embedded",
    state_dir: StateDir = None,
) -> None:
    """Run experiments against the embedded mesh (started for the run if none is up).

    Exits 1 when any expectation fails, so a team can use it as a resilience test in CI.
    """
    import asyncio
    import datetime as dt

    from chaos.cli.display import LiveDisplay, print_summary

    if target not in ("embedded", "compose"):
        raise _fail(f"unknown target {target!r}; use embedded or compose", 2)
    if target == "compose" and disable_defence:
        raise _fail("--disable-defence needs the embedded mesh (compose configs are fixed)", 2)
    experiments = _select(_experiments(), which)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out if out is not None else Path("fallacies-runs") / stamp
    overrides = None
    if disable_defence:
        overrides = {"defences": {name: False for name in disable_defence}}
    display = LiveDisplay(console)
    try:
        result = asyncio.run(
            _run_experiments(
                experiments,
                quick,
                step,
                out_dir,
                overrides,
                base_port,
                seed,
                _state_dir(state_dir),
                display,
                target,
            )
        )
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: faults reverted, rollbacks run; journals in " + str(out_dir)
        )
        raise typer.Exit(code=130) from None
    except (MeshError, MeshStartError, PortInUseError) as exc:
        raise _fail(str(exc)) from None
    if not result.journals:
        console.print("no experiment ran")
        return
    print_summary(console, result.journals)
    from chaos.report import write_report

    paths = write_report(result.journals, out_dir)
    console.print(f"journals and report: {paths.html}")
    if not result.passed:
        raise typer.Exit(code=1)


async def _run_experiments(
    experiments: list[Experiment],
    quick: bool,
    step: bool,
    out_dir: Path,
    overrides: dict[str, Any] | None,
    base_port: int,
    seed: int | None,
    state_dir: Path,
    display: LiveDisplay,
    target: str = "embedded",
) -> RunResult:
    import asyncio

    from chaos.runner import Runner, RunResult
    from chaos.runner.mesh import merge_overrides, mesh_for_run

    result = RunResult()
    overrides = merge_overrides(*(e.workload for e in experiments), overrides) or None
    mesh: AbstractAsyncContextManager[tuple[MeshState, bool]]
    if target == "compose":
        from chaos.compose import lifecycle as compose_mesh

        if overrides:
            raise MeshError("workload overrides need the embedded mesh (compose configs are fixed)")
        try:
            mesh = _existing(await compose_mesh.require_running(state_dir))
        except compose_mesh.ComposeError as exc:
            raise MeshError(str(exc)) from None
    else:
        mesh = mesh_for_run(state_dir, base_port=base_port, workload_overrides=overrides, seed=seed)
    async with mesh as (state, started):
        if started:
            console.print("started a mesh for this run (stopped at the end)")
        runner = Runner(state, quick=quick, out_dir=out_dir, handler=display, target=target)
        for index, experiment in enumerate(experiments, 1):
            if step:
                display.pause()
                console.rule(f"[bold]{index}/{len(experiments)} · {experiment.title}")
                console.print(experiment.narration.inject)
                answer = await asyncio.to_thread(
                    console.input, "Press Enter to start, s to skip, q to stop: "
                )
                if answer.strip().lower() == "q":
                    break
                if answer.strip().lower() == "s":
                    continue
            display.experiment_started(experiment, index, len(experiments))
            journal = await runner.run_one(experiment)
            result.journals.append(journal)
            display.experiment_finished(journal)
    display.stop()
    return result


@asynccontextmanager
async def _existing(state: MeshState) -> AsyncIterator[tuple[MeshState, bool]]:
    yield state, False


@app.command()
def ablate(
    which: Annotated[
        str, typer.Argument(help="all, a fallacy number (1-8), or an experiment name.")
    ] = "all",
    quick: Annotated[bool, typer.Option(help="Shorter faults (CI, demos).")] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Cells run side by side, each on its own mesh (default: 3 per 2 cores, at most 4)."
        ),
    ] = None,
    base_port: Annotated[
        int,
        typer.Option(
            help="First port of each cell's mesh; 0 picks free ports (needed with --jobs > 1)."
        ),
    ] = 0,
    out: Annotated[
        Path | None,
        typer.Option(
            help="Where the matrix and the cells' journals go (default ./fallacies-runs/STAMP)."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for the fault proxy's draws.")] = None,
) -> None:
    """Prove each defence: run every experiment with all defences on, then once per declared
    defence with only that one off, and write the defence matrix (HTML, Markdown, JSON).

    Exits 1 when a defence does not break the expectation it protects, or when anything
    fails with every defence on.
    """
    import asyncio
    import datetime as dt

    from chaos.cli.display import AblationDisplay, print_matrix
    from chaos.report.matrix import write_matrix
    from chaos.runner.ablation import Ablation, cells_for, default_jobs

    experiments = _select(_experiments(), which)
    undeclared = [e.name for e in experiments if not e.defences]
    if len(undeclared) == len(experiments):
        raise _fail(f"{', '.join(undeclared)} declares no defence: nothing to ablate", 2)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out if out is not None else Path("fallacies-runs") / f"{stamp}-ablate"
    jobs = jobs if jobs is not None else default_jobs()
    display = AblationDisplay(console)
    try:
        ablation = Ablation(
            experiments,
            out_dir=out_dir,
            quick=quick,
            jobs=jobs,
            base_port=base_port,
            seed=seed,
            handler=display,
        )
    except ValueError as exc:
        raise _fail(str(exc), 2) from None
    console.print(
        f"ablating {len(experiments)} experiments: {len(cells_for(experiments))} cells, "
        f"{jobs} at a time"
    )
    try:
        matrix = asyncio.run(ablation.run())
    except KeyboardInterrupt:
        display.stop()
        err_console.print("interrupted: every cell's faults reverted; journals in " + str(out_dir))
        raise typer.Exit(code=130) from None
    finally:
        display.stop()
    print_matrix(console, matrix)
    paths = write_matrix(matrix, out_dir)
    console.print(f"defence matrix: {paths.html} (+ {paths.markdown.name}, {paths.json.name})")
    if not matrix.passed:
        for line in matrix.problems:
            err_console.print(f"not proven: {line}")
        raise typer.Exit(code=1)


@app.command()
def report(
    journal: Annotated[Path, typer.Argument(help="A journal JSON file or a run directory.")],
    out: Annotated[Path | None, typer.Option(help="Output directory (default: beside it).")] = None,
) -> None:
    """Write the HTML, Markdown and JSON report of a run from its journals."""
    from chaos.report import load_journals, write_report

    try:
        journals = load_journals(journal)
    except (OSError, ValueError) as exc:
        raise _fail(str(exc), 2) from None
    target = out if out is not None else (journal if journal.is_dir() else journal.parent)
    paths = write_report(journals, target)
    console.print(f"report: {paths.html} (+ {paths.markdown.name}, {paths.json.name})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
