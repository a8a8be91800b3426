"""What every command group shares: the app, the consoles, the common options, the backend.

The commands hold a ``MeshBackend`` (``backend``) and never ask which one it is: the
``--compose`` or ``--swarm`` flag picks it, once, here.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console

from chaos.mesh.errors import MeshError
from services.common.errors import FallaciesError

if TYPE_CHECKING:
    from chaos.mesh.backend import MeshBackend
    from chaos.mesh.state import MeshState

T = TypeVar("T")

app = typer.Typer(
    name="fallacies",
    help="A chaos playground that makes the eight fallacies of distributed computing visible.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)

StateDir = Annotated[
    Path | None,
    typer.Option(
        help="Where the mesh keeps its state "
        "(default: $FALLACIES_STATE_DIR or ~/.local/state/fallacies)."
    ),
]
ComposeFlag = Annotated[bool, typer.Option(metavar="", help="The Docker Compose mesh.")]
SwarmFlag = Annotated[
    bool, typer.Option(metavar="", help="The Docker Swarm stack (compose/stack.yaml).")
]
ProxyUrl = Annotated[
    str | None,
    typer.Option(
        "--proxy",
        help="Any running fault proxy's API instead of a mesh: the project's "
        "(`fallacies serve proxy`) or a real Toxiproxy, e.g. http://127.0.0.1:8474; "
        "the admin token, if any, from $FALLACIES_ADMIN_TOKEN.",
    ),
]


def state_dir_of(state_dir: Path | None) -> Path:
    from chaos.mesh.state import default_state_dir

    return state_dir if state_dir is not None else default_state_dir()


def backend(compose: bool, state_dir: Path | None, *, swarm: bool = False) -> MeshBackend:
    """The mesh the command acts on: the compose one with ``--compose``, the Swarm stack
    with ``--swarm``, else embedded."""
    directory = state_dir_of(state_dir)
    if compose and swarm:
        raise fail("--compose and --swarm name two meshes; give one", 2)
    if swarm:
        from chaos.swarm.backend import SwarmBackend

        return SwarmBackend(directory)
    if compose:
        from chaos.compose.backend import ComposeBackend

        return ComposeBackend(directory)
    from chaos.embedded.backend import EmbeddedBackend

    return EmbeddedBackend(directory)


def fail(message: str, code: int = 1) -> typer.Exit:
    err_console.print(f"error: {message}")
    return typer.Exit(code=code)


def run(call: Coroutine[Any, Any, T]) -> T:
    """Run one call; an error of ours (a refused fault, a proxy or a mesh that does not
    answer) is one line on stderr and exit 1, not a traceback."""
    try:
        return asyncio.run(call)
    except FallaciesError as exc:
        raise fail(str(exc)) from None


async def target_state(
    compose: bool, state_dir: Path | None, proxy: str | None, *, swarm: bool = False
) -> MeshState:
    """What a fault command acts on: the links of the proxy at ``proxy`` (the admin token
    from the environment), else the running mesh; ``MeshError`` when there is none."""
    if proxy is not None:
        from chaos.mesh.attach import attach
        from services.common.admin_token import token_from_env

        return await attach(proxy, token=token_from_env())
    return await backend(compose, state_dir, swarm=swarm).running()


def running(
    compose: bool, state_dir: Path | None, proxy: str | None = None, *, swarm: bool = False
) -> MeshState:
    """The running mesh (or the links of the proxy at ``proxy``), or exit 1 saying how
    to start one."""
    if proxy is not None and (compose or swarm):
        raise fail("--proxy and a mesh name two targets; give one", 2)
    try:
        return asyncio.run(target_state(compose, state_dir, proxy, swarm=swarm))
    except MeshError as exc:
        raise fail(str(exc)) from None
