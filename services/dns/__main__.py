"""``python -m services.dns``: run the server without the CLI (benchmarks, containers).

Prints the endpoints as one JSON line on stdout once every socket is bound, so a
parent process can start it on port 0 and learn where it listens.
"""

from __future__ import annotations

import argparse
import logging
import sys

from services.common.lifecycle import run_announcing_json
from services.dns.rrl import DEFAULT_RATE
from services.dns.server import DNSServer
from services.dns.zone import Zone


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.dns", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=5353, help="UDP and TCP port (0: any)")
    parser.add_argument("--admin-host", default="127.0.0.1")
    parser.add_argument("--admin-port", type=int, default=8053, help="admin/metrics port")
    parser.add_argument("--zone", help="YAML zone file (default: the packaged zone)")
    parser.add_argument(
        "--rrl-rate",
        type=float,
        default=DEFAULT_RATE,
        help=f"UDP answers/s per source prefix before RRL (default {DEFAULT_RATE:g}; 0: off)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        zone = Zone.from_file(args.zone) if args.zone else None
    except (OSError, ValueError) as exc:
        print(f"error: {args.zone}: {exc}", file=sys.stderr)
        return 2
    server = DNSServer(
        host=args.host,
        port=args.port,
        admin_host=args.admin_host,
        admin_port=args.admin_port,
        zone=zone,
        rrl_rate=args.rrl_rate,
    )

    return run_announcing_json(server)


if __name__ == "__main__":
    sys.exit(main())
