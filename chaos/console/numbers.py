"""A client's big numbers for the console, from the last seconds of workload scrapes.

The signals the experiments judge by (``chaos.signals``) answer ``None`` when a
window has nothing to divide — right for a verdict, wrong for a room watching a
client fail: a blank chart reads as "no data", not as "broken". So here every
``None`` becomes what it means for the person watching: no journey finished while
one runs is a success ratio of 0 and a p99 at least as long as that journey has
been running; the requests of a journey that never ends all count towards it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final, TypedDict

from chaos.signals import SIGNALS
from chaos.signals.base import Snapshot
from chaos.signals.library import JOURNEYS
from chaos.signals.window import gauge_last, increase, sel, total

__all__ = ["FAILING_BELOW", "STUCK_AFTER_S", "Numbers", "numbers"]

FAILING_BELOW: Final = 0.9
"""A success ratio below this marks the client failing (the experiments' own bar)."""
STUCK_AFTER_S: Final = 5.0
"""A journey running longer than this marks the client failing: it is stuck."""

_OFFSET = sel("fallacies_workload_clock_offset_seconds")
_FORGED = sel('fallacies_workload_forged_responses_total{action="accepted"}')
_KEY_REJECTS = sel('fallacies_workload_rejects_total{reason=~"InvalidKeyId|SignatureDoesNotMatch"}')
_REQUESTS = sel("fallacies_workload_requests_total")
_BYTES = (
    sel("fallacies_workload_received_bytes_total"),
    sel("fallacies_workload_sent_bytes_total"),
)


class Numbers(TypedDict):
    success_ratio: float
    p50_s: float
    p99_s: float
    requests_per_journey: float
    bytes_per_journey: float
    clock_offset_s: float
    forged_accepted: float
    key_rejections: float
    journeys: float
    running_s: float
    failing: bool


def _finite(value: float | None, default: float = 0.0) -> float:
    return default if value is None or not math.isfinite(value) else float(value)


def numbers(window: Sequence[Snapshot], client: str) -> Numbers:
    """The client's numbers over ``window`` (oldest first, the delta base included; at
    least two scrapes, or nothing has been counted yet)."""
    if len(window) < 2:
        raise ValueError("numbers need at least two scrapes")
    latest = window[-1:]
    running = _finite(SIGNALS["journey_age_seconds"].value(latest, client))
    finished = _finite(increase(window, JOURNEYS.where(client=client)))
    success = SIGNALS["journey_success_ratio"].value(window, client)
    p50 = SIGNALS["journey_p50_seconds"].value(window, client)
    p99 = SIGNALS["journey_p99_seconds"].value(window, client)
    requests = _finite(increase(window, _REQUESTS.where(client=client)))
    sent = math.fsum(_finite(increase(window, s.where(client=client))) for s in _BYTES)
    per = max(finished, 1.0)
    success_ratio = _finite(success)
    return Numbers(
        success_ratio=success_ratio,
        p50_s=max(_finite(p50), running if p50 is None else 0.0),
        p99_s=max(_finite(p99), running),
        requests_per_journey=requests / per,
        bytes_per_journey=sent / per,
        clock_offset_s=_finite(gauge_last(latest, _OFFSET.where(client=client))),
        forged_accepted=_finite(total(window[-1], _FORGED.where(client=client))),
        key_rejections=_finite(total(window[-1], _KEY_REJECTS.where(client=client))),
        journeys=_finite(total(window[-1], JOURNEYS.where(client=client))),
        running_s=running,
        failing=success_ratio < FAILING_BELOW or running > STUCK_AFTER_S,
    )
