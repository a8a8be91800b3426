"""``host:port`` strings as Toxiproxy writes them, and binding a listening socket.

Listen addresses with no host (``":8080"``, or an empty string) bind loopback,
not every interface as Toxiproxy does: the playground never exposes a fault
proxy by accident. Ask for ``0.0.0.0:8080`` to listen everywhere (containers).
"""

from __future__ import annotations

import errno
import socket

from chaos.proxy.errors import ListenError, ProxyApiError
from chaos.proxy.stream import NetProtocol
from services.common.address import join

__all__ = ["DEFAULT_HOST", "bind", "join", "split"]

DEFAULT_HOST = "127.0.0.1"

_RECEIVE_BUFFER = 4 * 1024 * 1024
"""Bytes asked for on UDP sockets, so bursts queue in the kernel rather than being dropped."""


def split(address: str, *, default_host: str = DEFAULT_HOST) -> tuple[str, int]:
    """``"host:port"``, ``"[v6]:port"`` or ``":port"`` → (host, port); ValueError in Go's words."""
    if not address:
        return default_host, 0
    host, sep, port_text = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address}: missing port in address")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    elif ":" in host:
        raise ValueError(f"address {address}: too many colons in address")
    try:
        port = int(port_text)
    except ValueError:
        raise ValueError(f"address {address}: invalid port") from None
    if not 0 <= port <= 65535:
        raise ValueError(f"address {address}: invalid port")
    if host == "localhost":
        # Resolved, as Toxiproxy resolves it: compared and reported as 127.0.0.1.
        host = DEFAULT_HOST
    return host or default_host, port


def bind(protocol: NetProtocol, address: str) -> socket.socket:
    """A bound (for TCP, listening) non-blocking socket; ``ProxyApiError`` 500 as in Toxiproxy."""
    kind = protocol.wire
    try:
        host, port = split(address)
    except ValueError as exc:
        raise ProxyApiError(f"listen {kind}: {exc}", 500) from None
    sock_type = socket.SOCK_STREAM if protocol is NetProtocol.TCP else socket.SOCK_DGRAM
    try:
        family, _, _, _, sockaddr = socket.getaddrinfo(
            host, port, type=sock_type, flags=socket.AI_PASSIVE
        )[0]
    except OSError as exc:
        raise ListenError(kind, host, port, _reason(exc)) from None
    sock = socket.socket(family, sock_type)
    try:
        if protocol is NetProtocol.TCP:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        else:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER)
            except OSError:
                pass
        sock.bind(sockaddr)
        if protocol is NetProtocol.TCP:
            sock.listen(1024)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        raise ListenError(kind, host, port, _reason(exc)) from None
    return sock


def _reason(exc: OSError) -> str:
    if exc.errno == errno.EADDRINUSE:
        return "address already in use"
    text = exc.strerror or str(exc)
    return text[:1].lower() + text[1:]
