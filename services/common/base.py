"""The one shape every node has, so tests run it in-process and the CLI runs it as a process."""

from __future__ import annotations

import abc
from types import TracebackType
from typing import Self


class Service(abc.ABC):
    """A node of the mesh.

    ``start()`` returns once every socket is bound (so a port of 0 is resolved and
    ``endpoints`` is final); ``stop()`` closes them and is safe to call twice.
    """

    name: str = "service"

    @abc.abstractmethod
    async def start(self) -> None: ...

    @abc.abstractmethod
    async def stop(self) -> None: ...

    @property
    @abc.abstractmethod
    def endpoints(self) -> dict[str, str]:
        """Where it listens, by role (``udp``, ``tcp``, ``admin`` ...), as ``host:port``."""

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()
