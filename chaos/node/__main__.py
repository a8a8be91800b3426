"""``python -m chaos.node KIND --config FILE`` (or ``--config-json TEXT``): run one node
with no CLI framework loaded.

The embedded mesh and the containers start nodes this way: importing only what the
node needs keeps the whole mesh healthy within a couple of seconds. Prints the
endpoints as one JSON line once every socket is bound. ``$FALLACIES_ADMIN_TOKEN``,
when set, is the node's admin token whatever its config says; ``{{ip:NAME}}`` in the
config is NAME's address, looked up at start (``chaos.node.names``).
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from chaos.node.names import resolve_names
from chaos.node.registry import FACTORIES, build
from services.common.admin_token import from_env
from services.common.lifecycle import run_announcing_json


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m chaos.node")
    parser.add_argument("kind", choices=sorted(FACTORIES))
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", help="JSON file with the node's config")
    source.add_argument(
        "--config-json",
        help="the config itself, for a container whose engine cannot see this machine's files",
    )
    args = parser.parse_args(argv)
    where = args.config or "--config-json"
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        if args.config_json is not None:
            raw = json.loads(args.config_json)
        else:
            with open(args.config, encoding="utf-8") as fh:
                raw = json.load(fh)
        service = build(args.kind, resolve_names(from_env(raw)))
    except (OSError, ValueError) as exc:
        print(f"error: {where}: {exc}", file=sys.stderr)
        return 2

    return run_announcing_json(service)


if __name__ == "__main__":
    sys.exit(main())
