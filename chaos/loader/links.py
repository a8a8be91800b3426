"""A links file: your own services behind the fault proxy, checked whole before anything binds.

::

    proxy: http://127.0.0.1:8474     # optional: a proxy already running (ours or Toxiproxy)
    links:                           # required, at least one
      - name: shop                   # required; letters, digits, . _ - (a URL path segment)
        listen: 127.0.0.1:18080      # required; where your client connects instead
        upstream: 127.0.0.1:8080     # required; the real service
        protocol: tcp                # optional: tcp (default) or udp

``fallacies serve proxy --links FILE`` creates these links; ``fallacies run
EXPERIMENT --links FILE`` runs an experiment on them. Problems come all at once, as
``FILE:LINE: FIELD: message``, like an experiment file's: a typo found after the
proxy bound half the ports wastes the time the file was meant to save.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from chaos.experiment.errors import ExperimentError, Problem
from chaos.experiment.values import show
from chaos.loader._registries import Registries
from chaos.loader._values import MISSING, Reader
from chaos.loader.yamldoc import parse
from chaos.mesh.model import LinkPlan, LinkProtocol
from chaos.proxy.address import split

__all__ = ["LinksFile", "LinksFileError", "load_links"]

_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")
_PROTOCOLS: dict[str, LinkProtocol] = {"tcp": "tcp", "udp": "udp"}


class LinksFileError(ExperimentError):
    """Every problem of one links file, each with its line (the shape of an experiment's)."""


@dataclass(frozen=True)
class LinksFile:
    path: str
    links: tuple[LinkPlan, ...]
    proxy: str | None = None
    """A running proxy's API to create the links on; ``None``: the caller starts one."""

    def to_populate(self) -> list[dict[str, object]]:
        """The links as a Toxiproxy ``POST /populate`` body (and ``-config`` file)."""
        return [link.to_populate() for link in self.links]


def load_links(path: str | os.PathLike[str]) -> LinksFile:
    """Read and check a links file; ``LinksFileError`` lists every problem."""
    file = os.fspath(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise LinksFileError(
            [Problem(file, None, "file", f"not UTF-8 text (byte offset {exc.start})")]
        ) from None
    except OSError as exc:
        problem = Problem(file, None, "file", f"cannot read: {exc.strerror or exc}")
        raise LinksFileError([problem]) from None
    document, yaml_problems = parse(text)
    problems = [Problem(file, p.line, p.field, p.message) for p in yaml_problems]
    if document is None or document.value is None:
        if not problems:
            problems.append(Problem(file, 1, "document", "the file is empty; it needs links"))
        raise LinksFileError(problems)
    reader = Reader(file, document, Registries(faults={}, signals={}, rollbacks={}))
    top = reader.fields(document.value, "", ("links",), ("proxy",))
    links: list[LinkPlan] = []
    proxy: str | None = None
    if top is not None:
        proxy = _proxy_url(reader, top.get("proxy", MISSING))
        entries = reader.each(top.get("links", MISSING), "links", lambda v, p: _link(reader, v, p))
        _unique(reader, entries or [])
        links = [link for link in entries or () if link is not None]
    problems.extend(reader.problems)
    if problems:
        raise LinksFileError(problems)
    return LinksFile(path=file, links=tuple(links), proxy=proxy)


def _proxy_url(reader: Reader, value: object) -> str | None:
    if value is MISSING or value is None:
        return None
    url = reader.text(value, "proxy")
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        reader.error("proxy", f"{show(url)} is not a proxy API URL; e.g. http://127.0.0.1:8474")
        return None
    return url.rstrip("/")


def _link(reader: Reader, value: object, path: str) -> LinkPlan | None:
    fields = reader.fields(value, path, ("name", "listen", "upstream"), ("protocol",))
    if fields is None:
        return None
    name = reader.text(fields.get("name", MISSING), f"{path}.name")
    if name is not None and not _NAME.fullmatch(name):
        reader.error(f"{path}.name", f"{show(name)}: use 1 to 64 letters, digits, '.', '_' or '-'")
        name = None
    listen = _address(reader, fields.get("listen", MISSING), f"{path}.listen", port_zero=True)
    upstream = _address(reader, fields.get("upstream", MISSING), f"{path}.upstream")
    raw = fields.get("protocol", "tcp")
    protocol = reader.choice(raw, f"{path}.protocol", _PROTOCOLS, "protocol")
    if name is None or listen is None or upstream is None or protocol is None:
        return None
    return LinkPlan(name=name, protocol=protocol, listen=listen, upstream=upstream, proxy="proxy")


def _address(reader: Reader, value: object, path: str, *, port_zero: bool = False) -> str | None:
    if isinstance(value, int) and not isinstance(value, bool):
        value = f":{value}"
    text = reader.text(value, path)
    if text is None:
        return None
    try:
        _, port = split(text)
    except ValueError as exc:
        reader.error(path, f"{exc}; write host:port, e.g. 127.0.0.1:8080")
        return None
    if port == 0 and not port_zero:
        reader.error(path, f"{show(text)}: port 0 names no service; give the port it listens on")
        return None
    return text


def _unique(reader: Reader, links: list[LinkPlan | None]) -> None:
    names: set[str] = set()
    listens: set[tuple[str, str, int]] = set()
    for index, link in enumerate(links):
        if link is None:
            continue
        if link.name in names:
            reader.error(f"links[{index}].name", f"{show(link.name)} is named twice")
        names.add(link.name)
        host, port = split(link.listen)
        if port and (link.protocol, host, port) in listens:
            reader.error(f"links[{index}].listen", f"{link.listen} ({link.protocol}) is used twice")
        listens.add((link.protocol, host, port))
