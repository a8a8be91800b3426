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


def _links(incomplete: str) -> list[str]:
    """Shell completion of a link: the mesh's (yours are listed by `fallacies links`)."""
    from chaos.mesh.model import LINK_NAMES

    return [name for name in LINK_NAMES if name.startswith(incomplete)]


def _toxics(incomplete: str) -> list[str]:
    from chaos.faults.toxic import TOXICS

    return [name for name in [*TOXICS, "down"] if name.startswith(incomplete)]


@fault_app.command(
    "add", context_settings={"allow_extra_args": True, "ignore_unknown_options": True}
)
def fault_add(
    ctx: typer.Context,
    link: Annotated[
        str, typer.Argument(help="Link name (see `fallacies links`).", autocompletion=_links)
    ],
    toxic: Annotated[
        str,
        typer.Argument(
            help="Toxic type (latency, bandwidth, timeout, loss, http_status, ...), or `down` "
            "to cut the link.",
            autocompletion=_toxics,
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
    if toxic != "down":
        _check_toxic(toxic, attributes)
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
    link: Annotated[str, typer.Argument(help="Link name.", autocompletion=_links)],
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
        view = next((v for v in run(links.views()) if v.name == link), None)
        present = [t.name for t in view.toxics] if view is not None else []
        if view is not None and toxic not in present:
            on_it = ", ".join(present) if present else "none"
            raise fail(f"{link} has no toxic {toxic!r} (toxics on it: {on_it})")
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


def _check_toxic(kind: str, attributes: dict[str, Any]) -> None:
    """Name the right toxic or attribute before asking a proxy, which would only say 400."""
    from chaos.experiment.values import did_you_mean
    from chaos.faults.toxic import TOXICS

    spec = TOXICS.get(kind)
    if spec is None:
        kinds = "\n".join(f"  {name:<13} {_attributes(name)}" for name in TOXICS)
        hint = did_you_mean(kind, TOXICS) or "."
        raise fail(f"unknown toxic type {kind!r}{hint} Toxic types (or down):\n{kinds}", 2)
    for key in attributes:
        if key not in spec.attributes:
            hint = did_you_mean(key, spec.attributes)
            raise fail(
                f"unknown attribute {key!r} for {kind}{hint} ({kind} takes: {_attributes(kind)})",
                2,
            )


def _attributes(kind: str) -> str:
    """``latency ms (required), jitter ms``: a toxic's attributes with their units."""
    from chaos.faults.toxic import TOXICS

    shown = [
        " ".join(filter(None, (name, attr.unit, "(required)" if attr.required else "")))
        for name, attr in TOXICS[kind].attributes.items()
    ]
    return ", ".join(shown) or "no attributes"
