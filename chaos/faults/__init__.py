"""The fault kinds experiments use, by name, and the rollback actions.

Adding a fault kind is one new module here whose class carries ``@register``; every
module of the package is imported below, so nothing else changes (the same shape as
the proxy's toxics). Toxic-backed kinds share one implementation, a row each::

    FAULTS[kind]                   target      module
    latency, bandwidth, loss, ...  link        toxic.py      (one row per toxic type)
    link_down                      link        link_down.py  (both directions, TTL)
    redirect                       api link    redirect.py   (upstream → rogue replica)
    profile                        link        profile.py    (ethernet | wifi | lte)
    node_stop / _kill / _pause     node        node.py       (control API, ?ttl=)
    engine_drain                   node        engine_drain.py (its Swarm engine; ?ttl=)
    dns_record                     record      dns_record.py (janitor puts it back)
    move                           api link    move.py       (new port, SRV follows; TTL)
    catalog_update                 api         catalog_update.py (new versions; janitor)
    clock_skew                     ntp node    clock_skew.py (janitor resets the clock)
    key_rotation                   api         key_rotation.py

Every fault is applied with a TTL enforced outside the runner (the proxy's own
TTL, the control API's ``?ttl=`` or a revert filed with the supervisor's janitor),
and its ``revert`` is safe to call after that TTL already fired.
Rollback actions live in :mod:`chaos.faults.rollbacks` (``ROLLBACKS``).
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import TypeVar

from chaos.experiment.model import FaultStep
from chaos.faults.base import Fault, FaultContext, FaultSpecError

__all__ = [
    "FAULTS",
    "ROLLBACKS",
    "Fault",
    "FaultContext",
    "FaultSpecError",
    "register",
    "validate_step",
]

F = TypeVar("F", bound=type[Fault])

FAULTS: dict[str, Fault] = {}


def register(cls: F) -> F:
    """Class decorator: make ``cls.kind`` usable in experiments (one instance, stateless)."""
    kind = cls.kind
    if kind in FAULTS:
        raise ValueError(f"fault kind {kind!r} registered twice")
    FAULTS[kind] = cls()
    return cls


def validate_step(step: FaultStep) -> Fault:
    """The fault for ``step.kind``, after checking the step; ``FaultSpecError`` names the field."""
    fault = FAULTS.get(step.kind)
    if fault is None:
        raise FaultSpecError("kind", f"unknown fault kind {step.kind!r}; use one of {_kinds()}")
    fault.validate(step)
    return fault


def _kinds() -> str:
    return ", ".join(sorted(FAULTS))


def _import_all() -> None:
    for module in pkgutil.iter_modules(__path__):
        if module.name not in ("base", "rollbacks") and not module.name.startswith("_"):
            importlib.import_module(f"{__name__}.{module.name}")


_import_all()

from chaos.faults.rollbacks import ROLLBACKS  # noqa: E402  (needs the fault modules)
