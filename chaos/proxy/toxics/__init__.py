"""The toxic registry: ``@register("name")`` on a class, one file per toxic.

Every module in this package is imported at start-up, so adding a toxic is one
new file whose class carries the decorator; nothing else changes.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import TypeVar

from chaos.proxy.stream import NetProtocol
from chaos.proxy.toxics.base import TCP, UDP, HttpToxic, TcpToxic, Toxic, UdpToxic

__all__ = ["REGISTRY", "lookup", "register", "types_for"]

T = TypeVar("T", bound=type[Toxic])

_registry: dict[str, type[Toxic]] = {}
REGISTRY: Mapping[str, type[Toxic]] = _registry


def register(type_name: str) -> Callable[[T], T]:
    """Class decorator: make ``type_name`` creatable through the API.

    Checks that the class implements what its ``protocols`` promise, so a typo
    fails at import instead of on the first connection.
    """

    def decorate(cls: T) -> T:
        if type_name in _registry:
            raise ValueError(f"toxic type {type_name!r} registered twice")
        if TCP in cls.protocols and not issubclass(cls, (TcpToxic, HttpToxic)):
            raise TypeError(f"{cls.__name__} declares tcp but has no pipe()")
        if UDP in cls.protocols and not issubclass(cls, UdpToxic):
            raise TypeError(f"{cls.__name__} declares udp but has no datagram()")
        cls.type_name = type_name
        _registry[type_name] = cls
        return cls

    return decorate


def lookup(type_name: str) -> type[Toxic] | None:
    return _registry.get(type_name)


def types_for(protocol: NetProtocol) -> list[str]:
    """Registered type names that work on a link of ``protocol``, sorted."""
    return sorted(name for name, cls in _registry.items() if protocol in cls.protocols)


def _import_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name != "base":
            importlib.import_module(f"{__name__}.{module.name}")


_import_all()
