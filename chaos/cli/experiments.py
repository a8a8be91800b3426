"""``fallacies list | explain | run | ablate | report``: the experiments and what they show."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from chaos.cli._common import ProxyUrl, StateDir, app, backend, console, err_console, fail
from chaos.experiment.values import unknown
from chaos.mesh.errors import MeshError
from services.common.errors import PortInUseError
from services.workload.config import DEFENCES


def _defences(incomplete: str) -> list[str]:
    """Shell completion of ``--disable-defence``."""
    return [name for name in DEFENCES if name.startswith(incomplete)]


def _experiments(incomplete: str) -> list[str]:
    """Shell completion of an experiment: ``all``, its number or its name."""
    from chaos.experiments import EXPERIMENTS_DIR
    from chaos.loader import load_all

    found = load_all(EXPERIMENTS_DIR)
    names = ["all", *(str(e.fallacy) for e in found), *(e.name for e in found)]
    return [name for name in names if name.startswith(incomplete)]


def own_client(spec: str | None) -> tuple[str, str] | None:
    """(spec with an absolute path, the client's label), checked before any mesh starts."""
    if spec is None:
        return None
    from services.workload.own import OwnClientError, load_client, resolve_spec

    try:
        resolved = resolve_spec(spec)
        return resolved, load_client(resolved).name
    except OwnClientError as exc:
        raise fail(str(exc), 2) from None


def check_defences(names: list[str] | None) -> None:
    """Before anything starts: a typo would otherwise fail only once a mesh is up."""
    for name in names or []:
        if name not in DEFENCES:
            raise fail(unknown("defence", name, DEFENCES), 2)


if TYPE_CHECKING:
    from chaos.cli.display import LiveDisplay
    from chaos.experiment import Experiment
    from chaos.loader.links import LinksFile
    from chaos.mesh.backend import MeshBackend
    from chaos.runner import RunResult


def load_experiments() -> list[Experiment]:
    from chaos.experiment import ExperimentError
    from chaos.experiments import EXPERIMENTS_DIR
    from chaos.loader import load_all

    try:
        return load_all(EXPERIMENTS_DIR)
    except ExperimentError as exc:
        raise fail(str(exc), 2) from None


def chosen_experiments(which: str, links: dict[str, str] | None = None) -> list[Experiment]:
    """``which`` as a path to an experiment file of one's own, or one of the shipped ones.

    ``links`` (name -> protocol): the targets of an experiment on one's own services.
    """
    if which.endswith((".yaml", ".yml")) or Path(which).is_file():
        from chaos.experiment import ExperimentError
        from chaos.loader import load_experiment

        try:
            return [load_experiment(which, links=links)]
        except ExperimentError as exc:
            raise fail(str(exc), 2) from None
    return select(load_experiments(), which)


def select(experiments: list[Experiment], which: str) -> list[Experiment]:
    from chaos.experiment import select as matching

    chosen = matching(experiments, which)
    if not chosen:
        names = ", ".join(e.name for e in experiments)
        raise fail(f"no experiment {which!r}; choose all, a fallacy number 1-8, or: {names}", 2)
    return chosen


@app.command("list")
def list_experiments() -> None:
    """List the experiments, one per fallacy."""
    from rich.table import Table

    experiments = load_experiments()
    table = Table()
    table.add_column("#", justify="right")
    widest = max(len(n) for e in experiments for n in (e.name, e.key_signal))
    table.add_column("experiment · key signal", min_width=widest, overflow="fold")
    table.add_column("fallacy", max_width=16, overflow="fold")
    table.add_column("faults (kind@link)", overflow="fold")
    for exp in experiments:
        faults = dict.fromkeys(f"{s.kind}@{s.target}" for s in exp.method)
        table.add_row(
            str(exp.fallacy),
            f"{exp.name}\n[dim]{exp.key_signal}[/]",
            exp.fallacy_name,
            "\n".join(faults),
        )
    console.print(table, highlight=False)


@app.command()
def explain(
    fallacy: Annotated[str, typer.Argument(help="A fallacy number (1-8) or experiment name.")],
) -> None:
    """Print an experiment's workshop narration, and the defences it proves."""
    from rich.markdown import Markdown

    from chaos.experiment.model import NARRATION_LABELS

    for exp in select(load_experiments(), fallacy):
        told = exp.narration.as_dict()
        parts = [f"# Fallacy {exp.fallacy}: {exp.fallacy_name}", f"*{exp.title}*"]
        parts += [f"## {label}\n\n{told[key]}" for key, label in NARRATION_LABELS if told.get(key)]
        if exp.defences:
            lines = []
            for name in exp.defences:
                kept = "; ".join(
                    f"{c.signal} {c.op} {c.threshold:g} {c.phase} the fault"
                    for c in exp.protected(name)
                )
                lines.append(f"- `{name}`: {DEFENCES[name]}; protects {kept}")
            parts.append(
                "## The defences it proves\n\nSwitch one off with `--disable-defence NAME`:"
                "\n\n" + "\n".join(lines)
            )
        console.print(Markdown("\n\n".join(parts) + "\n"), soft_wrap=False)


@app.command()
def run(
    which: Annotated[
        str,
        typer.Argument(
            help="all, a fallacy number (1-8), an experiment name, or an experiment file.",
            autocompletion=_experiments,
        ),
    ],
    quick: Annotated[bool, typer.Option(metavar="", help="Shorter faults (CI, demos).")] = False,
    step: Annotated[
        bool,
        typer.Option(
            metavar="",
            help="A room's pace (workshops): the whole narration before each experiment, "
            "a question to discuss after it; keys Enter (go on), s (skip), q (stop).",
        ),
    ] = False,
    dry_run: Annotated[
        bool,
        typer.Option(
            "--dry-run",
            metavar="",
            help="Print the plan (faults with offsets, TTLs and targets; checks and their "
            "windows) and inject nothing.",
        ),
    ] = False,
    junit: Annotated[
        Path | None, typer.Option(help="Also write the result as JUnit XML, one case per check.")
    ] = None,
    as_json: Annotated[
        bool,
        typer.Option(
            "--json",
            metavar="",
            help="Print the result (or the plan) as JSON on stdout; progress on stderr.",
        ),
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(help="Where journals and reports go (default ./fallacies-runs/STAMP)."),
    ] = None,
    disable_defence: Annotated[
        list[str] | None,
        typer.Option(
            "--disable-defence",
            help="Switch one resilient defence off (negative control); repeatable. One of: "
            + ", ".join(DEFENCES)
            + ".",
            autocompletion=_defences,
        ),
    ] = None,
    client: Annotated[
        str | None,
        typer.Option(
            "--client",
            help="Your own client beside the naive and resilient ones: path/to/file.py:Class "
            "or package.module:Class (template: examples/my_client.py).",
        ),
    ] = None,
    base_port: Annotated[
        int, typer.Option(help="Base port if the run starts its own mesh; 0: free ports.")
    ] = 17000,
    seed: Annotated[int | None, typer.Option(help="Seed for the fault proxy's draws.")] = None,
    target: Annotated[
        str,
        typer.Option(
            help="embedded, compose (a mesh started with `up --compose`) or swarm (`up --swarm`)."
        ),
    ] = "embedded",
    state_dir: StateDir = None,
    links: Annotated[
        Path | None,
        typer.Option(
            "--links",
            help="Your own services: the links file an experiment of your own acts on "
            "(default: the file's `links:`).",
        ),
    ] = None,
    proxy: ProxyUrl = None,
) -> None:
    """Run experiments against the embedded mesh (started for the run if none is up), or an
    experiment file of your own against your own services (--links, --proxy).

    Exits 1 when any expectation fails, so a team can use it as a resilience test in CI
    (2 on a bad experiment file or option).
    """
    import datetime as dt

    from chaos.cli.display import LiveDisplay, print_summary

    if target not in ("embedded", "compose", "swarm"):
        raise fail(f"unknown target {target!r}; use embedded, compose or swarm", 2)
    check_defences(disable_defence)
    yours = own_client(client)
    given = _links_file(links)
    experiments = chosen_experiments(which, _link_table(given, proxy))
    own = [e for e in experiments if e.own]
    if (links is not None or proxy is not None) and len(own) < len(experiments):
        raise fail("--links and --proxy are for an experiment file of your own (see examples/)", 2)
    if yours is not None and target != "embedded":
        raise fail("--client runs in a mesh of its own, which needs the embedded mesh", 2)
    if own and (disable_defence or yours or target != "embedded"):
        option = "--disable-defence" if disable_defence else "--client" if yours else "--target"
        raise fail(
            f"{option} is about the playground's mesh; this experiment is on your own links", 2
        )
    if dry_run:
        _print_plans(experiments, quick, as_json)
        return
    shown = err_console if as_json else console
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    out_dir = out if out is not None else Path("fallacies-runs") / stamp
    overrides: dict[str, Any] = {}
    if disable_defence:
        overrides["defences"] = {name: False for name in disable_defence}
    if yours is not None:
        overrides["own"] = {"spec": yours[0]}
    clients = None if yours is None else ("naive", "resilient", yours[1])
    display = LiveDisplay(shown)
    try:
        if own:
            result = asyncio.run(_run_own(own[0], given, proxy, quick, out_dir, seed, display))
        else:
            mesh = backend(target == "compose", state_dir, swarm=target == "swarm")
            result = asyncio.run(
                _run_experiments(
                    mesh,
                    experiments,
                    quick,
                    step,
                    out_dir,
                    overrides or None,
                    base_port,
                    seed,
                    display,
                    clients,
                )
            )
    except KeyboardInterrupt:
        err_console.print(
            "interrupted: faults reverted, rollbacks run; journals in " + str(out_dir)
        )
        raise typer.Exit(code=130) from None
    except (MeshError, PortInUseError) as exc:
        raise fail(str(exc)) from None
    if not result.journals:
        shown.print("no experiment ran")
        return
    print_summary(shown, result.journals, not_run=len(result.not_run))
    from chaos.report import write_report
    from chaos.report.junit import write_junit

    paths = write_report(result.journals, out_dir)
    shown.print(f"journals and report: {paths.html}")
    if junit is not None:
        shown.print(f"JUnit: {write_junit(result.journals, junit)}")
    if as_json:
        _print_json(_result_json(result, paths.json))
    if not result.passed:
        raise typer.Exit(code=1)


def _links_file(path: Path | None) -> LinksFile | None:
    """``--links FILE``, read once for the load and the run; exit 2 on a bad file."""
    if path is None:
        return None
    from chaos.experiment import ExperimentError
    from chaos.loader.links import load_links

    try:
        return load_links(path)
    except ExperimentError as exc:
        raise fail(str(exc), 2) from None


def _link_table(given: LinksFile | None, proxy: str | None) -> dict[str, str] | None:
    """The targets an experiment of one's own may name: the links file's, else the proxy's."""
    if given is not None:
        return {link.name: link.protocol for link in given.links}
    if proxy is not None:
        from chaos.mesh.attach import attach
        from services.common.admin_token import token_from_env

        try:
            state = asyncio.run(attach(proxy, token=token_from_env()))
        except MeshError as exc:
            raise fail(str(exc)) from None
        return {name: info.protocol for name, info in state.links.items()}
    return None


async def _run_own(
    experiment: Experiment,
    given: LinksFile | None,
    proxy: str | None,
    quick: bool,
    out_dir: Path,
    seed: int | None,
    display: LiveDisplay,
) -> RunResult:
    from chaos.experiment import ExperimentError
    from chaos.loader.links import load_links
    from chaos.runner import RunResult
    from chaos.runner.probing import ProbeRunner
    from chaos.standalone import own_links
    from services.common.admin_token import token_from_env

    # --links FILE, else the file's links: (unless --proxy alone names the links as they are)
    loaded = given
    if loaded is None and proxy is None and experiment.links_file is not None:
        try:
            loaded = load_links(experiment.links_file)
        except ExperimentError as exc:
            raise MeshError(str(exc)) from None
    url = proxy or (loaded.proxy if loaded is not None else None)
    table = loaded.to_populate() if loaded is not None else None
    async with own_links(
        table, proxy_url=url, token=token_from_env(), seed=seed, start_if_down=proxy is None
    ) as (state, started):
        where = "a fault proxy started for this run" if started else f"the proxy at {url}"
        display.console.print(f"links: {', '.join(state.links)} on {where}")
        runner = ProbeRunner(state, quick=quick, out_dir=out_dir, handler=display)
        display.experiment_started(experiment, 1, 1)
        journal = await runner.run_one(experiment)
        display.experiment_finished(journal)
    display.stop()
    return RunResult(journals=[journal])


def _print_json(document: object) -> None:
    import json

    typer.echo(json.dumps(document, indent=2))


def _result_json(result: RunResult, report: Path) -> dict[str, Any]:
    """Each journal without its samples (the report's JSON has them): what CI acts on."""
    experiments = []
    for journal in result.journals:
        data = journal.to_dict()
        for bulky in ("samples", "narration", "signals"):
            data.pop(bulky, None)
        experiments.append(data)
    return {
        "passed": result.passed,
        "report": str(report),
        "experiments": experiments,
        "not_run": result.not_run,
    }


def _print_plans(experiments: list[Experiment], quick: bool, as_json: bool) -> None:
    from rich.table import Table

    from chaos.runner.plan import plan
    from chaos.signals.units import show

    plans = [plan(experiment, quick=quick) for experiment in experiments]
    if as_json:
        _print_json({"dry_run": True, "plans": [p.to_dict() for p in plans]})
        return
    for each in plans:
        console.rule(f"[bold]{each.name}[/] · at least {each.total_s:g} s · nothing injected")
        faults = Table(title="faults", title_justify="left")
        for column in ("at", "for", "TTL", "fault", "target", "attributes"):
            faults.add_column(column)
        for fault in each.faults:
            attributes = " ".join(
                f"{key}={value}" + (f" {fault.units[key]}" if key in fault.units else "")
                for key, value in fault.attributes.items()
            )
            faults.add_row(
                f"{fault.start_s:g} s",
                f"{fault.duration_s:g} s",
                f"{fault.ttl_s:g} s",
                fault.kind,
                fault.target,
                attributes or "-",
            )
        console.print(faults)
        checks = Table(title="checks", title_justify="left")
        own = any(check.client == "-" for check in each.checks)
        columns = ("probe", "calls passing") if own else ("client", "check")
        for column in ("window", "kind", *columns, "what it shows"):
            checks.add_column(column)
        for check in each.checks:
            wanted = f"{check.op} {show(check.threshold, check.unit)}"
            cells = (check.signal, wanted) if own else (check.client, f"{check.signal} {wanted}")
            checks.add_row(
                f"{check.phase} {check.window}", check.kind, *cells, check.description or "-"
            )
        console.print(checks)
        if each.rollbacks:
            console.print("rollbacks: " + ", ".join(each.rollbacks))


async def _run_experiments(
    mesh: MeshBackend,
    experiments: list[Experiment],
    quick: bool,
    step: bool,
    out_dir: Path,
    overrides: dict[str, Any] | None,
    base_port: int,
    seed: int | None,
    display: LiveDisplay,
    clients: tuple[str, ...] | None,
) -> RunResult:
    from chaos.cli.room import Room
    from chaos.runner import Runner, RunResult
    from chaos.runner.overrides import merge_overrides

    result = RunResult()
    overrides = merge_overrides(*(e.workload for e in experiments), overrides) or None
    run_mesh = mesh.for_run(workload_overrides=overrides, seed=seed, base_port=base_port)
    async with run_mesh as (state, started):
        if started:
            display.console.print("started a mesh for this run (stopped at the end)")
        runner = Runner(
            state,
            quick=quick,
            out_dir=out_dir,
            handler=display,
            target=mesh.name,
            clients=clients,
        )
        room = Room(display.console, len(experiments)) if step else None
        for index, experiment in enumerate(experiments, 1):
            rest = [e.name for e in experiments[index:]]
            if room is not None:
                display.pause()
                choice = await room.before(experiment, index)
                if choice == "stop":
                    room.stopped_before([experiment.name, *rest])
                    break
                if choice == "skip":
                    continue
            display.experiment_started(experiment, index, len(experiments))
            journal = await runner.run_one(experiment)
            result.journals.append(journal)
            display.experiment_finished(journal)
            if room is not None and await room.after(experiment, rest) == "stop":
                break
        if room is not None:
            result.not_run = [*room.skipped, *room.left]
            display.console.print(room.summary(len(result.journals)), highlight=False)
    display.stop()
    return result


@app.command()
def ablate(
    which: Annotated[
        str, typer.Argument(help="all, a fallacy number (1-8), or an experiment name.")
    ] = "all",
    quick: Annotated[bool, typer.Option(metavar="", help="Shorter faults (CI, demos).")] = False,
    jobs: Annotated[
        int | None,
        typer.Option(
            help="Cells run side by side, each on its own mesh (default: one per core, at most 4)."
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
    client: Annotated[
        str | None,
        typer.Option(
            "--client",
            help="Your own client, run in each all-on cell: a row of the matrix says what it "
            "held (path/to/file.py:Class or package.module:Class).",
        ),
    ] = None,
    state_dir: StateDir = None,
) -> None:
    """Prove each defence: run every experiment with all defences on, then once per declared
    defence with only that one off, and write the defence matrix (HTML, Markdown, JSON).

    Exits 1 when a defence does not break the expectation it protects, or when anything
    fails with every defence on.
    """
    import datetime as dt

    from chaos.cli.display import AblationDisplay, print_matrix
    from chaos.report.matrix import write_matrix
    from chaos.runner.ablation import Ablation, cells_for, default_jobs

    yours = own_client(client)
    experiments = select(load_experiments(), which)
    undeclared = [e.name for e in experiments if not e.defences]
    if len(undeclared) == len(experiments):
        raise fail(f"{', '.join(undeclared)} declares no defence: nothing to ablate", 2)
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
            backend=backend(False, state_dir),
            client=yours,
        )
    except ValueError as exc:
        raise fail(str(exc), 2) from None
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
        raise fail(str(exc), 2) from None
    target = out if out is not None else (journal if journal.is_dir() else journal.parent)
    paths = write_report(journals, target)
    console.print(f"report: {paths.html} (+ {paths.markdown.name}, {paths.json.name})")
