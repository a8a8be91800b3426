"""Signals: numbers per client computed from windows of metric snapshots.

``SIGNALS`` is the registry experiments name signals from; ``register`` adds one
(``chaos.signals.library.LIBRARY`` is registered on import). The pieces:

- ``base``     ``Snapshot`` and the ``Signal`` interface
- ``sampler``  scrapes every node's ``/metrics`` into a ``Snapshot``
- ``window``   PromQL-like helpers over a window (increase, rate, ratio, quantile, gauges)
- ``library``  the signal definitions
- ``series``   a signal as a sliding-window time series (charts, live progress)
"""

from __future__ import annotations

from chaos.signals.base import Signal, Snapshot
from chaos.signals.library import LIBRARY
from chaos.signals.series import series

__all__ = ["SIGNALS", "Signal", "Snapshot", "register", "series"]

SIGNALS: dict[str, Signal] = {}
"""Every known signal by name; the names are a contract with the experiment files."""


def register(signal: Signal) -> Signal:
    """Add ``signal`` under its name; a second signal with the same name is a bug."""
    if signal.name in SIGNALS:
        raise ValueError(f"signal {signal.name!r} is already registered")
    SIGNALS[signal.name] = signal
    return signal


for _signal in LIBRARY:
    register(_signal)
del _signal
