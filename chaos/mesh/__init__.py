"""The mesh layer, shared by every backend: the model, the state, the control API, links.

    model.py     names, links, plans, node status (a leaf)
    state.py     MeshState: typed node and link records, kept in a file
    backend.py   MeshBackend: up, down, status, running, for_run
    control.py   the control API every backend serves, and its client calls
    janitor.py   reverts at their deadline, inside the long-lived control process
    links.py     faults on links, whichever proxy carries them
    errors.py    MeshError and its kin

The backends live beside it: ``chaos.embedded`` (local processes) and
``chaos.compose`` (containers).
"""

from chaos.mesh.backend import MeshBackend, UpOptions
from chaos.mesh.errors import LinkError, MeshError, MeshStartError
from chaos.mesh.model import LINK_NAMES, LINKS, MeshPlan, NodePlan, NodeStatus
from chaos.mesh.state import LinkInfo, MeshState, NodeInfo, default_state_dir

__all__ = [
    "LINKS",
    "LINK_NAMES",
    "LinkError",
    "LinkInfo",
    "MeshBackend",
    "MeshError",
    "MeshPlan",
    "MeshStartError",
    "MeshState",
    "NodeInfo",
    "NodePlan",
    "NodeStatus",
    "UpOptions",
    "default_state_dir",
]
