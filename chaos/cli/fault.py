"""``fallacies fault add | ls | rm | reset``: faults on the running mesh's links, by hand."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from chaos.cli._common import ComposeFlag, ProxyUrl, StateDir, app, console, fail, run, running
from chaos.cli.mesh import toxic_summary

fault_app = typer.Typer(
    help="Add, list and remove faults on the running mesh's links.", no_args_is_help=True
)
app.add_typer(fault_app, name="fault")


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
    proxy: ProxyUrl = None,
    state_dir: StateDir = None,
) -> None:
    """Add a fault: `fallacies fault add api-1 latency --latency 200 --jitter 50 --ttl 60`.

    Any other `--NAME VALUE` pair becomes a toxic attribute.
    """
    from chaos.mesh.links import Links, parse_value

    extra = list(ctx.args)
    attributes: dict[str, Any] = {}
    while extra:
        key = extra.pop(0)
        if not key.startswith("--") or not extra:
            raise fail(f"expected --ATTRIBUTE VALUE pairs, got {key!r}", 2)
        attributes[key[2:].replace("-", "_")] = parse_value(extra.pop(0))
    links = Links(running(compose, state_dir, proxy))
    if toxic == "down":
        run(links.change(link, ttl=ttl or None, enabled=False, description=f"re-enable {link}"))
        console.print(f"{link}: down" + (f" for {ttl:g} s" if ttl else ""))
        return
    added = run(
        links.add_toxic(
            link,
            toxic,
            attributes=attributes,
            stream=stream,
            toxicity=toxicity,
            name=name,
            ttl=ttl or None,
        )
    )
    console.print(f"{link}: {toxic_summary(added.toxic)}")


@fault_app.command("ls")
def fault_ls(
    compose: ComposeFlag = False, proxy: ProxyUrl = None, state_dir: StateDir = None
) -> None:
    """List active faults on every link."""
    from chaos.mesh.links import Links

    active = 0
    for view in run(Links(running(compose, state_dir, proxy)).views()):
        if view.enabled is False:
            console.print(f"{view.name}: link down")
            active += 1
        for toxic in view.toxics:
            console.print(f"{view.name}: {toxic_summary(toxic)}")
            active += 1
    if not active:
        console.print("no active faults")


@fault_app.command("rm")
def fault_rm(
    link: Annotated[str, typer.Argument(help="Link name.")],
    toxic: Annotated[str, typer.Argument(help="Toxic name (see `fallacies fault ls`), or `down`.")],
    compose: ComposeFlag = False,
    proxy: ProxyUrl = None,
    state_dir: StateDir = None,
) -> None:
    """Remove one fault (or bring a cut link back up with `down`)."""
    from chaos.mesh.links import Links

    links = Links(running(compose, state_dir, proxy))
    if toxic == "down":
        run(links.restore(link, enabled=True))
    else:
        run(links.remove_toxic(link, toxic))
    console.print(f"{link}: removed {toxic}")


@fault_app.command("reset")
def fault_reset(
    compose: ComposeFlag = False, proxy: ProxyUrl = None, state_dir: StateDir = None
) -> None:
    """Remove every fault and bring every link back up, on its planned address."""
    from chaos.mesh.links import Links

    state = running(compose, state_dir, proxy)
    moved = run(Links(state).reset())
    count = len(state.proxy_apis())
    tail = f"; moved back {', '.join(moved)}" if moved else ""
    console.print(f"all faults removed ({count} prox{'y' if count == 1 else 'ies'} reset){tail}")
