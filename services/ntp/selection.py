"""Which servers to believe: Marzullo's intersection, as NTP's clock-select runs it.

Each sample says "the true offset lies in [θ − λ, θ + λ]" (λ = root distance: half the
round trip plus what the server admits). Intervals of honest servers all contain the
true offset, so they overlap; a liar's interval sits apart. The algorithm looks for the
smallest number f of falsetickers such that some stretch is covered by at least n − f
intervals, with f < n/2 — a majority must agree or nothing is chosen::

    ntp-a  |----*----|
    ntp-b     |---*---|
    ntp-c                                  |---*---|   (told to lie +5 s)
              [=====]  intersection: covered by 2 of 3, f = 1
    truechimers: a, b          falseticker: c

Survivors are the servers whose intervals reach into the intersection; the chosen offset
is their average weighted by 1/λ (tighter intervals count more), as in NTP's combine step.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from services.common.errors import FallaciesError
from services.ntp.client import Sample

MAX_DISTANCE: Final = 1.5
"""Seconds: a sample whose root distance exceeds this is no clock at all (NTP's MAXDIST)."""


class NoMajorityError(FallaciesError, ValueError):
    """Fewer than a majority of the usable servers agree on any time."""


@dataclass(frozen=True, slots=True)
class Selection:
    """The outcome; offsets and bounds in seconds, servers by their ``Sample.server``."""

    offset: float
    low: float
    high: float
    truechimers: tuple[str, ...]
    falsetickers: tuple[str, ...]
    unusable: tuple[str, ...]


def select(samples: Sequence[Sample], *, max_distance: float = MAX_DISTANCE) -> Selection:
    """Pick the majority's offset out of one sample per server; raise ``NoMajorityError``.

    Unsynchronised servers (LI=3, stratum 0 or > 15) and samples wider than
    ``max_distance`` take no part and are reported as ``unusable``.
    """
    usable = [s for s in samples if s.synchronized and s.root_distance <= max_distance]
    unusable = tuple(s.server for s in samples if s not in usable)
    n = len(usable)
    if n == 0:
        raise NoMajorityError("no usable samples")

    # Edges sorted by value; at equal values an interval opens before another closes,
    # so intervals that merely touch still count as overlapping.
    edges = sorted(
        [(s.offset - s.root_distance, -1) for s in usable]
        + [(s.offset + s.root_distance, +1) for s in usable]
    )
    for falsetickers in range((n + 1) // 2):
        needed = n - falsetickers
        low = _first_covered(edges, needed)
        top = _first_covered([(-value, -kind) for value, kind in reversed(edges)], needed)
        if low is not None and top is not None:
            high = -top
            break
    else:
        raise NoMajorityError(
            f"no {n // 2 + 1} of {n} servers agree: "
            + ", ".join(f"{s.server} {s.offset:+.6f}±{s.root_distance:.6f}" for s in usable)
        )

    chosen = [s for s in usable if s.offset - s.root_distance <= high]
    chosen = [s for s in chosen if s.offset + s.root_distance >= low]
    weights = [1 / s.root_distance for s in chosen]
    offset = sum(w * s.offset for w, s in zip(weights, chosen, strict=True)) / sum(weights)
    names = {s.server for s in chosen}
    return Selection(
        offset=offset,
        low=low,
        high=high,
        truechimers=tuple(s.server for s in usable if s.server in names),
        falsetickers=tuple(s.server for s in usable if s.server not in names),
        unusable=unusable,
    )


def _first_covered(edges: Sequence[tuple[float, int]], needed: int) -> float | None:
    """Sweeping up, the first value where ``needed`` intervals are open at once."""
    open_now = 0
    for value, kind in edges:
        open_now -= kind
        if open_now >= needed:
            return value
    return None
