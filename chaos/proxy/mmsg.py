"""Many datagrams per syscall: recvmmsg(2) and sendmmsg(2) for the UDP relay.

    recvmmsg(fd) ─▶ slot 0 │ slot 1 │ ... │ slot 31 ─▶ sendmmsg(session fd, slots i..j)

Python's socket module has neither call, so they are reached through ctypes
(Linux only). The datagrams stay in the batch's buffers: a run of datagrams
from one client (or from one upstream) goes back out with one ``sendmmsg``
without becoming Python objects. What a toxic must see is copied out with
``payload``. One batch serves a whole event loop: it is filled and emptied
within one readiness callback.
"""

from __future__ import annotations

import ctypes
import errno
import os
import socket
import sys
from array import array
from typing import Any

__all__ = ["AVAILABLE", "Batch", "decode_address", "encode_address"]

SLOTS = 32
"""Datagrams per syscall at most."""
SLOT_SIZE = 65536
"""Bytes per slot: more than the largest UDP payload, so nothing is ever truncated."""
_NAME_SIZE = 128
"""``sizeof(struct sockaddr_storage)``."""


class _Iovec(ctypes.Structure):
    _fields_ = [("iov_base", ctypes.c_void_p), ("iov_len", ctypes.c_size_t)]


class _Msghdr(ctypes.Structure):
    _fields_ = [
        ("msg_name", ctypes.c_void_p),
        ("msg_namelen", ctypes.c_uint32),
        ("msg_iov", ctypes.c_void_p),
        ("msg_iovlen", ctypes.c_size_t),
        ("msg_control", ctypes.c_void_p),
        ("msg_controllen", ctypes.c_size_t),
        ("msg_flags", ctypes.c_int),
    ]


class _Mmsghdr(ctypes.Structure):
    _fields_ = [("msg_hdr", _Msghdr), ("msg_len", ctypes.c_uint)]


def _bind() -> tuple[Any, Any] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        recvmmsg, sendmmsg = libc.recvmmsg, libc.sendmmsg
    except (OSError, AttributeError):
        return None
    recvmmsg.argtypes = [
        ctypes.c_int,
        ctypes.c_void_p,
        ctypes.c_uint,
        ctypes.c_int,
        ctypes.c_void_p,
    ]
    sendmmsg.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_uint, ctypes.c_int]
    recvmmsg.restype = sendmmsg.restype = ctypes.c_int
    return recvmmsg, sendmmsg


_CALLS = _bind()
AVAILABLE = _CALLS is not None
"""False off Linux (or without the calls in libc): the relay then reads one datagram a call."""

_WORD = ctypes.sizeof(ctypes.c_uint32)
_HEADER = ctypes.sizeof(_Mmsghdr)
_HEADER_WORDS = _HEADER // _WORD
_NAMELEN = (_Mmsghdr.msg_hdr.offset + _Msghdr.msg_namelen.offset) // _WORD
_MSG_LEN = _Mmsghdr.msg_len.offset // _WORD
_IOV_WORDS = ctypes.sizeof(_Iovec) // ctypes.sizeof(ctypes.c_ulong)
_IOV_LEN = _Iovec.iov_len.offset // ctypes.sizeof(ctypes.c_ulong)


