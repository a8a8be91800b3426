"""Port choice for the mesh: a fixed, documented layout by default, ephemeral for tests."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import random
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

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

    def take(self) -> int:
        if self.base == 0:
            return self._ephemeral()
        port = self._next
        self._next += 1
        return port

    def _ephemeral(self) -> int:
        """A free port *below* the kernel's ephemeral range.

        Ports handed out before the processes start could otherwise be taken in the
        meantime as the source port of some outgoing connection (replication, the
        proxy's upstream), and the node would fail to bind.
        """
        low, high = _free_range()
        for _ in range(256):
            port = _random.randint(low, high)
            if not _RESERVED.claim(port):
                continue
            if all(_is_free(self.host, port, kind) for kind in _KINDS):
                return port
        raise RuntimeError(f"no free port pair found in {low}..{high}")


class _Reservations:
    """Ports handed out lately on this machine, free or not yet bound.

    Several meshes planned at once (cells of an ablation, or ``fallacies up --base-port 0``
    run side by side) would otherwise draw the same free port and race to bind it; the
    loser's node dies at start. The claims live in one file under the temp directory,
    locked while read and written, so every process of this user sees them. A claim
    lapses after ``hold_s``: by then the node that was given the port has bound it.
    """

    def __init__(self, hold_s: float = 120.0, path: Path | None = None) -> None:
        self.hold_s = hold_s
        self.path = path or Path(tempfile.gettempdir()) / f"fallacies-ports-{os.getuid()}.json"
        self._given: dict[int, float] = {}
        self._lock = threading.Lock()

    def claim(self, port: int) -> bool:
        """True if ``port`` was not handed out lately (and is now)."""
        with self._lock:
            try:
                return self._claim_in_file(port)
            except OSError:  # no writable temp dir: this process's own claims still hold
                return self._claim(self._given, port, time.time())

    def _claim_in_file(self, port: int) -> bool:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
        with os.fdopen(fd, "r+", encoding="ascii") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                given = {int(p): float(t) for p, t in json.load(fh).items()}
            except (ValueError, TypeError, AttributeError):  # empty, or torn by a crash
                given = {}
            claimed = self._claim(given, port, time.time())
            fh.seek(0)
            fh.truncate()
            json.dump(given, fh)
            return claimed

    def _claim(self, given: dict[int, float], port: int, now: float) -> bool:
        """Drop lapsed claims from ``given``, then claim ``port`` in it if nobody holds it."""
        for lapsed in [p for p, t in given.items() if now - t >= self.hold_s]:
            del given[lapsed]
        if port in given:
            return False
        given[port] = now
        return True


_RESERVED = _Reservations()


_KINDS = (socket.SOCK_STREAM, socket.SOCK_DGRAM)
_random = random.SystemRandom()


def _free_range() -> tuple[int, int]:
    """Ports from 10000 up to the start of the kernel's ephemeral range."""
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range", encoding="ascii") as fh:
            start = int(fh.read().split()[0])
    except (OSError, ValueError, IndexError):
        start = 32768
    return 10000, max(10000 + 1000, start - 1)


def _is_free(host: str, port: int, kind: int) -> bool:
    with _bound(host, port, kind) as error:
        return error is None


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
