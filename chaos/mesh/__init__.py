"""The embedded mesh: every node as a local process on loopback, with no Docker.

fallacies up ──> Supervisor (supervisor.py) ── control API (control.py, loopback)
                    ├── NodeProcess × N (process.py: python -m chaos.node KIND)
                    └── MeshPlan (plan.py: ports, configs, DNS registration)
fallacies status / down ──> state file (state.py) ──> control API
"""

from chaos.mesh.plan import MeshPlan, NodePlan, build_plan
from chaos.mesh.state import MeshState, default_state_dir

__all__ = ["MeshPlan", "MeshState", "NodePlan", "build_plan", "default_state_dir"]
