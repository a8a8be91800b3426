"""``python -m chaos.node KIND --config FILE``: run one node with no CLI framework loaded.

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
    parser.add_argument("--config", required=True, help="JSON file with the node's config")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        with open(args.config, encoding="utf-8") as fh:
            config = resolve_names(from_env(json.load(fh)))
        service = build(args.kind, config)
    except (OSError, ValueError) as exc:
        print(f"error: {args.config}: {exc}", file=sys.stderr)
        return 2

    return run_announcing_json(service)


if __name__ == "__main__":
    sys.exit(main())
