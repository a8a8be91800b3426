"""Port choice for the mesh: a fixed, documented layout by default, ephemeral for tests."""

from __future__ import annotations

import contextlib
import errno
import socket
from collections.abc import Iterator

from services.common.errors import PortInUseError


class PortAllocator:
    """Hands out ports from ``base`` upwards, or free ephemeral ones when ``base`` is 0.

    Ephemeral ports are probed for both TCP and UDP, since DNS needs the pair.
    """

    def __init__(self, base: int, host: str = "127.0.0.1") -> None:
        if not 0 <= base <= 65000:
            raise ValueError(f"base port {base} is out of range 0..65000")
        self.base = base
        self.host = host
        self._next = base
        self._given: set[int] = set()

    def take(self) -> int:
        if self.base == 0:
            return self._ephemeral()
        port = self._next
        self._next += 1
        return port

    def _ephemeral(self) -> int:
        for _ in range(64):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
                udp.bind((self.host, 0))
                port = int(udp.getsockname()[1])
                if port in self._given:
                    continue
                try:
                    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                        tcp.bind((self.host, port))
                except OSError:
                    continue
            self._given.add(port)
            return port
        raise RuntimeError("no free ephemeral port pair found")


def check_free(host: str, ports: dict[int, str]) -> None:
    """Fail fast, naming every taken port and its node, before any process is started."""
    taken: list[tuple[int, str, str]] = []
    for port, owner in sorted(ports.items()):
        for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
            with _bound(host, port, kind) as error:
                if error is not None:
                    reason = (
                        "address already in use"
                        if error.errno == errno.EADDRINUSE
                        else error.strerror or str(error)
                    )
                    taken.append((port, owner, reason))
                    break
            if taken and taken[-1][0] == port:
                break
    if taken:
        port, owner, reason = taken[0]
        if len(taken) > 1:
            others = ", ".join(f"{p} ({o})" for p, o, _ in taken[1:])
            reason += f"; also taken: {others}"
        raise PortInUseError(owner, host, port, reason)


@contextlib.contextmanager
def _bound(host: str, port: int, kind: int) -> Iterator[OSError | None]:
    sock = socket.socket(socket.AF_INET, kind)
    try:
        if kind == socket.SOCK_STREAM:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            yield exc
            return
        yield None
    finally:
        sock.close()
