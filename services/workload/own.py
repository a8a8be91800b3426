"""A client of one's own: found from ``file.py:Class`` or ``module:Class``, checked, named.

A workshop's participants write a ``BaseClient`` subclass (``examples/my_client.py``
is the template) and run it beside the naive and resilient clients. It is loaded
twice: by the CLI, so a typo fails before any mesh starts, and by the workload
process, which runs it. The class's ``name`` becomes its ``client`` label, so it is
held to the same rules as any label: short, lowercase, and not a built-in's.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
from pathlib import Path
from typing import Final

from services.common.errors import FallaciesError
from services.workload._types import BUILT_IN
from services.workload.client import BaseClient

__all__ = ["OwnClientError", "load_client", "resolve_spec"]

_NAME: Final = re.compile(r"[a-z][a-z0-9_]{0,23}")
_RESERVED: Final = (*BUILT_IN, "probes", "both")


class OwnClientError(FallaciesError, ValueError):
    """The client spec names nothing loadable, or a class that cannot run as a client."""


def resolve_spec(spec: str, cwd: Path | None = None) -> str:
    """The spec with a file path made absolute, so another process finds the same file."""
    where, sep, attr = spec.rpartition(":")
    if not sep or not where or not attr:
        raise OwnClientError(
            f"client {spec!r}: expected path/to/file.py:Class or package.module:Class"
        )
    if _is_path(where):
        path = Path(where).expanduser()
        if not path.is_absolute():
            path = (cwd or Path.cwd()) / path
        return f"{path.resolve()}:{attr}"
    return spec


def load_client(spec: str) -> type[BaseClient]:
    where, _, attr = resolve_spec(spec).rpartition(":")
    module = _load_file(Path(where)) if _is_path(where) else _import(where)
    found = getattr(module, attr, None)
    if found is None:
        names = sorted(
            n
            for n, v in vars(module).items()
            if isinstance(v, type) and issubclass(v, BaseClient) and v is not BaseClient
        )
        hint = f"; client classes there: {', '.join(names)}" if names else ""
        raise OwnClientError(f"client {spec!r}: {where} has no {attr!r}{hint}")
    if not (isinstance(found, type) and issubclass(found, BaseClient)):
        raise OwnClientError(
            f"client {spec!r}: {attr} is not a subclass of "
            "services.workload.client.BaseClient (start from examples/my_client.py)"
        )
    if getattr(found, "__abstractmethods__", None):
        missing = ", ".join(sorted(found.__abstractmethods__))
        raise OwnClientError(f"client {spec!r}: {attr} does not define {missing}")
    name = getattr(found, "name", None)
    if not (isinstance(name, str) and _NAME.fullmatch(name)) or name in _RESERVED:
        raise OwnClientError(
            f"client {spec!r}: {attr}.name must be 1-24 lowercase letters, digits or _, "
            f"starting with a letter, and none of {', '.join(_RESERVED)}; got {name!r}"
        )
    return found


def _is_path(where: str) -> bool:
    return where.endswith(".py") or "/" in where or "\\" in where


def _load_file(path: Path) -> object:
    if not path.is_file():
        raise OwnClientError(f"client file {path} does not exist")
    digest = hashlib.sha1(str(path).encode()).hexdigest()[:8]
    module_name = f"fallacies_own_{path.stem}_{digest}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise OwnClientError(f"client file {path} cannot be loaded as Python")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        del sys.modules[module_name]
        raise OwnClientError(
            f"client file {path} failed to load: {type(exc).__name__}: {exc}"
        ) from exc
    return module


def _import(name: str) -> object:
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise OwnClientError(
            f"client module {name!r} failed to import: {type(exc).__name__}: {exc}"
        ) from None
