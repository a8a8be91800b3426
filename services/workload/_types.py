"""Types the workload's modules share, kept in one place so signatures stay short."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, TypeAlias

from services.common.address import join

ClientName: TypeAlias = str
"""``naive``, ``resilient``, or the name of a client of one's own (``own.py``)."""

BUILT_IN: Final = ("naive", "resilient")


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One API replica as DNS published it: SRV target name, then the target's address.

    ``node`` is the first label of the SRV target (``api-1``); it becomes the
    ``replica`` metrics label only through the configured allowlist.
    """

    node: str
    host: str
    port: int

    @property
    def address(self) -> str:
        return join(self.host, self.port)

    def url(self, target: str) -> str:
        return f"http://{self.address}{target}"
