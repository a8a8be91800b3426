"""The fault proxy's cost with no toxics: direct vs the project's proxy vs real Toxiproxy.

    python bench/bench_proxy.py              # 3 x 512 MB bulk, 5000 round trips, 3 x 2 s UDP, HTTP
    python bench/bench_proxy.py --bulk-mb 256 --round-trips 2000 --udp-seconds 2
    python bench/bench_proxy.py --http-connections 1,100 --http-seconds 5
    python bench/bench_proxy.py --only-http-toxics          # (e) alone, in seconds

Measures, side by side in one run:

(a) bulk TCP throughput (MB/s): one connection, the client sends, a sink reads;
    the median of ``--rounds`` rounds that alternate between the paths;
(b) added latency of a 1 KB request / 1 KB response round trip, p50 and p99
    (proxied minus direct, microseconds), in ten rounds that alternate between
    the paths so that machine noise hits all of them alike;
(c) UDP datagrams/s forwarded (64-byte datagrams, one way, one client), the
    median of alternating rounds; the real Toxiproxy has no UDP, so that
    column is direct vs ours only;
(d) keep-alive HTTP requests/s and p99 latency as load grows: ``wrk`` with 1, 10,
    100 and 400 connections against ``nginx`` serving a 1 KB file on loopback,
    each level run against the three paths in turn, medians of the rounds;
    with the CPU each process spent per request, and from it the CPU-bound
    ceiling: direct's CPU per request over the proxied path's, the ratio the
    proxy could reach if the cores were the only limit (section skipped, with
    the reason, when wrk or nginx is not installed: ``apt-get install wrk nginx``);
(e) HTTP toxics: requests/s and added p50/p99 per keep-alive request (1 KB answers)
    through links of the project's proxy, in alternating rounds: a plain link; a
    link whose HTTP toxic was removed before the client connected (no HTTP toxic:
    the goal is at most 1.1x the plain link's added latency); a link with an HTTP
    toxic that matches no request (the relay parses every exchange, changes
    nothing); and one whose toxic rewrites a header of every answer.

Other work on the machine moves every figure; the load average at the start is
printed, and the ratios (taken within one run) move much less than the figures.

The project's proxy runs as ``python -m chaos.proxy`` (uvloop when installed) and
Toxiproxy as ``/root/go/bin/server`` or ``toxiproxy-server`` from PATH (column
skipped when neither exists), each in its own process; clients and servers are
threads of this process, on 127.0.0.1 only.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent
TOXIPROXY_CANDIDATES = ("/root/go/bin/server", "toxiproxy-server")
CHUNK = 256 * 1024


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--bulk-mb", type=int, default=512, help="MB sent in (a) (default 512)")
    parser.add_argument("--round-trips", type=int, default=5000, help="round trips in (b)")
    parser.add_argument("--udp-seconds", type=float, default=2.0, help="seconds of (c) per round")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds of (a), (c), (d); medians shown (default 3)"
    )
    parser.add_argument(
        "--http-connections", default="1,10,100,400", help="wrk connection counts in (d)"
    )
    parser.add_argument("--http-seconds", type=int, default=2, help="seconds per wrk run")
    parser.add_argument(
        "--http-requests", type=int, default=5000, help="keep-alive requests per path in (e)"
    )
    parser.add_argument("--only-http-toxics", action="store_true", help="run (e) alone")
    args = parser.parse_args()
    if args.only_http_toxics:
        with _project_proxy() as (api, _):
            _report_http_toxics(_http_toxics(api, args.http_requests), _load())
        return 0
    levels = [int(n) for n in args.http_connections.split(",") if n]
    start_load = _load()

    sink = _TcpServer(_sink)
    echo = _TcpServer(_echo)
    udp_sink = _UdpSink()
    wrk, why_not = _http_tools() if levels else (None, "no --http-connections")
    with _nginx(wrk is not None) as (http_port, nginx_pid):
        targets: dict[str, dict[str, int]] = {
            "direct": {"sink": sink.port, "echo": echo.port, "udp": udp_sink.port}
        }
        if http_port is not None:
            targets["direct"]["http"] = http_port
        with _project_proxy() as (api, pid):
            targets["fallacies"] = {
                "sink": _create(api, "sink", f"127.0.0.1:{sink.port}"),
                "echo": _create(api, "echo", f"127.0.0.1:{echo.port}"),
                "udp": _create(api, "udp", f"127.0.0.1:{udp_sink.port}", protocol="udp"),
                "pid": pid,
            }
            toxiproxy = _find_toxiproxy()
            with _toxiproxy(toxiproxy) as (tp_api, tp_pid):
                if tp_api is not None and tp_pid is not None:
                    targets["toxiproxy"] = {
                        "sink": _create(tp_api, "sink", f"127.0.0.1:{sink.port}"),
                        "echo": _create(tp_api, "echo", f"127.0.0.1:{echo.port}"),
                        "pid": tp_pid,
                    }
                for name, created in (("fallacies", api), ("toxiproxy", tp_api)):
                    if http_port is not None and created is not None:
                        targets[name]["http"] = _create(created, "http", f"127.0.0.1:{http_port}")
                results = _measure(targets, args, udp_sink)
                http = (
                    _http(wrk, targets, levels, args.http_seconds, args.rounds, nginx_pid)
                    if wrk
                    else {}
                )
                toxics = _http_toxics(api, args.http_requests)
    _report(results, toxiproxy, start_load)
    _report_http(http, levels, why_not)
    _report_http_toxics(toxics, start_load)
    return 0


def _measure(
    targets: dict[str, dict[str, int]], args: argparse.Namespace, udp_sink: _UdpSink
) -> dict[str, dict[str, float]]:
    """(a) and (c) alternate between the paths for ``--rounds`` rounds; each keeps its median."""
    results: dict[str, dict[str, float]] = {name: {} for name in targets}
    bulk: dict[str, list[float]] = {name: [] for name in targets}
    udp: dict[str, list[float]] = {name: [] for name in targets if "udp" in targets[name]}
    for _ in range(args.rounds):
        for name, ports in targets.items():
            bulk[name].append(_bulk(ports["sink"], args.bulk_mb))
    for name, (p50, p99) in _interleaved_round_trips(targets, args.round_trips).items():
        results[name]["p50_us"], results[name]["p99_us"] = p50, p99
    for _ in range(args.rounds):
        for name in udp:
            udp[name].append(_udp_rate(targets[name]["udp"], args.udp_seconds, udp_sink))
    for name in targets:
        results[name]["mb_s"] = statistics.median(bulk[name])
        if name in udp:
            results[name]["udp_per_s"] = statistics.median(udp[name])
    return results


def _report(results: dict[str, dict[str, float]], toxiproxy: str | None, start_load: str) -> None:
    direct = results["direct"]
    columns = list(results)
    print(f"python {sys.version.split()[0]}, uvloop: {_has_uvloop()}, cpus: {os.cpu_count()}")
    print(f"load average (1, 5, 15 min) at the start: {start_load}; at the end: {_load()}")
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


def _report_http(http: dict[tuple[str, int], _HttpRun], levels: list[int], why_not: str) -> None:
    print()
    if not http:
        print(f"(d) keep-alive HTTP: skipped ({why_not})")
        return
    columns = [name for name in ("direct", "fallacies", "toxiproxy") if (name, levels[0]) in http]
    header = f"{'(d) keep-alive HTTP, wrk + nginx':34}" + "".join(
        f"{c + ' req/s':>16}{'p99 ms':>9}" for c in columns
    )
    print(header)
    print("-" * len(header))
    for level in levels:
        cells = "".join(
            f"{http[(c, level)].rate:>16,.0f}{http[(c, level)].p99 * 1e3:>9.2f}" for c in columns
        )
        print(f"{f'    {level} connections':34}{cells}")
    print("\n    CPU per request, us: wrk + nginx (+ the proxy between them)")
    for level in levels:
        cells = ""
        for c in columns:
            wrk, nginx, proxy = http[(c, level)].cpu
            cells += f"{f'{wrk:.0f} + {nginx:.0f}' + (f' + {proxy:.0f}' if proxy else ''):>25}"
        print(f"{f'    {level} connections':34}{cells}")
    print()
    for level in levels:
        direct, ours = http[("direct", level)], http[("fallacies", level)]
        ceiling = sum(direct.cpu) / sum(ours.cpu)
        line = (
            f"{level:>5} connections: fallacies/direct req/s {ours.rate / direct.rate:.2f}"
            f" (CPU-bound ceiling {ceiling:.2f})"
        )
        if ("toxiproxy", level) in http:
            tp = http[("toxiproxy", level)]
            line += (
                f", fallacies/toxiproxy req/s {ours.rate / tp.rate:.2f}"
                f", p99 fallacies/toxiproxy {ours.p99 / tp.p99:.2f}"
            )
        print(line)


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


_ANSWER_BODY = b"a" * 1024
_ANSWER = (
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1024\r\n\r\n" + _ANSWER_BODY
)
_HTTP_PATHS = ("direct", "plain link", "no HTTP toxic", "HTTP toxic, no match", "HTTP toxic")


def _http_answer(conn: socket.socket) -> None:
    """A keep-alive HTTP/1.1 server that answers every GET with the same 1 KB."""
    buffered = b""
    while True:
        while b"\r\n\r\n" not in buffered:
            data = conn.recv(65536)
            if not data:
                return
            buffered += data
        _, buffered = buffered.split(b"\r\n\r\n", 1)
        conn.sendall(_ANSWER)


def _http_toxics(
    api: str, requests: int, rounds: int = 10
) -> dict[str, tuple[float, float, float]]:
    """(e): (requests/s, p50 µs, p99 µs) per path, one keep-alive connection each."""
    server = _TcpServer(_http_answer)
    upstream = f"127.0.0.1:{server.port}"
    ports = {"direct": server.port}
    for path, toxic in zip(
        _HTTP_PATHS[1:],
        (None, "removed", {"name": "X-Bench", "value": "1", "path": "/never"},
         {"name": "X-Bench", "value": "1"}),
        strict=True,
    ):  # fmt: skip
        name = "e-" + path.replace(" ", "-").replace(",", "")
        ports[path] = _create(api, name, upstream)
        if toxic is not None:
            attributes = toxic if isinstance(toxic, dict) else {"name": "X-Bench", "value": "1"}
            body = {"type": "http_header", "name": "bench", "attributes": attributes}
            urllib.request.urlopen(_request(f"{api}/proxies/{name}/toxics", body), timeout=5)
        if toxic == "removed":
            delete = urllib.request.Request(f"{api}/proxies/{name}/toxics/bench", method="DELETE")
            urllib.request.urlopen(delete, timeout=5)
    samples: dict[str, list[float]] = {path: [] for path in ports}
    spent: dict[str, float] = dict.fromkeys(ports, 0.0)
    sockets = {path: _connect(port) for path, port in ports.items()}
    try:
        for sock in sockets.values():
            _http_requests(sock, 200)  # warm up
        for _ in range(rounds):
            for path, sock in sockets.items():
                started = time.perf_counter()
                samples[path].extend(_http_requests(sock, max(1, requests // rounds)))
                spent[path] += time.perf_counter() - started
    finally:
        for sock in sockets.values():
            sock.close()
    out = {}
    for path, values in samples.items():
        values.sort()
        rate = len(values) / spent[path]
        out[path] = (rate, statistics.median(values), values[int(len(values) * 0.99)])
    return out


def _http_requests(sock: socket.socket, count: int) -> list[float]:
    request = b"GET /r HTTP/1.1\r\nHost: bench\r\n\r\n"
    samples = []
    buffered = b""
    for _ in range(count):
        start = time.perf_counter()
        sock.sendall(request)
        while b"\r\n\r\n" not in buffered:
            buffered += sock.recv(65536)
        head, buffered = buffered.split(b"\r\n\r\n", 1)
        length = next(
            int(line.split(b":", 1)[1])
            for line in head.split(b"\r\n")
            if line.lower().startswith(b"content-length:")
        )
        while len(buffered) < length:
            buffered += sock.recv(65536)
        buffered = buffered[length:]
        samples.append((time.perf_counter() - start) * 1e6)
    return samples


def _report_http_toxics(results: dict[str, tuple[float, float, float]], start_load: str) -> None:
    direct_p50, direct_p99 = results["direct"][1], results["direct"][2]
    print(
        f"\n(e) HTTP toxics: one keep-alive connection per path, 1 KB answers (load {start_load})"
    )
    columns = ("requests/s", "p50 µs", "p99 µs", "+p50 µs", "+p99 µs")
    print(f"  {'path':<22} {columns[0]:>11} " + " ".join(f"{c:>8}" for c in columns[1:]))
    for path, (rate, p50, p99) in results.items():
        print(
            f"  {path:<22} {rate:>11,.0f} {p50:>8.0f} {p99:>8.0f}"
            f" {p50 - direct_p50:>8.0f} {p99 - direct_p99:>8.0f}"
        )
    plain = results["plain link"][1] - direct_p50
    idle = results["no HTTP toxic"][1] - direct_p50
    ratio = idle / plain if plain > 0 else float("nan")
    verdict = "met" if ratio <= 1.1 else "NOT met"
    print(f"  no HTTP toxic / plain link, added p50: {ratio:.2f} (goal <= 1.10: {verdict})")
    for path in _HTTP_PATHS[3:]:
        added = results[path][1] - direct_p50
        print(f"  {path} / plain link, added p50: {added / plain:.1f}x" if plain > 0 else "")


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


class _HttpRun(NamedTuple):
    rate: float
    """Requests/s."""
    p99: float
    """Seconds."""
    cpu: tuple[float, float, float]
    """CPU µs per request of wrk, nginx and the proxy in between (0 direct)."""


def _http(
    wrk: str,
    targets: dict[str, dict[str, int]],
    levels: list[int],
    seconds: int,
    rounds: int,
    nginx_pid: int | None,
) -> dict[tuple[str, int], _HttpRun]:
    """The median of each figure per (target, connections) over alternating rounds."""
    out = {}
    for level in levels:
        names = [name for name, ports in targets.items() if "http" in ports]
        runs: dict[str, list[_HttpRun]] = {name: [] for name in names}
        for name in names:
            _wrk(wrk, targets[name]["http"], level, 1, nginx_pid, None)  # warm up
        for _ in range(rounds):
            for name in names:
                ports = targets[name]
                runs[name].append(
                    _wrk(wrk, ports["http"], level, seconds, nginx_pid, ports.get("pid"))
                )
        for name, results in runs.items():
            out[(name, level)] = _HttpRun(
                statistics.median(run.rate for run in results),
                statistics.median(run.p99 for run in results),
                (
                    statistics.median(run.cpu[0] for run in results),
                    statistics.median(run.cpu[1] for run in results),
                    statistics.median(run.cpu[2] for run in results),
                ),
            )
    return out


def _wrk(
    wrk: str,
    port: int,
    connections: int,
    seconds: int,
    nginx_pid: int | None,
    proxy_pid: int | None,
) -> _HttpRun:
    threads = min(connections, os.cpu_count() or 1)
    command = [wrk, f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    before = _cpu_seconds(nginx_pid, proxy_pid)
    result = subprocess.run(
        [*command, f"http://127.0.0.1:{port}/small"],
        capture_output=True,
        text=True,
        timeout=seconds + 30,
        check=True,
    )
    after = _cpu_seconds(nginx_pid, proxy_pid)
    rate = p99 = None
    for line in result.stdout.splitlines():
        words = line.split()
        if words[:1] == ["Requests/sec:"]:
            rate = float(words[1])
        elif words[:1] == ["99%"]:
            p99 = _duration(words[1])
        elif "Non-2xx" in line or "Socket errors" in line:
            raise RuntimeError(f"wrk on port {port}: {line.strip()}")
    if rate is None or p99 is None:
        raise RuntimeError(f"cannot read wrk's output:\n{result.stdout}")
    requests = rate * seconds
    used = (b - a for a, b in zip(before, after, strict=True))
    wrk_cpu, nginx_cpu, proxy_cpu = (1e6 * spent / requests for spent in used)
    return _HttpRun(rate, p99, (wrk_cpu, nginx_cpu, proxy_cpu))


def _cpu_seconds(nginx_pid: int | None, proxy_pid: int | None) -> tuple[float, float, float]:
    """CPU seconds so far of wrk runs (finished children), nginx (master and workers), the proxy."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    nginx = _process_cpu(nginx_pid)
    if nginx_pid is not None:
        nginx += sum(_process_cpu(pid) for pid in _children(nginx_pid))
    return children.ru_utime + children.ru_stime, nginx, _process_cpu(proxy_pid)


