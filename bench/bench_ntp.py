"""How many SNTP replies per second one server process gives, and how many get lost.

    python bench/bench_ntp.py [--duration 10] [--clients 2] [--window 32]

The server runs in its own process under uvloop with rate limiting off (a benchmark is
a flood by definition). Each load generator is a separate process with one UDP socket
that keeps ``--window`` requests in flight: every reply is answered with a new request,
so the offered load follows what the server can take and the number measures the
server, not a send loop. A window that goes quiet for 20 ms is presumed lost and
refilled. Lost = requests sent - replies received; the server's own counters tell
whether a loss happened in the kernel (receive buffer full) or in the server.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
import urllib.request
from multiprocessing.connection import Connection
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from services.ntp.packet import Header, ns_to_ntp  # noqa: E402

QUIET = 0.020  # seconds without a reply before the window is presumed lost


def serve(rate_limit: float) -> None:
    """The server process: announce the endpoints as one JSON line, serve until SIGTERM."""
    from services.common.lifecycle import run
    from services.ntp import NTPServer

    def announce(endpoints: dict[str, str]) -> None:
        print(json.dumps(endpoints), flush=True)

    burst = max(1, int(rate_limit))
    run(NTPServer(name="ntp-bench", rate_limit=rate_limit, burst=burst), announce)


def load(address: tuple[str, int], window: int, duration: float, out: Connection) -> None:
    """One load generator: keep ``window`` requests in flight for ``duration`` seconds."""
    request = Header(transmit=ns_to_ntp(time.time_ns())).encode()
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
    sock.connect(address)
    sock.settimeout(QUIET)
    send, recv = sock.send, sock.recv
    sent = received = bad = presumed_lost = 0
    end = time.monotonic() + duration
    for _ in range(window):
        send(request)
    sent = window
    while True:
        try:
            data = recv(128)
        except TimeoutError:
            if time.monotonic() >= end:
                break
            presumed_lost = sent - received
            for _ in range(window):
                send(request)
            sent += window
            continue
        received += 1
        if len(data) != 48 or data[0] & 7 != 4:
            bad += 1
        if received & 255 == 0 and time.monotonic() >= end:
            break
        send(request)
        sent += 1
    sock.settimeout(0.5)  # drain what is still in flight
    try:
        while True:
            recv(128)
            received += 1
    except TimeoutError:
        pass
    sock.close()
    out.send({"sent": sent, "received": received, "bad": bad, "presumed_lost": presumed_lost})


def scrape(admin: str) -> dict[str, float]:
    with urllib.request.urlopen(admin + "/metrics", timeout=5) as response:
        text = response.read().decode()
    values: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            values[name] = float(value)
    return values


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of load")
    parser.add_argument("--clients", type=int, default=2, help="load generator processes")
    parser.add_argument("--window", type=int, default=32, help="requests in flight per client")
    parser.add_argument(
        "--rate-limit",
        type=float,
        default=0.0,
        help="server's per-source limit in requests/s (0: off); set it far above the load "
        "to measure what the token buckets cost",
    )
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.rate_limit)
        return

    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", "--rate-limit", str(args.rate_limit)],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        endpoints = json.loads(server.stdout.readline())
        host, port = endpoints["udp"].rsplit(":", 1)
        address = (host, int(port))
        before = scrape(endpoints["admin"])
        pipes = [multiprocessing.Pipe(duplex=False) for _ in range(args.clients)]
        workers = [
            multiprocessing.Process(target=load, args=(address, args.window, args.duration, w))
            for _, w in pipes
        ]
        started = time.monotonic()
        for worker in workers:
            worker.start()
        results = [r.recv() for r, _ in pipes]
        for worker in workers:
            worker.join()
        elapsed = time.monotonic() - started
        after = scrape(endpoints["admin"])
    finally:
        server.terminate()
        server.wait(10)

    sent = sum(r["sent"] for r in results)
    received = sum(r["received"] for r in results)
    bad = sum(r["bad"] for r in results)
    seen = after["fallacies_ntp_requests_total"] - before["fallacies_ntp_requests_total"]
    replied = after["fallacies_ntp_replies_total"] - before["fallacies_ntp_replies_total"]
    lost = sent - received
    limit = f"{args.rate_limit:g}/s per source" if args.rate_limit else "off"
    print(f"server      uvloop, 1 process, rate limit {limit}  (host has {os.cpu_count()} CPUs)")
    print(f"load        {args.clients} process(es) x window {args.window}, {args.duration:g} s")
    print(f"sent        {sent:>10,} requests")
    print(f"received    {received:>10,} replies ({bad} malformed)")
    print(f"replies/s   {received / args.duration:>10,.0f}  ({elapsed:.1f} s wall incl. drain)")
    print(f"lost        {lost:>10,} ({100 * lost / max(sent, 1):.3f} %)")
    kod = after.get('fallacies_ntp_kod_sent_total{code="RATE"}', 0) - before.get(
        'fallacies_ntp_kod_sent_total{code="RATE"}', 0
    )
    print(f"  server saw {seen:,.0f} requests, replied {replied:,.0f}, KoD {kod:,.0f}:")
    print(f"  dropped before the server (kernel): {sent - seen:,.0f}")
    print(f"  dropped after the server:           {replied + kod - received:,.0f}")


if __name__ == "__main__":
    main()
