"""The mesh layer's errors: what a user can act on, with a message that says how."""

from __future__ import annotations

from services.common.errors import FallaciesError

__all__ = ["LinkError", "MeshError", "MeshStartError", "UsageError"]


class MeshError(FallaciesError, RuntimeError):
    """Something about a mesh a user can act on: none running, one already up, ..."""


class MeshStartError(MeshError):
    """A node did not come up; the message names it and quotes the end of its log."""


class UsageError(MeshError):
    """Asked for what cannot be: an option the backend does not have, a bad port."""


class LinkError(MeshError):
    """A link change a user can fix: an unknown link, a toxic the proxy refused."""