def _process_cpu(pid: int | None) -> float:
    """User + system CPU seconds of a live process (Linux ``/proc``; 0 elsewhere)."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children(pid: int) -> list[int]:
    try:
        return [int(n) for n in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _duration(text: str) -> float:
    """wrk's ``812.00us``, ``1.23ms`` or ``2.00s`` in seconds."""
    for unit, scale in (("us", 1e-6), ("ms", 1e-3), ("s", 1.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * scale
    raise ValueError(text)


def _http_tools() -> tuple[str | None, str]:
    wrk = shutil.which("wrk")
    missing = [tool for tool, found in (("wrk", wrk), ("nginx", _nginx_binary())) if not found]
    if missing:
        return None, f"{' and '.join(missing)} not installed: apt-get install wrk nginx"
    return wrk, ""


def _nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


NGINX_CONF = """\
worker_processes auto;
pid {dir}/nginx.pid;
error_log {dir}/error.log;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 100000000;
    keepalive_timeout 60s;
    server {{
        listen 127.0.0.1:{port} reuseport;
        root {dir}/html;
    }}
}}
"""


@contextmanager
def _nginx(wanted: bool) -> Iterator[tuple[int, int] | tuple[None, None]]:
    """nginx serving ``/small`` (1 KB) on a loopback port, keep-alive without a request cap;
    yields (port, master's pid)."""
    binary = _nginx_binary()
    if not wanted or binary is None:
        yield None, None
        return
    with tempfile.TemporaryDirectory(prefix="bench-nginx-") as directory:
        os.chmod(directory, 0o755)  # the workers run as nobody when we are root
        html = Path(directory, "html")
        html.mkdir()
        (html / "small").write_bytes(b"n" * 1024)
        port = _free_port()
        conf = Path(directory, "nginx.conf")
        conf.write_text(NGINX_CONF.format(dir=directory, port=port))
        process = subprocess.Popen(
            [binary, "-p", directory, "-c", str(conf), "-g", "daemon off;"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            _wait_for(f"http://127.0.0.1:{port}/small")
            yield port, process.pid
        finally:
            process.terminate()
            process.wait(10)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for(url: str) -> None:
    deadline = time.monotonic() + 10
    while True:
        try:
            urllib.request.urlopen(_request(url), timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


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
def _project_proxy() -> Iterator[tuple[str, int]]:
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
        yield str(endpoints["api"]), process.pid
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
def _toxiproxy(binary: str | None) -> Iterator[tuple[str, int] | tuple[None, None]]:
    if binary is None:
        yield None, None
        return
    port = _free_port()
    process = subprocess.Popen(
        [binary, "-host", "127.0.0.1", "-port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    api = f"http://127.0.0.1:{port}"
    try:
        _wait_for(api + "/version")
        yield api, process.pid
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


def _load() -> str:
    return ", ".join(f"{n:.2f}" for n in os.getloadavg())


def _has_uvloop() -> bool:
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
