"""Throughput of the DNS server's UDP path, measured with dnsperf.

Starts ``python -m services.dns`` (uvloop when installed) on ephemeral ports in a
subprocess, replays a mix of queries with dnsperf for ``--seconds``, and prints
dnsperf's queries/s and loss next to the server's own count from /metrics.

    python bench/bench_dns.py                   # 10 s, 4 clients, up to 100k qps
    python bench/bench_dns.py --seconds 5 --max-qps 30000

Loopback only: the server binds 127.0.0.1 and dnsperf targets it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

QUERY_MIX = [
    "api-1.mesh.test A",
    "api-2.mesh.test A",
    "ns.mesh.test A",
    "_api._tcp.mesh.test SRV",
    "mesh.test SOA",
    "mesh.test NS",
    "api-1.mesh.test AAAA",  # NODATA
    "missing.mesh.test A",  # NXDOMAIN
    "example.com A",  # REFUSED
    "big.mesh.test TXT",  # TC=1 without EDNS
]
"""Every outcome the server produces for well-formed queries, in equal parts."""

_DNSPERF_FIELDS = {
    "sent": r"Queries sent:\s+(\d+)",
    "completed": r"Queries completed:\s+(\d+)",
    "lost": r"Queries lost:\s+(\d+)",
    "qps": r"Queries per second:\s+([\d.]+)",
    "latency": r"Average Latency \(s\):\s+([\d.]+)",
}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=10, help="dnsperf -l (default 10)")
    parser.add_argument("--clients", type=int, default=4, help="dnsperf -c (default 4)")
    parser.add_argument("--outstanding", type=int, default=200, help="dnsperf -q (default 200)")
    parser.add_argument("--max-qps", type=int, default=100_000, help="dnsperf -Q (default 100k)")
    parser.add_argument("--edns", action="store_true", help="dnsperf -e: send EDNS0 (no TC)")
    args = parser.parse_args()

    dnsperf = shutil.which("dnsperf")
    if dnsperf is None:
        print("dnsperf is not on PATH (Debian: apt-get install dnsperf)", file=sys.stderr)
        return 2

    server = subprocess.Popen(
        # RRL off: a benchmark is a flood from one source by definition.
        [sys.executable, "-m", "services.dns"]
        + ["--port", "0", "--admin-port", "0", "--rrl-rate", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        assert server.stdout is not None
        line = server.stdout.readline()
        if not line:
            print("the DNS server exited before announcing its ports", file=sys.stderr)
            return 1
        endpoints = json.loads(line)["endpoints"]
        port = int(endpoints["udp"].rsplit(":", 1)[1])
        with tempfile.TemporaryDirectory() as tmp:
            queries = Path(tmp) / "queries.txt"
            queries.write_text("\n".join(QUERY_MIX) + "\n")
            command = [
                dnsperf,
                "-s", "127.0.0.1",
                "-p", str(port),
                "-d", str(queries),
                "-l", str(args.seconds),
                "-c", str(args.clients),
                "-q", str(args.outstanding),
                "-Q", str(args.max_qps),
                "-t", "2",
            ]  # fmt: skip
            if args.edns:
                command.append("-e")
            print("$", " ".join(command), flush=True)
            started = time.monotonic()
            result = subprocess.run(command, capture_output=True, text=True, check=False)
            elapsed = time.monotonic() - started
        if result.returncode != 0:
            print(result.stdout, result.stderr, sep="\n", file=sys.stderr)
            return 1
        stats = {
            k: float(m.group(1))
            for k, p in _DNSPERF_FIELDS.items()
            if (m := re.search(p, result.stdout))
        }
        served = _served(endpoints["admin"])
    finally:
        server.terminate()
        server.wait(timeout=10)

    answered = 100.0 * stats.get("completed", 0) / max(stats.get("sent", 1), 1)
    print(f"dnsperf ran {elapsed:.1f} s against 127.0.0.1:{port}, {len(QUERY_MIX)}-query mix")
    print(f"  queries per second : {stats.get('qps', 0):,.0f}")
    print(f"  sent / completed   : {stats.get('sent', 0):,.0f} / {stats.get('completed', 0):,.0f}")
    print(f"  answered           : {answered:.2f} %  (lost {stats.get('lost', 0):,.0f})")
    print(f"  average latency    : {stats.get('latency', 0) * 1000:.3f} ms")
    print(f"  server counted     : {served:,.0f} queries (fallacies_dns_queries_total, udp)")
    return 0


def _served(admin: str) -> float:
    """Total UDP queries the server says it answered, from its own /metrics."""
    direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # loopback, no proxy
    with direct.open(f"{admin}/metrics", timeout=5) as response:
        text = response.read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith("fallacies_dns_queries_total{") and 'transport="udp"' in line:
            total += float(line.rsplit(" ", 1)[1])
    return total


if __name__ == "__main__":
    sys.exit(main())
