"""Mutated DNS and NTP packets by the million: the servers stay up, answer right, and
keep their memory.

    python bench/fuzz.py                           # 1,000,000 datagrams per server, seed 1
    python bench/fuzz.py --packets 200000 --seed 7

Each server runs in a process of its own on 127.0.0.1 ephemeral ports, so the RSS read
from /proc is the server's: ``python -m services.dns`` with RRL off, and an SNTP server
with its rate limit off. Both limiters answer a flood from one source by dropping it,
so with them on this would fuzz the limiter, not the parser.

Every ``--batch`` mutated datagrams (bit flips, truncation, lying counts and label
lengths, compression loops, random bytes, bad EDNS; NTP: every mode and version,
short, long, garbage) are followed by a probe: a valid query whose answer must match
the one given before the fuzz within ``--deadline`` seconds. At most ``--depth``
probes are in flight, which bounds the datagrams in flight (and keeps the kernel from
dropping what the server never saw); the probes are the liveness check. Meanwhile DNS
over TCP takes slowloris connections, lying length prefixes, pipelined mutated frames
and more connections than one client may hold.

Fails (exit 1) when a probe goes unanswered or is answered wrong, a server logs an
error or exits, RSS grows more than ``--rss-growth`` % from the end of the warm-up
(the first tenth of the packets) to the end or passes ``--rss-cap`` MB, the malformed
counters did not grow, or a TCP abuse was not closed as the server promises.
Loopback only; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Protocol

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import dns.message  # noqa: E402
import dns.rcode  # noqa: E402
import dns.rdatatype  # noqa: E402

if TYPE_CHECKING:  # the NTP server runs from this file: keep chaos out of its RSS
    from chaos.signals.base import SeriesKey

    Samples = dict[SeriesKey, float]

NTP_EPOCH_OFFSET = 2_208_988_800
"""Seconds from 1900 (NTP's era 0) to 1970 (Unix)."""

SLOWLORIS = 8
"""TCP connections that trickle a byte a second and never finish a query."""
TCP_IDLE_TIMEOUT_S = 10.0
"""What ``python -m services.dns`` closes a connection without a whole query after."""
PIPELINED_FRAMES = 5_000
OVER_CAP_ATTEMPTS = 80
"""More than ``tcp_max_per_client`` (64): some must be refused."""


# -- processes, /proc, /metrics -----------------------------------------------------


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def scrape(admin: str) -> Samples:
    """The server's /metrics, read with the parser the runner's sampler uses (imported
    here, for the reason above)."""
    from chaos.signals.sampler import parse_exposition

    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    with direct.open(f"{admin}/metrics", timeout=10) as response:
        return parse_exposition(response.read().decode(), node="fuzzed")


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of ``name``'s series whose labels include every ``key=value`` given."""
    return sum(
        value
        for (sample, pairs), value in samples.items()
        if sample == name and labels.items() <= dict(pairs).items()
    )


def by_label(samples: Samples, name: str, label: str, **labels: str) -> dict[str, float]:
    """``name``'s series summed by one label's value."""
    out: dict[str, float] = {}
    for (sample, pairs), value in samples.items():
        found = dict(pairs)
        if sample == name and label in found and labels.items() <= found.items():
            out[found[label]] = out.get(found[label], 0.0) + value
    return out


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    udp: tuple[str, int]
    admin: str
    stderr: IO[str]

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> list[str]:
        """Stop it; what it wrote to stderr that looks like a fault, and a bad exit."""
        if self.alive():
            self.process.terminate()
        try:
            code = self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            code = self.process.wait()
        self.stderr.seek(0)
        log = self.stderr.read()
        self.stderr.close()
        problems = [
            f"{self.name} logged: {line.strip()}"
            for line in log.splitlines()
            if "Traceback" in line or "Exception" in line or line.startswith(("ERROR", "CRITICAL"))
        ][:5]
        if code != 0:
            problems.append(f"{self.name} exited with {code}")
        return problems


def start(name: str, command: list[str]) -> Server:
    """A server subprocess that prints ``{"endpoints": ...}`` once bound."""
    stderr = tempfile.TemporaryFile("w+")
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=stderr,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line:
        stderr.seek(0)
        raise SystemExit(f"{name} exited before announcing its ports:\n{stderr.read()}")
    endpoints = json.loads(line)["endpoints"]
    host, port = endpoints["udp"].rsplit(":", 1)
    return Server(name, process, (host, int(port)), endpoints["admin"], stderr)


def serve_ntp() -> None:
    """The NTP server process (``--serve-ntp``): rate limit off, endpoints as JSON."""
    import logging

    from services.common.lifecycle import run_announcing_json
    from services.ntp import NTPServer

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(run_announcing_json(NTPServer(name="ntp-fuzz", rate_limit=0)))


# -- what is sent -------------------------------------------------------------------


class Target(Protocol):
    """One server's fuzz: mutated packets, and probes with a known right answer."""

    def mutated(self) -> tuple[str, bytes]:
        """(mutation kind, datagram)."""
        ...

    def probe(self, n: int) -> tuple[int, bytes]:
        """(key its answer carries, datagram) for the ``n``-th probe."""
        ...

    def key_of(self, reply: bytes) -> int | None: ...

    def wrong(self, reply: bytes) -> str | None:
        """None when ``reply`` is the right answer to a probe, else what is wrong."""
        ...


DNS_BASE = [
    ("api-1.mesh.test.", "A"),
    ("api-2.mesh.test.", "AAAA"),
    ("ns.mesh.test.", "A"),
    ("_api._tcp.mesh.test.", "SRV"),
    ("mesh.test.", "SOA"),
    ("mesh.test.", "NS"),
    ("mesh.test.", "ANY"),
    ("big.mesh.test.", "TXT"),
    ("missing.mesh.test.", "A"),
    ("example.com.", "A"),
]
"""Every kind of answer the zone gives, mutated below."""
DNS_PROBE = ("api-1.mesh.test.", "A")


def dns_wire(name: str, rdtype: str, *, qid: int = 0, payload: int | None = None) -> bytes:
    query = dns.message.make_query(name, rdtype, use_edns=payload is not None, payload=payload or 0)
    query.id = qid
    return query.to_wire()


class DNSFuzz:
    """Mutations of valid queries, weighted towards the parser's corners."""

    def __init__(self, rng: random.Random, expected: frozenset[str]) -> None:
        self.rng = rng
        self.expected = expected
        self.base = [
            dns_wire(name, rdtype, payload=payload)
            for name, rdtype in DNS_BASE
            for payload in (None, 512, 1232, 4096)
        ]
        self.plain = [dns_wire(name, rdtype) for name, rdtype in DNS_BASE]
        mutations: list[tuple[Callable[[bytes], bytes], int]] = [
            (self.valid, 5),
            (self.flip, 20),
            (self.truncate, 10),
            (self.counts, 10),
            (self.label_length, 8),
            (self.pointer, 10),
            (self.random_bytes, 10),
            (self.flags, 7),
            (self.edns, 10),
            (self.tail, 5),
            (self.long_name, 5),
        ]
        self.mutations = [m for m, _ in mutations]
        self.weights = [w for _, w in mutations]

    def mutated(self) -> tuple[str, bytes]:
        rng = self.rng
        mutation = rng.choices(self.mutations, self.weights)[0]
        wire = mutation(rng.choice(self.base))
        if len(wire) >= 2 and mutation is not self.random_bytes:
            wire = rng.getrandbits(16).to_bytes(2, "big") + wire[2:]
        return mutation.__name__, wire

    def probe(self, n: int) -> tuple[int, bytes]:
        qid = n & 0xFFFF
        return qid, dns_wire(*DNS_PROBE, qid=qid)

    def key_of(self, reply: bytes) -> int | None:
        return int.from_bytes(reply[:2], "big") if len(reply) >= 12 else None

    def wrong(self, reply: bytes) -> str | None:
        return dns_wrong(reply, self.expected)

    # The mutations: each takes a valid query and returns what is sent.

    def valid(self, wire: bytes) -> bytes:
        return wire

    def flip(self, wire: bytes) -> bytes:
        data = bytearray(wire)
        for _ in range(self.rng.randint(1, 8)):
            bit = self.rng.randrange(len(data) * 8)
            data[bit >> 3] ^= 1 << (bit & 7)
        return bytes(data)

    def truncate(self, wire: bytes) -> bytes:
        return wire[: self.rng.randrange(len(wire))]

    def counts(self, wire: bytes) -> bytes:
        rng = self.rng
        data = bytearray(wire)
        values = [rng.choice((0, 1, 2, 3, 255, 0xFFFF, rng.getrandbits(16))) for _ in range(4)]
        struct.pack_into("!4H", data, 4, *values)
        return bytes(data)

    def label_length(self, wire: bytes) -> bytes:
        data = bytearray(wire)
        end = wire.index(0, 12)  # the root label ends the question's name
        data[self.rng.randint(12, end)] = self.rng.randrange(256)
        return bytes(data)

    def pointer(self, wire: bytes) -> bytes:
        """Compression pointers in the question: loops, into the header, past the end."""
        rng = self.rng
        at = rng.choice((12, 13, 14, 0, 2, 4, 6, 10, 0x3FFF, rng.getrandbits(14)))
        names = (
            struct.pack("!H", 0xC000 | at),  # straight to ``at``; 12 is itself
            b"\x01a" + struct.pack("!H", 0xC000 | 12),  # a label, then back to itself
            b"\x01a\xc0\x10\x01b\xc0\x0c",  # two pointers chasing each other
            b"".join(b"\x01x\xc0" + bytes([max(12, 8 + 4 * i)]) for i in range(40)),  # a chain
            struct.pack("!H", 0x8000 | at) + b"\x00",  # reserved label type 10
            struct.pack("!H", 0x4000 | at) + b"\x00",  # extended label type 01
        )
        return wire[:12] + rng.choice(names) + b"\x00\x01\x00\x01"

    def random_bytes(self, wire: bytes) -> bytes:
        return self.rng.randbytes(self.rng.randrange(0, 700))

    def flags(self, wire: bytes) -> bytes:
        return wire[:2] + self.rng.randbytes(2) + wire[4:]

    def edns(self, wire: bytes) -> bytes:
        """An OPT record with random payload, version, flags, and option lengths that lie."""
        rng = self.rng
        plain = rng.choice(self.plain)
        options = b"".join(
            struct.pack("!HH", rng.choice((3, 8, 10, 12, 15, rng.getrandbits(16))), size)
            + rng.randbytes(rng.choice((size, rng.randrange(0, 40))))
            for size in (rng.randrange(0, 40) for _ in range(rng.randrange(0, 4)))
        )
        rdlen = rng.choice((len(options), rng.getrandbits(16)))
        opt = b"\x00" + struct.pack(
            "!HHBBHH",
            41,
            rng.choice((0, 1, 511, 512, 1232, 4096, 0xFFFF)),
            rng.getrandbits(8) if rng.random() < 0.3 else 0,
            rng.choice((0, 0, 1, 255)),
            rng.getrandbits(16),
            rdlen,
        )
        arcount = rng.choice((1, 1, 1, 2, 0))
        return plain[:10] + struct.pack("!H", arcount) + plain[12:] + opt + options

    def tail(self, wire: bytes) -> bytes:
        return wire + self.rng.randbytes(self.rng.randrange(1, 200))

    def long_name(self, wire: bytes) -> bytes:
        """Names at and past the 255-byte limit, labels at and past 63 bytes."""
        rng = self.rng
        label = rng.choice((63, 64, 1))
        count = rng.randrange(1, 140 // max(1, label // 2))
        name = b"".join(bytes([label]) + b"a" * label for _ in range(count)) + b"\x00"
        return wire[:12] + name + b"\x00\x01\x00\x01"


def dns_wrong(reply: bytes, expected: frozenset[str]) -> str | None:
    try:
        message = dns.message.from_wire(reply)
    except Exception as exc:
        return f"unparsable answer: {exc}"
    if message.rcode() != dns.rcode.NOERROR:
        return f"rcode {dns.rcode.to_text(message.rcode())}"
    name, rdtype = DNS_PROBE
    question = [(str(q.name), dns.rdatatype.to_text(q.rdtype)) for q in message.question]
    if question != [(name, rdtype)]:
        return f"question {question}"
    got = frozenset(r.to_text() for rrset in message.answer for r in rrset)
    if got != expected:
        return f"answer {sorted(got)}, expected {sorted(expected)}"
    return None


class NTPFuzz:
    """Every mode and version, short and long datagrams, garbage, flipped bits."""

    PROBE_MARK = 0x5EED << 48

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        mutations: list[tuple[Callable[[], bytes], int]] = [
            (self.valid, 15),
            (self.mode, 20),
            (self.version, 10),
            (self.control, 5),
            (self.monlist, 5),
            (self.short, 15),
            (self.long, 10),
            (self.garbage, 10),
            (self.flip, 10),
        ]
        self.mutations = [m for m, _ in mutations]
        self.weights = [w for _, w in mutations]

    def mutated(self) -> tuple[str, bytes]:
        mutation = self.rng.choices(self.mutations, self.weights)[0]
        return mutation.__name__, mutation()

    def probe(self, n: int) -> tuple[int, bytes]:
        key = self.PROBE_MARK | n
        return key, bytes([0x23]) + bytes(39) + key.to_bytes(8, "big")  # v4, mode 3

    def key_of(self, reply: bytes) -> int | None:
        return int.from_bytes(reply[24:32], "big") if len(reply) >= 32 else None

    def wrong(self, reply: bytes) -> str | None:
        if len(reply) != 48:
            return f"{len(reply)} bytes"
        leap, version, mode = reply[0] >> 6, (reply[0] >> 3) & 7, reply[0] & 7
        stratum = reply[1]
        if (version, mode) != (4, 4) or leap == 3 or not 1 <= stratum <= 15:
            return f"leap {leap} version {version} mode {mode} stratum {stratum}"
        transmit = int.from_bytes(reply[40:48], "big") / 2**32 - NTP_EPOCH_OFFSET
        if abs(transmit - time.time()) > 5:
            return f"time off by {transmit - time.time():+.1f} s"
        return None

    def header(self, first: int) -> bytes:
        return bytes([first]) + self.rng.randbytes(47)

    def valid(self) -> bytes:
        return self.header((self.rng.randrange(4) << 6) | (self.rng.randint(1, 4) << 3) | 3)

    def mode(self) -> bytes:
        mode = self.rng.choice((0, 1, 2, 4, 5, 6, 7))
        return self.header((self.rng.randrange(256) & 0xF8) | mode)

    def version(self) -> bytes:
        return self.header((self.rng.choice((0, 5, 6, 7)) << 3) | 3)

    def control(self) -> bytes:
        """Mode 6 (ntpq): a 12-byte header, padded or not."""
        size = self.rng.choice((12, 48, 60))
        return bytes([0x16, self.rng.randrange(32)]) + self.rng.randbytes(size - 2)

    def monlist(self) -> bytes:
        """Mode 7 MON_GETLIST_1, the classic amplifier request, short and padded."""
        request = b"\x17\x00\x03\x2a" + bytes(4)
        return request + bytes(self.rng.choice((0, 40, 184)))

    def short(self) -> bytes:
        return self.rng.randbytes(self.rng.randrange(0, 48))

    def long(self) -> bytes:
        """A request with extension fields or a MAC after the header."""
        extra = self.rng.choice((20, 24, 52, 68, 400))
        return self.valid() + self.rng.randbytes(extra)

    def garbage(self) -> bytes:
        return self.rng.randbytes(self.rng.randrange(48, 700))

    def flip(self) -> bytes:
        data = bytearray(self.valid())
        for _ in range(self.rng.randint(1, 8)):
            bit = self.rng.randrange(len(data) * 8)
            data[bit >> 3] ^= 1 << (bit & 7)
        return bytes(data)


# -- the UDP flood with probes ---------------------------------------------------------


@dataclass
class Probe:
    sent_at: float
    wire: bytes
    resent: bool = False
    last_wrong: str | None = None


@dataclass
class Flood:
    """What one server took: counts, probe round trips, RSS along the way."""

    fuzzed: int = 0
    """Mutated datagrams sent."""
    sent: int = 0
    """Every datagram sent: mutated ones, probes, probes sent again."""
    replies: int = 0
    probes: int = 0
    answered: int = 0
    resent: int = 0
    worst_rtt_s: float = 0.0
    elapsed_s: float = 0.0
    rss: list[tuple[int, float]] = field(default_factory=list)
    """(datagrams sent, MB)."""
    kinds: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.sent / self.elapsed_s if self.elapsed_s else 0.0


class ServerGone(Exception):
    pass


def flood(
    target: Target, server: Server, packets: int, *, batch: int, depth: int, deadline: float
) -> Flood:
    """Send ``packets`` mutated datagrams, a probe after every ``batch``, at most ``depth``
    probes unanswered; each must be answered right within ``deadline`` seconds."""
    result = Flood()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.connect(server.udp)
    outstanding: dict[int, Probe] = {}
    resend_after = min(1.0, deadline / 3)
    sample_every = max(batch, packets // 20)
    next_sample = 0

    def send(data: bytes) -> None:
        try:
            sock.send(data)
        except ConnectionRefusedError:  # ICMP port unreachable: nobody listens any more
            if not server.alive():
                raise ServerGone from None
        result.sent += 1

    def receive(timeout: float) -> None:
        sock.settimeout(timeout)
        try:
            while True:
                reply = sock.recv(65535)
                result.replies += 1
                key = target.key_of(reply)
                probe = outstanding.get(key) if key is not None else None
                if key is not None and probe is not None:
                    problem = target.wrong(reply)
                    if problem is None:
                        del outstanding[key]
                        result.answered += 1
                        rtt = time.monotonic() - probe.sent_at
                        result.worst_rtt_s = max(result.worst_rtt_s, rtt)
                    else:
                        probe.last_wrong = problem  # or a fuzz reply sharing its id
                sock.settimeout(0)
        except (TimeoutError, BlockingIOError):
            return
        except ConnectionRefusedError:
            if not server.alive():
                raise ServerGone from None

    def wait_for_oldest() -> None:
        key, probe = next(iter(outstanding.items()))
        age = time.monotonic() - probe.sent_at
        if age > deadline:
            del outstanding[key]
            why = f": last answer {probe.last_wrong}" if probe.last_wrong else ""
            result.problems.append(f"probe {key:#x} not answered right in {deadline:g} s{why}")
            if not server.alive():
                raise ServerGone
            return
        if age > resend_after and not probe.resent:
            probe.resent = True
            result.resent += 1
            send(probe.wire)
        receive(min(0.05, deadline - age))

    started = time.monotonic()
    try:
        while result.fuzzed < packets or outstanding:
            if result.fuzzed < packets:
                for _ in range(min(batch, packets - result.fuzzed)):
                    kind, data = target.mutated()
                    result.kinds[kind] += 1
                    result.fuzzed += 1
                    send(data)
                key, wire = target.probe(result.probes)
                result.probes += 1
                outstanding[key] = Probe(time.monotonic(), wire)
                send(wire)
                receive(0)
            while outstanding and (len(outstanding) >= depth or result.fuzzed >= packets):
                wait_for_oldest()
            if result.fuzzed >= next_sample:
                result.rss.append((result.fuzzed, rss_mb(server.process.pid)))
                next_sample += sample_every
            if len(result.problems) >= 10:
                result.problems.append("stopped: ten probes failed")
                break
    except ServerGone:
        result.problems.append(f"{server.name} exited with {server.process.poll()} mid-fuzz")
    result.elapsed_s = time.monotonic() - started
    receive(0.2)  # what is still on its way
    sock.close()
    return result


def ask_udp(server: Server, wire: bytes, timeout: float = 5.0) -> bytes | None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect(server.udp)
        sock.send(wire)
        try:
            return sock.recv(65535)
        except (TimeoutError, ConnectionRefusedError):
            return None


# -- DNS over TCP abuse ------------------------------------------------------------------


def frame(wire: bytes) -> bytes:
    return len(wire).to_bytes(2, "big") + wire


def read_frame(sock: socket.socket) -> bytes | None:
    head = _read_exactly(sock, 2)
    if head is None:
        return None
    return _read_exactly(sock, int.from_bytes(head, "big"))


def _read_exactly(sock: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def ask_tcp(address: tuple[str, int], wire: bytes, timeout: float = 5.0) -> bytes | None:
    try:
        with socket.create_connection(address, timeout=timeout) as sock:
            sock.sendall(frame(wire))
            return read_frame(sock)
    except OSError:
        return None


@dataclass
class TCPAbuse:
    """What the server did with each abuse; ``problems`` when not what it promises."""

    idle_closed: int = 0
    worst_idle_close_s: float = 0.0
    pipelined: int = 0
    pipelined_answers: int = 0
    zero_frames: int = 0
    refused_over_cap: int = 0
    problems: list[str] = field(default_factory=list)


def tcp_abuse(address: tuple[str, int], rng: random.Random, expected: frozenset[str]) -> TCPAbuse:
    """Slowloris and lying prefixes (closed at the idle timeout) alongside pipelined
    mutated frames and zero-length frames (answered in order); then one connection too
    many (refused at once)."""
    result = TCPAbuse()
    lying = threading.Thread(target=_slow_connections, args=(address, result), daemon=True)
    lying.start()
    _pipelined(address, rng, expected, result)
    lying.join(TCP_IDLE_TIMEOUT_S * 4)
    _over_cap(address, result)
    return result


def _slow_connections(address: tuple[str, int], result: TCPAbuse) -> None:
    query = dns_wire(*DNS_PROBE, qid=7)
    openers = [b"\x01\x00"] * SLOWLORIS  # promises 256 bytes, then one a second
    openers += [b"\xff\xff" + query, b"\x7f\xff" + query[:5]]  # prefixes that promise more
    selector = selectors.DefaultSelector()
    opened = time.monotonic()
    for opener in openers:
        sock = socket.create_connection(address, timeout=5)
        sock.sendall(opener)
        sock.setblocking(False)
        selector.register(sock, selectors.EVENT_READ, sock)
    limit = opened + TCP_IDLE_TIMEOUT_S * 3
    next_trickle = opened + 1.0
    while selector.get_map() and time.monotonic() < limit:
        for key, _ in selector.select(timeout=0.2):
            sock = key.data
            try:
                closed = sock.recv(4096) == b""
            except ConnectionError:
                closed = True
            if closed:
                result.idle_closed += 1
                waited = time.monotonic() - opened
                result.worst_idle_close_s = max(result.worst_idle_close_s, waited)
                selector.unregister(sock)
                sock.close()
        if time.monotonic() >= next_trickle:
            next_trickle += 1.0
            for key in list(selector.get_map().values()):
                try:
                    key.data.send(b"x")
                except OSError:
                    pass  # closed under us: the read side counts it
    for key in list(selector.get_map().values()):
        result.problems.append(f"a slow TCP connection still open after {limit - opened:.0f} s")
        key.data.close()
    selector.close()


def _pipelined(
    address: tuple[str, int], rng: random.Random, expected: frozenset[str], result: TCPAbuse
) -> None:
    fuzz = DNSFuzz(rng, expected)
    frames = [frame(fuzz.mutated()[1]) for _ in range(PIPELINED_FRAMES)]
    frames += [b"\x00\x00"] * 1000  # empty messages: counted too_short, framing intact
    result.zero_frames = 1000
    last = dns_wire(*DNS_PROBE, qid=0xABCD)
    payload = b"".join(frames) + frame(last)
    result.pipelined = PIPELINED_FRAMES
    with socket.create_connection(address, timeout=20) as sock:
        writer = threading.Thread(target=sock.sendall, args=(payload,), daemon=True)
        writer.start()
        try:
            while (answer := read_frame(sock)) is not None:
                result.pipelined_answers += 1
                if answer[:2] == b"\xab\xcd" and dns_wrong(answer, expected) is None:
                    break
            else:
                result.problems.append("pipelined frames: connection closed before the last")
        except TimeoutError:
            result.problems.append("pipelined frames: the last query unanswered in 20 s")
        writer.join(5)


def _over_cap(address: tuple[str, int], result: TCPAbuse) -> None:
    """The server closes the connections past its cap at once; the others it keeps (until
    the idle timeout, hence a deadline well within it)."""
    must_refuse = OVER_CAP_ATTEMPTS - 64
    selector = selectors.DefaultSelector()
    try:
        for _ in range(OVER_CAP_ATTEMPTS):
            sock = socket.create_connection(address, timeout=5)
            sock.setblocking(False)
            selector.register(sock, selectors.EVENT_READ, sock)
        deadline = time.monotonic() + TCP_IDLE_TIMEOUT_S / 2
        while result.refused_over_cap < must_refuse and time.monotonic() < deadline:
            for key, _ in selector.select(timeout=0.1):
                sock = key.data
                try:
                    refused = sock.recv(1) == b""
                except ConnectionError:
                    refused = True
                if refused:
                    result.refused_over_cap += 1
                    selector.unregister(sock)
                    sock.close()
    finally:
        for key in list(selector.get_map().values()):
            key.data.close()
        selector.close()
    if result.refused_over_cap < must_refuse:
        result.problems.append(
            f"{OVER_CAP_ATTEMPTS} connections from one IP: only {result.refused_over_cap} refused"
        )


# -- the run ---------------------------------------------------------------------------


@dataclass
class Verdict:
    name: str
    flood: Flood
    rss_start: float
    rss_end: float
    before: Samples
    after: Samples
    good_after: bool
    problems: list[str] = field(default_factory=list)

    @property
    def rss_warm(self) -> float:
        """RSS once a tenth of the datagrams went through (the baseline for growth)."""
        warm = [mb for sent, mb in self.flood.rss if sent >= self.flood.fuzzed // 10]
        return warm[0] if warm else self.rss_start

    @property
    def growth(self) -> float:
        return 100 * (self.rss_end / self.rss_warm - 1) if self.rss_warm else 0.0

    @property
    def rss_peak(self) -> float:
        return max([self.rss_end, *(mb for _, mb in self.flood.rss)])


def judge(verdict: Verdict, args: argparse.Namespace, malformed: str, seen: float) -> None:
    problems = verdict.problems
    problems += verdict.flood.problems
    if verdict.flood.answered != verdict.flood.probes:
        problems.append(f"{verdict.flood.probes - verdict.flood.answered} probes unanswered")
    if not verdict.good_after:
        problems.append("no right answer after the fuzz")
    if verdict.growth > args.rss_growth:
        bound = f"bound {args.rss_growth:g} %"
        problems.append(f"RSS grew {verdict.growth:.1f} % after warm-up ({bound})")
    if verdict.rss_peak > args.rss_cap:
        problems.append(f"RSS peaked at {verdict.rss_peak:.1f} MB (cap {args.rss_cap} MB)")
    grown = total(verdict.after, malformed) - total(verdict.before, malformed)
    if grown <= 0:
        problems.append(f"{malformed} did not grow")
    if seen < 0.5 * verdict.flood.sent:
        problems.append(f"the server saw only {seen:,.0f} of {verdict.flood.sent:,} datagrams")


def run_dns(args: argparse.Namespace) -> tuple[Verdict, TCPAbuse]:
    server = start(
        "dns",
        [sys.executable, "-m", "services.dns", "--port", "0", "--admin-port", "0"]
        + ["--rrl-rate", "0"],
    )
    problems: list[str] = []
    try:
        first = ask_udp(server, dns_wire(*DNS_PROBE, qid=1))
        assert first is not None, "the DNS server does not answer"
        expected = frozenset(r.to_text() for s in dns.message.from_wire(first).answer for r in s)
        rss_start = rss_mb(server.process.pid)
        before = scrape(server.admin)
        abuse_result: list[TCPAbuse] = []
        abuse = threading.Thread(
            target=lambda: abuse_result.append(
                tcp_abuse(server.udp, random.Random(args.seed + 2), expected)
            ),
            daemon=True,
        )
        abuse.start()
        fuzz = DNSFuzz(random.Random(args.seed), expected)
        result = flood(
            fuzz, server, args.packets, batch=args.batch, depth=args.depth, deadline=args.deadline
        )
        abuse.join(TCP_IDLE_TIMEOUT_S * 6)
        tcp = abuse_result[0] if abuse_result else TCPAbuse(problems=["the TCP abuse hung"])
        udp_after = ask_udp(server, dns_wire(*DNS_PROBE, qid=2))
        tcp_after = ask_tcp(server.udp, dns_wire(*DNS_PROBE, qid=3))
        good = all(a is not None and dns_wrong(a, expected) is None for a in (udp_after, tcp_after))
        after = scrape(server.admin)
        rss_end = rss_mb(server.process.pid)
    finally:
        problems += server.stop()
    verdict = Verdict("dns", result, rss_start, rss_end, before, after, good, problems)
    closed = "fallacies_dns_tcp_closed_connections_total"
    idle = total(after, closed, reason="idle") - total(before, closed, reason="idle")
    cap = total(after, closed, reason="over_cap") - total(before, closed, reason="over_cap")
    if idle < SLOWLORIS:
        tcp.problems.append(f"only {idle:.0f} idle TCP closes counted")
    if cap < 1:
        tcp.problems.append("no over_cap TCP close counted")
    return verdict, tcp


def run_ntp(args: argparse.Namespace) -> Verdict:
    server = start("ntp", [sys.executable, __file__, "--serve-ntp"])
    fuzz = NTPFuzz(random.Random(args.seed + 1))
    problems: list[str] = []
    try:
        first = ask_udp(server, fuzz.probe(0)[1])
        assert first is not None and fuzz.wrong(first) is None, "the NTP server does not answer"
        rss_start = rss_mb(server.process.pid)
        before = scrape(server.admin)
        result = flood(
            fuzz, server, args.packets, batch=args.batch, depth=args.depth, deadline=args.deadline
        )
        last = ask_udp(server, fuzz.probe(1 << 40)[1])
        good = last is not None and fuzz.wrong(last) is None
        after = scrape(server.admin)
        rss_end = rss_mb(server.process.pid)
    finally:
        problems += server.stop()
    return Verdict("ntp", result, rss_start, rss_end, before, after, good, problems)


def dns_seen(v: Verdict) -> float:
    """Datagrams the DNS server read: answered ones plus the two reasons it drops."""
    queries = "fallacies_dns_queries_total"
    malformed = "fallacies_dns_malformed_packets_total"
    read = 0.0
    for samples, sign in ((v.after, 1), (v.before, -1)):
        read += sign * total(samples, queries, transport="udp")
        for reason in ("too_short", "not_query"):
            read += sign * total(samples, malformed, transport="udp", reason=reason)
    return read


def ntp_seen(v: Verdict) -> float:
    name = "fallacies_ntp_requests_total"
    return total(v.after, name) - total(v.before, name)


def delta(v: Verdict, name: str, label: str, **labels: str) -> dict[str, float]:
    """How much each of ``name``'s series grew during the fuzz, by one label."""
    after = by_label(v.after, name, label, **labels)
    before = by_label(v.before, name, label, **labels)
    grown = {k: after[k] - before.get(k, 0.0) for k in sorted(after)}
    return {k: g for k, g in grown.items() if g}


def report(dns_v: Verdict, ntp_v: Verdict, tcp: TCPAbuse, args: argparse.Namespace) -> None:
    columns = [dns_v, ntp_v]
    seen = [dns_seen(dns_v), ntp_seen(ntp_v)]

    def row(label: str, cells: list[str]) -> None:
        print(f"  {label:<28}" + "".join(f"{c:>18}" for c in cells))

    print(
        f"fuzz: seed {args.seed}, {args.packets:,} mutated datagrams per server, a probe every "
        f"{args.batch}, at most {args.depth} probes in flight, 127.0.0.1"
    )
    row("", ["dns (udp)", "ntp (udp)"])
    row("datagrams sent", [f"{v.flood.sent:,}" for v in columns])
    row("  of which probes", [f"{v.flood.probes:,}" for v in columns])
    row("server read", [f"{s:,.0f}" for s in seen])
    row("replies received", [f"{v.flood.replies:,}" for v in columns])
    row("rate (datagrams/s)", [f"{v.flood.rate:,.0f}" for v in columns])
    row("wall time (s)", [f"{v.flood.elapsed_s:.1f}" for v in columns])
    row("probes answered right", [f"{v.flood.answered:,}/{v.flood.probes:,}" for v in columns])
    row("probes resent", [f"{v.flood.resent:,}" for v in columns])
    row("worst probe round trip (ms)", [f"{1000 * v.flood.worst_rtt_s:.1f}" for v in columns])
    row("RSS at start (MB)", [f"{v.rss_start:.1f}" for v in columns])
    row("RSS after warm-up (MB)", [f"{v.rss_warm:.1f}" for v in columns])
    row("RSS peak (MB)", [f"{v.rss_peak:.1f}" for v in columns])
    row("RSS at end (MB)", [f"{v.rss_end:.1f}" for v in columns])
    row("RSS growth after warm-up (%)", [f"{v.growth:+.1f}" for v in columns])
    row("right answer after", ["yes" if v.good_after else "NO" for v in columns])
    for v in columns:
        path = " ".join(f"{mb:.1f}" for _, mb in v.flood.rss[::2])
        print(f"  {v.name} RSS at 0, 10, ... 100 % of the packets (MB): {path}")
    dns_bad = delta(dns_v, "fallacies_dns_malformed_packets_total", "reason", transport="udp")
    tcp_bad = delta(dns_v, "fallacies_dns_malformed_packets_total", "reason", transport="tcp")
    ntp_bad = delta(ntp_v, "fallacies_ntp_malformed_packets_total", "reason")
    rcodes = delta(dns_v, "fallacies_dns_queries_total", "rcode", transport="udp")
    print("  malformed, dns udp:  " + _counts(dns_bad))
    print("  malformed, dns tcp:  " + _counts(tcp_bad))
    print("  malformed, ntp:      " + _counts(ntp_bad))
    print("  dns udp rcodes:      " + _counts(rcodes))
    print("  dns mutations sent:  " + _counts(dns_v.flood.kinds))
    print("  ntp mutations sent:  " + _counts(ntp_v.flood.kinds))
    print(
        f"  dns tcp: {tcp.idle_closed} slow connections closed (worst after "
        f"{tcp.worst_idle_close_s:.1f} s, idle timeout {TCP_IDLE_TIMEOUT_S:g} s); "
        f"{tcp.pipelined:,} pipelined mutated frames + {tcp.zero_frames:,} empty ones, "
        f"{tcp.pipelined_answers:,} answers up to the last query's; {tcp.refused_over_cap} of "
        f"{OVER_CAP_ATTEMPTS} connections from one IP refused"
    )
    if "SERVFAIL" in rcodes:
        dns_v.problems.append(f"{rcodes['SERVFAIL']:.0f} SERVFAIL: the handler raised")
    judge(dns_v, args, "fallacies_dns_malformed_packets_total", seen[0])
    judge(ntp_v, args, "fallacies_ntp_malformed_packets_total", seen[1])


def _counts(counts: dict[str, float] | Counter[str]) -> str:
    return ", ".join(f"{k} {v:,.0f}" for k, v in sorted(counts.items())) or "none"


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--packets", type=int, default=1_000_000, help="datagrams per server")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--batch", type=int, default=64, help="mutated datagrams per probe")
    parser.add_argument("--depth", type=int, default=4, help="probes in flight at most")
    parser.add_argument("--deadline", type=float, default=5.0, help="seconds a probe may take")
    parser.add_argument("--rss-growth", type=float, default=10.0, help="%% after warm-up")
    parser.add_argument("--rss-cap", type=float, default=256.0, help="MB, peak")
    parser.add_argument("--serve-ntp", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_ntp:
        serve_ntp()
    if args.packets < 1 or args.batch < 1 or args.depth < 1:
        parser.error("--packets, --batch and --depth must be positive")
    started = time.monotonic()
    dns_v, tcp = run_dns(args)
    ntp_v = run_ntp(args)
    report(dns_v, ntp_v, tcp, args)
    problems = [f"dns: {p}" for p in dns_v.problems] + [f"ntp: {p}" for p in ntp_v.problems]
    problems += [f"dns tcp: {p}" for p in tcp.problems]
    print(f"  total wall time: {time.monotonic() - started:.1f} s")
    for problem in problems:
        print(f"FAIL {problem}")
    print("result: " + ("FAIL" if problems else "PASS"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
