"""``python -m services.workload``: run both clients without the CLI (containers, the mesh).

``--config`` reads the JSON shape of ``WorkloadConfig`` (see config.py); ``--set``
overrides one dotted setting with a JSON value, e.g. ``--set defences.hedging=false``
or ``--set metrics.port=0``. Prints the endpoints as one JSON line on stdout once the
listener is bound, so a parent process can start it on port 0 and learn where it is.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

from services.common.errors import FieldError
from services.common.lifecycle import run_announcing_json
from services.workload.config import WorkloadConfig
from services.workload.service import WorkloadService


def _apply(data: dict[str, Any], assignment: str) -> None:
    path, sep, raw = assignment.partition("=")
    if not sep or not path:
        raise FieldError("--set", f"expected dotted.name=JSON, got {assignment!r}")
    try:
        value = json.loads(raw)
    except ValueError:
        value = raw
    *parents, leaf = path.split(".")
    node = data
    for part in parents:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise FieldError(path, "is not a section")
    node[leaf] = value


def load(config_path: str | None, assignments: list[str]) -> WorkloadConfig:
    data: dict[str, Any] = {}
    if config_path:
        loaded = json.loads(Path(config_path).read_text("utf-8"))
        if not isinstance(loaded, dict):
            raise FieldError("config", "expected a JSON object")
        data = loaded
    for assignment in assignments:
        _apply(data, assignment)
    return WorkloadConfig.from_dict(data)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m services.workload",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--config", help="JSON file in the WorkloadConfig shape")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override one setting (repeatable)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        service = WorkloadService(config=load(args.config, args.set))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    return run_announcing_json(service)


if __name__ == "__main__":
    sys.exit(main())
