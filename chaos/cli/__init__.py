"""The ``fallacies`` command: one module per command group, all on one Typer app.

    serve.py        fallacies serve KIND          one node in the foreground
    mesh.py         up, status, down, node, links  a mesh's lifecycle (either backend)
    fault.py        fault add | ls | rm | reset    faults by hand
    console.py      console                        the live web console
    experiments.py  list, explain, run, ablate, report
    display.py      live progress, the summary, the defence matrix in the terminal

This package is the only one that imports Typer and Rich.
"""

from __future__ import annotations

from chaos.cli import console, experiments, fault, mesh, serve
from chaos.cli._common import app

__all__ = ["app", "console", "experiments", "fault", "main", "mesh", "serve"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