class Batch:
    """Buffers, names and headers for ``SLOTS`` datagrams, received and sent in place.

    After ``receive``, ``lengths[i]`` is the size of the datagram in slot ``i``.
    """

    def __init__(self) -> None:
        assert _CALLS is not None, "recvmmsg/sendmmsg are not available"
        self._recvmmsg, self._sendmmsg = _CALLS
        self._data = ctypes.create_string_buffer(SLOTS * SLOT_SIZE)
        self._names = ctypes.create_string_buffer(SLOTS * _NAME_SIZE)
        self._dest = ctypes.create_string_buffer(_NAME_SIZE)
        self._in_iov = (_Iovec * SLOTS)()
        self._out_iov = (_Iovec * SLOTS)()
        self._in_named = (_Mmsghdr * SLOTS)()
        self._in_plain = (_Mmsghdr * SLOTS)()
        self._out_to = (_Mmsghdr * SLOTS)()
        self._out_plain = (_Mmsghdr * SLOTS)()
        data, names, dest = map(ctypes.addressof, (self._data, self._names, self._dest))
        for i in range(SLOTS):
            self._in_iov[i].iov_base = self._out_iov[i].iov_base = data + i * SLOT_SIZE
            self._in_iov[i].iov_len = SLOT_SIZE
            for headers, iov in (
                (self._in_named, self._in_iov),
                (self._in_plain, self._in_iov),
                (self._out_to, self._out_iov),
                (self._out_plain, self._out_iov),
            ):
                headers[i].msg_hdr.msg_iov = ctypes.addressof(iov[i])
                headers[i].msg_hdr.msg_iovlen = 1
            self._in_named[i].msg_hdr.msg_name = names + i * _NAME_SIZE
            self._out_to[i].msg_hdr.msg_name = dest
        self._in_named_words = _words(self._in_named)
        self._in_plain_words = _words(self._in_plain)
        self._out_to_words = _words(self._out_to)
        self._out_lengths = memoryview(self._out_iov).cast("B").cast("L")
        self._data_view = memoryview(self._data).cast("B")
        self._names_view = memoryview(self._names).cast("B")
        self._full_names = array("I", [_NAME_SIZE] * SLOTS)
        self._named = False
        self.lengths: list[int] = []

    def receive(self, fd: int, *, named: bool) -> int:
        """Read what waits on ``fd`` (up to ``SLOTS`` datagrams); 0 when nothing does.

        ``named``: keep each sender's address (an unconnected socket: the listener).
        Raises ``OSError`` for a socket error other than "nothing to read".
        """
        if named:
            self._in_named_words[_NAMELEN::_HEADER_WORDS] = self._full_names
            headers, words = self._in_named, self._in_named_words
        else:
            headers, words = self._in_plain, self._in_plain_words
        count = int(self._recvmmsg(fd, headers, SLOTS, socket.MSG_DONTWAIT, None))
        if count < 0:
            code = ctypes.get_errno()
            if code in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EINTR):
                count = 0
            else:
                raise OSError(code, os.strerror(code))
        self._named = named
        end = _MSG_LEN + _HEADER_WORDS * count
        self.lengths = words[_MSG_LEN:end:_HEADER_WORDS].tolist()
        return count

    def source(self, slot: int) -> bytes:
        """The sender's address of a named receive, as the kernel wrote it (a dict key)."""
        size = self._in_named_words[_NAMELEN + _HEADER_WORDS * slot]
        start = slot * _NAME_SIZE
        return self._names_view[start : start + size].tobytes()

    def payload(self, slot: int) -> bytes:
        start = slot * SLOT_SIZE
        return self._data_view[start : start + self.lengths[slot]].tobytes()

    def send(self, fd: int, start: int, stop: int, dest: bytes | None = None) -> int:
        """Send slots ``[start, stop)`` on ``fd`` (to ``dest``, a raw address, if given).

        Returns how many went; the rest are dropped, as a full socket buffer
        drops UDP anywhere.
        """
        lengths = self.lengths[start:stop]
        self._out_lengths[_IOV_WORDS * start + _IOV_LEN : _IOV_WORDS * stop : _IOV_WORDS] = array(
            "L", lengths
        )
        if dest is None:
            headers: Any = self._out_plain
        else:
            headers = self._out_to
            ctypes.memmove(self._dest, dest, len(dest))
            self._out_to_words[
                _NAMELEN + _HEADER_WORDS * start : _HEADER_WORDS * stop : _HEADER_WORDS
            ] = array("I", [len(dest)] * (stop - start))
        sent = start
        while sent < stop:
            count = int(self._sendmmsg(fd, ctypes.byref(headers, _HEADER * sent), stop - sent, 0))
            if count < 0:
                if ctypes.get_errno() == errno.EINTR:
                    continue
                break
            sent += count
        return sent - start


def decode_address(raw: bytes) -> tuple[Any, ...]:
    """A raw ``sockaddr_in`` or ``sockaddr_in6`` as the tuple ``socket.sendto`` takes."""
    family = int.from_bytes(raw[:2], sys.byteorder)
    port = int.from_bytes(raw[2:4], "big")
    if family == socket.AF_INET:
        return socket.inet_ntop(socket.AF_INET, raw[4:8]), port
    flowinfo = int.from_bytes(raw[4:8], "big")
    scope = int.from_bytes(raw[24:28], sys.byteorder)
    return socket.inet_ntop(socket.AF_INET6, raw[8:24]), port, flowinfo, scope


def encode_address(family: int, address: tuple[Any, ...]) -> bytes:
    """The raw ``sockaddr`` of ``address`` (a ``sendto`` tuple), as ``source`` returns them."""
    head = family.to_bytes(2, sys.byteorder) + int(address[1]).to_bytes(2, "big")
    host = socket.inet_pton(family, address[0])
    if family == socket.AF_INET:
        return head + host + bytes(8)
    flowinfo, scope = (address[2], address[3]) if len(address) >= 4 else (0, 0)
    return head + int(flowinfo).to_bytes(4, "big") + host + int(scope).to_bytes(4, sys.byteorder)


def _words(headers: ctypes.Array[_Mmsghdr]) -> memoryview:
    return memoryview(headers).cast("B").cast("I")
