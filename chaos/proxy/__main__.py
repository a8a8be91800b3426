"""``python -m chaos.proxy``: run the fault proxy without the CLI (benchmarks, containers).

Flags follow Toxiproxy's server (``-host``, ``-port``, ``-config``, ``-seed``); the API
token, if any, comes from ``$FALLACIES_ADMIN_TOKEN``.
Prints the endpoints as one JSON line on stdout once every socket is bound, so
a parent process can start it on port 0 and learn where it listens.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from chaos.proxy.config import ConfigError, load_config
from chaos.proxy.server import ProxyServer
from services.common.admin_token import token_from_env
from services.common.lifecycle import run_announcing_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.proxy", description=__doc__)
    parser.add_argument("--host", "--api-host", dest="host", default="127.0.0.1")
    parser.add_argument(
        "--port", "--api-port", dest="port", type=int, default=8474, help="API port (0: any)"
    )
    parser.add_argument("--config", help="JSON (or YAML) list of proxies to create at start")
    parser.add_argument("--seed", type=int, help="seed for toxicity and jitter draws")
    args = parser.parse_args(argv)
    level = os.environ.get("LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    try:
        config = load_config(args.config) if args.config else None
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    server = ProxyServer(
        api_host=args.host,
        api_port=args.port,
        api_token=token_from_env(),
        config=config,
        seed=args.seed,
    )

    try:
        return run_announcing_json(server)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
