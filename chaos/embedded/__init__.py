"""The embedded mesh: every node as a local process on loopback, with no Docker.

fallacies up ──> Supervisor (supervisor.py) ── control API (chaos.mesh.control, loopback)
                    ├── NodeProcess × N (process.py: python -m chaos.node KIND)
                    └── MeshPlan (plan.py: ports, configs, DNS registration)
fallacies status / down ──> state file (chaos.mesh.state) ──> control API

``EmbeddedBackend`` (backend.py) is the ``MeshBackend`` the CLI and the runner hold.
"""

from chaos.embedded.backend import EmbeddedBackend
from chaos.embedded.plan import build_plan

__all__ = ["EmbeddedBackend", "build_plan"]
