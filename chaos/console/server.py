"""The console as a service: ``async start()`` / ``stop()``, run by the CLI or a test."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from aiohttp import web

from chaos.console import DEFAULT_PORT
from chaos.console.app import create_app
from chaos.console.hub import Hub
from chaos.console.runs import RunControl
from chaos.experiment.model import Experiment
from chaos.mesh.backend import MeshBackend
from chaos.mesh.state import MeshState
from services.common.http import start_site

__all__ = ["DEFAULT_PORT", "ConsoleServer"]


def _experiments() -> list[Experiment]:
    from chaos.experiments import EXPERIMENTS_DIR
    from chaos.loader import load_all

    return load_all(EXPERIMENTS_DIR)


class ConsoleServer:
    """The page, its feed and its actions for the mesh in ``state``, on ``host:port``.

    ``port`` 0 picks a free one (``url`` says which). ``out_root``: where runs started
    from the page keep their journals and reports.
    """

    def __init__(
        self,
        backend: MeshBackend,
        state: MeshState,
        *,
        host: str = "127.0.0.1",
        port: int = DEFAULT_PORT,
        out_root: Path = Path("fallacies-runs"),
        experiments: Sequence[Experiment] | None = None,
        period_s: float = 0.5,
    ) -> None:
        self.host = host
        self.port = port
        self.hub = Hub(state, backend=backend.name, period_s=period_s)
        self.runs = RunControl(
            backend,
            self.hub,
            experiments if experiments is not None else _experiments(),
            out_root=out_root,
        )
        self.hub.extras = self.runs.snapshot
        self.token = state.secrets.get("admin_token") or None
        self._runner: web.AppRunner | None = None

    @property
    def runner(self) -> web.AppRunner | None:
        """The app's runner once started (tests walk its routes)."""
        return self._runner

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}/"

    @property
    def page_url(self) -> str:
        """The URL to open: with the token in the fragment (never sent to a server)."""
        return self.url + (f"#token={self.token}" if self.token else "")

    async def start(self) -> None:
        app = create_app(self.hub, self.runs, host=self.host, token=self.token)
        await self.hub.start()
        try:
            self._runner, self.port = await start_site(app, self.host, self.port, what="console")
        except BaseException:
            await self.hub.stop()
            raise

    async def stop(self) -> None:
        await self.runs.close()
        await self.hub.stop()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
