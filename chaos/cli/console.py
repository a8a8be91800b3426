"""``fallacies console``: the live web console of the running mesh, in a browser."""

from __future__ import annotations

import asyncio
import webbrowser
from pathlib import Path
from typing import Annotated

import typer

from chaos.cli._common import (
    ComposeFlag,
    StateDir,
    SwarmFlag,
    app,
    backend,
    console,
    fail,
    state_dir_of,
)
from chaos.console import DEFAULT_PORT
from chaos.mesh.errors import MeshError
from services.common.errors import PortInUseError

ConsolePort = Annotated[
    int, typer.Option(help="Port of the web console (0: a free one).", show_default=True)
]
ConsoleHost = Annotated[
    str, typer.Option(help="Address of the web console (loopback; elsewhere it needs a token).")
]
RunsOut = Annotated[
    Path, typer.Option(help="Where runs started from the console keep journals and reports.")
]


def _show(url: str, open_page: bool, hint: str = "") -> None:
    console.print(f"console: {url}{hint}")
    if not open_page:
        return
    try:
        webbrowser.open(url)
    except webbrowser.Error as exc:
        console.print(f"could not open a browser ({exc}); open {url}")


@app.command("console")
def console_command(
    compose: ComposeFlag = False,
    swarm: SwarmFlag = False,
    host: ConsoleHost = "127.0.0.1",
    port: ConsolePort = DEFAULT_PORT,
    open_page: Annotated[
        bool, typer.Option("--open/--no-open", metavar="", help="Open the page in a browser.")
    ] = True,
    serve: Annotated[
        bool,
        typer.Option(
            "--serve/--detach", metavar="", help="Serve in the foreground, or in the background."
        ),
    ] = True,
    out: RunsOut = Path("fallacies-runs"),
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the mesh to come up.", hidden=True)
    ] = 0.0,
    state_dir: StateDir = None,
) -> None:
    """Open the web console of the running mesh: the one `fallacies up` started, or a
    new one (served until Ctrl-C, or in the background with --detach)."""
    from chaos.console.lifecycle import ConsoleRecord, launch, log_path, serve_until_gone
    from chaos.console.server import ConsoleServer

    directory = state_dir_of(state_dir)
    mesh = backend(compose, state_dir, swarm=swarm)
    existing = ConsoleRecord.read(directory, mesh.name)
    if existing is not None:
        _show(existing.page_url, open_page)
        return
    if not serve:
        record = launch(mesh.name, directory, host=host, port=port, out_root=out)
        if record is None:
            raise fail(f"the console did not start; see {log_path(directory, mesh.name)}")
        _show(record.page_url, open_page)
        return

    def ready(server: ConsoleServer) -> None:
        _show(server.page_url, open_page, "   stop with Ctrl-C")

    try:
        asyncio.run(
            serve_until_gone(
                mesh, directory, host=host, port=port, out_root=out, ready=ready, wait_s=wait
            )
        )
    except (MeshError, PortInUseError) as exc:
        raise fail(str(exc)) from None
