"""The fault proxy's cost with no toxics: direct vs the project's proxy vs real Toxiproxy.

    python bench/bench_proxy.py              # 512 MB bulk, 5000 round trips, 3 s of UDP
    python bench/bench_proxy.py --bulk-mb 256 --round-trips 2000 --udp-seconds 2

Measures, side by side in one run:

(a) bulk TCP throughput (MB/s): one connection, the client sends, a sink reads;
(b) added latency of a 1 KB request / 1 KB response round trip, p50 and p99
    (proxied minus direct, microseconds), in ten rounds that alternate between
    the paths so that machine noise hits all of them alike;
(c) UDP datagrams/s forwarded (64-byte datagrams, one way, one client) —
    the real Toxiproxy has no UDP, so that column is direct vs ours only.

The project's proxy runs as ``python -m chaos.proxy`` (uvloop when installed) and
Toxiproxy as ``/root/go/bin/server`` or ``toxiproxy-server`` from PATH (column
skipped when neither exists), each in its own process; clients and servers are
threads of this process, on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOXIPROXY_CANDIDATES = ("/root/go/bin/server", "toxiproxy-server")
CHUNK = 256 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--bulk-mb", type=int, default=512, help="MB sent in (a) (default 512)")
    parser.add_argument("--round-trips", type=int, default=5000, help="round trips in (b)")
    parser.add_argument("--udp-seconds", type=float, default=3.0, help="seconds of (c)")
    args = parser.parse_args()

    sink = _TcpServer(_sink)
    echo = _TcpServer(_echo)
    udp_sink = _UdpSink()
    targets: dict[str, dict[str, int]] = {
        "direct": {"sink": sink.port, "echo": echo.port, "udp": udp_sink.port}
    }
    with _project_proxy() as api:
        targets["fallacies"] = {
            "sink": _create(api, "sink", f"127.0.0.1:{sink.port}"),
            "echo": _create(api, "echo", f"127.0.0.1:{echo.port}"),
            "udp": _create(api, "udp", f"127.0.0.1:{udp_sink.port}", protocol="udp"),
        }
        toxiproxy = _find_toxiproxy()
        with _toxiproxy(toxiproxy) as tp_api:
            if tp_api is not None:
                targets["toxiproxy"] = {
                    "sink": _create(tp_api, "sink", f"127.0.0.1:{sink.port}"),
                    "echo": _create(tp_api, "echo", f"127.0.0.1:{echo.port}"),
                }
            results = _measure(targets, args, udp_sink)
    _report(results, toxiproxy)
    return 0


def _measure(
    targets: dict[str, dict[str, int]], args: argparse.Namespace, udp_sink: _UdpSink
) -> dict[str, dict[str, float]]:
    results: dict[str, dict[str, float]] = {name: {} for name in targets}
    for name, ports in targets.items():
        results[name]["mb_s"] = _bulk(ports["sink"], args.bulk_mb)
    for name, (p50, p99) in _interleaved_round_trips(targets, args.round_trips).items():
        results[name]["p50_us"], results[name]["p99_us"] = p50, p99
    for name, ports in targets.items():
        if "udp" in ports:
            results[name]["udp_per_s"] = _udp_rate(ports["udp"], args.udp_seconds, udp_sink)
    return results


def _report(results: dict[str, dict[str, float]], toxiproxy: str | None) -> None:
    direct = results["direct"]
    columns = list(results)
    print(f"python {sys.version.split()[0]}, uvloop: {_has_uvloop()}, cpus: {os.cpu_count()}")
    print(f"toxiproxy: {toxiproxy or 'not found (column skipped)'}\n")
    header = f"{'':34}" + "".join(f"{c:>14}" for c in columns)
    print(header)
    print("-" * len(header))

    def row(label: str, key: str, fmt: str, added: bool = False) -> None:
        cells = []
        for column in columns:
            value = results[column].get(key)
            if value is None or (added and column == "direct"):
                cells.append(f"{'-':>14}")
            else:
                shown = value - direct[key] if added else value
                cells.append(f"{shown:>14{fmt}}")
        print(f"{label:34}" + "".join(cells))

    row("(a) bulk TCP throughput, MB/s", "mb_s", ",.0f")
    row("(b) 1 KB round trip p50, us", "p50_us", ",.0f")
    row("    added by the proxy p50, us", "p50_us", ",.0f", added=True)
    row("(b) 1 KB round trip p99, us", "p99_us", ",.0f")
    row("    added by the proxy p99, us", "p99_us", ",.0f", added=True)
    row("(c) UDP datagrams/s (64 B)", "udp_per_s", ",.0f")
    print()
    ours = results["fallacies"]
    print(
        f"ratios: fallacies/direct throughput {ours['mb_s'] / direct['mb_s']:.2f}, "
        f"UDP {ours['udp_per_s'] / direct['udp_per_s']:.2f}"
    )
    if "toxiproxy" in results:
        tp = results["toxiproxy"]
        added = (ours["p50_us"] - direct["p50_us"]) / max(tp["p50_us"] - direct["p50_us"], 1e-9)
        print(
            f"        fallacies/toxiproxy throughput {ours['mb_s'] / tp['mb_s']:.2f}, "
            f"added p50 latency {added:.2f}, "
            f"p99 round trip {ours['p99_us'] / tp['p99_us']:.2f}"
        )


# -- measurements -----------------------------------------------------------------


def _bulk(port: int, megabytes: int) -> float:
    """Send ``megabytes`` after an 8-byte length; the sink answers once it has them all.

    No half-close: Toxiproxy closes both sides when the client shuts down writing.
    """
    payload = b"x" * CHUNK
    total = megabytes * 1024 * 1024
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(CHUNK.to_bytes(8, "big") + payload)  # warm up the path
        _expect_ack(sock, CHUNK)
        start = time.perf_counter()
        sock.sendall(total.to_bytes(8, "big"))
        sent = 0
        while sent < total:
            sock.sendall(payload)
            sent += len(payload)
        _expect_ack(sock, total)
        elapsed = time.perf_counter() - start
    return total / elapsed / 1e6


def _expect_ack(sock: socket.socket, size: int) -> None:
    line = b""
    while not line.endswith(b"\n"):
        more = sock.recv(64)
        if not more:
            raise ConnectionError("the sink closed early")
        line += more
    assert int(line) == size, (int(line), size)


def _interleaved_round_trips(
    targets: dict[str, dict[str, int]], count: int, rounds: int = 10
) -> dict[str, tuple[float, float]]:
    """p50 and p99 (µs) per target, measured in alternating rounds so drift hits all alike."""
    samples: dict[str, list[float]] = {name: [] for name in targets}
    sockets = {name: _connect(ports["echo"]) for name, ports in targets.items()}
    try:
        for sock in sockets.values():
            _round_trips(sock, 200)  # warm up
        for _ in range(rounds):
            for name, sock in sockets.items():
                samples[name].extend(_round_trips(sock, max(1, count // rounds)))
    finally:
        for sock in sockets.values():
            sock.close()
    out = {}
    for name, values in samples.items():
        values.sort()
        out[name] = (statistics.median(values), values[int(len(values) * 0.99)])
    return out


def _connect(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return sock


def _round_trips(sock: socket.socket, count: int) -> list[float]:
    request = b"r" * 1024
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(request)
        got = 0
        while got < len(request):
            got += len(sock.recv(65536))
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def _udp_rate(port: int, seconds: float, sink: _UdpSink) -> float:
    payload = b"u" * 64
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.connect(("127.0.0.1", port))
        for _ in range(100):
            sock.send(payload)
        time.sleep(0.2)
        before = sink.count
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            for _ in range(64):
                try:
                    sock.send(payload)
                except OSError:
                    pass
            time.sleep(0)
        time.sleep(0.3)
        return (sink.count - before) / seconds


# -- servers (threads) ------------------------------------------------------------


def _sink(conn: socket.socket) -> None:
    buffer = bytearray(CHUNK)
    while header := _read_exactly(conn, 8):
        size = int.from_bytes(header, "big")
        left = size
        while left:
            n = conn.recv_into(buffer, min(left, CHUNK))
            if not n:
                return
            left -= n
        conn.sendall(f"{size}\n".encode())


def _read_exactly(conn: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        more = conn.recv(size - len(data))
        if not more:
            return b""
        data += more
    return data


def _echo(conn: socket.socket) -> None:
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while data := conn.recv(65536):
        conn.sendall(data)


class _TcpServer:
    def __init__(self, handle: Callable[[socket.socket], None]) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self._handle = handle
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            conn, _ = self._sock.accept()
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        with conn:
            try:
                self._handle(conn)
            except OSError:
                pass


class _UdpSink:
    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)
        self._sock.bind(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.count = 0
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self) -> None:
        while True:
            self._sock.recv(2048)
            self.count += 1


# -- the proxies ------------------------------------------------------------------


@contextmanager
def _project_proxy() -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "chaos.proxy", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert process.stdout is not None
        endpoints = json.loads(process.stdout.readline())["endpoints"]
        yield str(endpoints["api"])
    finally:
        process.terminate()
        process.wait(10)


def _find_toxiproxy() -> str | None:
    for candidate in TOXIPROXY_CANDIDATES:
        found = shutil.which(candidate)
        if found:
            return found
    return None


@contextmanager
def _toxiproxy(binary: str | None) -> Iterator[str | None]:
    if binary is None:
        yield None
        return
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                urllib.request.urlopen(_request(api + "/version"), timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        yield api
    finally:
        process.terminate()
        process.wait(10)


def _create(api: str, name: str, upstream: str, protocol: str = "tcp") -> int:
    body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream}
    if protocol != "tcp":
        body["protocol"] = protocol
    with urllib.request.urlopen(_request(api + "/proxies", body), timeout=5) as response:
        listen = json.loads(response.read())["listen"]
    return int(listen.rsplit(":", 1)[1])


def _request(url: str, body: object = None) -> urllib.request.Request:
    data = None if body is None else json.dumps(body).encode()
    headers = {"User-Agent": "bench_proxy", "Content-Type": "application/json"}
    return urllib.request.Request(url, data=data, headers=headers)


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
