"""Window helpers: what a Prometheus query would say, computed from the runner's snapshots.

A *window* is a sequence of snapshots, oldest first. The first snapshot is the base
of every delta (the runner passes the snapshot just before a phase starts for that
reason), so a window of fewer than two snapshots has no delta and the counter
helpers answer ``None``.

Series are picked with a PromQL-like selector,
``sel('fallacies_workload_journeys_total{outcome!="ok"}')``,
and the helpers mirror PromQL without its extrapolation:

===================  ==============================================================
``total``            sum of the matching series in one snapshot
``increase``         per-series delta first → last, counter resets handled, summed
``rate``             ``increase`` / seconds between the first and last snapshot
``ratio``            ``increase(num) / increase(den)``; ``None`` when the denominator
                     did not move
``histogram_quantile``  PromQL's ``histogram_quantile`` over the bucket increases
``gauge_max/mean/last`` the gauge over time, series combined per snapshot first
===================  ==============================================================

Missing data is told apart from zero: a series absent from a snapshot whose node
*was* scraped does not exist yet (counted from 0 when it appears, so a labelled
child created mid-window counts fully), while a node that was not scraped that
round (``Sampler.failures``) contributes nothing — its series keep their last value
rather than dropping to zero and faking a reset.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from chaos.signals.base import Labels, SeriesKey, Snapshot

__all__ = [
    "Combine",
    "Matcher",
    "Selector",
    "SeriesMap",
    "between",
    "bucket_quantile",
    "gauge_last",
    "gauge_max",
    "gauge_mean",
    "gauge_points",
    "histogram_quantile",
    "increase",
    "label",
    "ratio",
    "rate",
    "sel",
    "total",
]

NODE = "node"
MatchOp = Literal["=", "!=", "=~", "!~"]
Combine = Literal["sum", "max", "min", "absmax"]
"""How the matching series of one snapshot become one gauge value."""


def label(labels: Labels, name: str) -> str:
    """A label's value, ``""`` when absent (PromQL's convention for matching)."""
    for key, value in labels:
        if key == name:
            return value
    return ""


# -- selectors ------------------------------------------------------------------------


@dataclass(frozen=True)
class Matcher:
    """One label matcher; regexes are anchored like PromQL's."""

    label: str
    op: MatchOp
    value: str
    _regex: re.Pattern[str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.op in ("=~", "!~"):
            object.__setattr__(self, "_regex", re.compile(self.value))

    def matches(self, actual: str) -> bool:
        if self._regex is not None:
            return (self._regex.fullmatch(actual) is not None) == (self.op == "=~")
        return (actual == self.value) == (self.op == "=")

    def __str__(self) -> str:
        return f'{self.label}{self.op}"{self.value}"'


_SELECTOR = re.compile(r"\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*(?:\{(.*)\})?\s*\Z", re.DOTALL)
_MATCHER = re.compile(r'\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*(,|\Z)')


@dataclass(frozen=True)
class Selector:
    """A sample name plus label matchers: which series of a snapshot a helper reads."""

    name: str
    matchers: tuple[Matcher, ...] = ()

    @classmethod
    def parse(cls, text: str) -> Selector:
        """``name{label="v",label!="v",label=~"a|b"}`` — PromQL's instant-vector syntax."""
        whole = _SELECTOR.match(text)
        if whole is None:
            raise ValueError(f"not a series selector: {text!r}")
        name, body = whole.group(1), (whole.group(2) or "").strip()
        matchers: list[Matcher] = []
        pos = 0
        while pos < len(body):
            m = _MATCHER.match(body, pos)
            if m is None:
                raise ValueError(f"bad label matcher in {text!r} at {body[pos:]!r}")
            value = m.group(3).replace('\\"', '"').replace("\\\\", "\\")
            matchers.append(Matcher(m.group(1), m.group(2), value))  # type: ignore[arg-type]
            pos = m.end()
        return cls(name, tuple(matchers))

    def where(self, **equal: str) -> Selector:
        """The same selector narrowed with ``label="value"`` matchers (e.g. the client)."""
        extra = tuple(Matcher(key, "=", value) for key, value in equal.items())
        return Selector(self.name, self.matchers + extra)

    def suffixed(self, suffix: str) -> Selector:
        """``x`` → ``x_bucket``: a histogram's selector names its base, helpers add the part."""
        return Selector(self.name + suffix, self.matchers)

    def matches(self, labels: Labels) -> bool:
        return all(m.matches(label(labels, m.label)) for m in self.matchers)

    def __str__(self) -> str:
        inner = ",".join(str(m) for m in self.matchers)
        return f"{self.name}{{{inner}}}" if inner else self.name


def sel(text: str) -> Selector:
    """Shorthand for ``Selector.parse``."""
    return Selector.parse(text)


# -- snapshot values ------------------------------------------------------------------


class SeriesMap(Mapping[SeriesKey, float]):
    """A snapshot's values, indexed by sample name, knowing which nodes were scraped.

    Helpers work on any ``Mapping``; this one saves them a scan of every series per
    lookup (the workload alone exposes several hundred) and records the nodes that
    answered, which tells "not scraped" apart from "no such series yet".
    """

    __slots__ = ("_values", "_by_name", "nodes")

    def __init__(
        self, values: dict[SeriesKey, float], *, nodes: Iterable[str] | None = None
    ) -> None:
        self._values = values
        self._by_name: dict[str, list[SeriesKey]] | None = None
        self.nodes: frozenset[str] = frozenset(nodes) if nodes is not None else _nodes_in(values)
        """Nodes scraped for this snapshot (given by the sampler, else read off the labels)."""

    def __getitem__(self, key: SeriesKey) -> float:
        return self._values[key]

    def __iter__(self) -> Iterator[SeriesKey]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def named(self, name: str) -> Sequence[SeriesKey]:
        if self._by_name is None:
            index: dict[str, list[SeriesKey]] = {}
            for key in self._values:
                index.setdefault(key[0], []).append(key)
            self._by_name = index
        return self._by_name.get(name, ())


def _nodes_in(values: Mapping[SeriesKey, float]) -> frozenset[str]:
    return frozenset(label(labels, NODE) for _, labels in values)


def _scraped(values: Mapping[SeriesKey, float]) -> frozenset[str]:
    return values.nodes if isinstance(values, SeriesMap) else _nodes_in(values)


def _named(values: Mapping[SeriesKey, float], name: str) -> Iterable[SeriesKey]:
    if isinstance(values, SeriesMap):
        return values.named(name)
    return (key for key in values if key[0] == name)


def _keys(
    values: Mapping[SeriesKey, float],
    selector: Selector,
    memo: dict[SeriesKey, bool] | None = None,
) -> list[SeriesKey]:
    """Matching keys of one snapshot. ``memo`` carries match results across a window:
    every snapshot repeats the same label sets, and matching is what a signal costs."""
    if memo is None:
        return [key for key in _named(values, selector.name) if selector.matches(key[1])]
    found = []
    for key in _named(values, selector.name):
        matched = memo.get(key)
        if matched is None:
            matched = memo[key] = selector.matches(key[1])
        if matched:
            found.append(key)
    return found


def _window_keys(window: Sequence[Snapshot], selector: Selector) -> list[SeriesKey]:
    """Keys matching in any snapshot of the window, in first-seen order."""
    memo: dict[SeriesKey, bool] = {}
    for snap in window:
        _keys(snap.values, selector, memo)
    return [key for key, matched in memo.items() if matched]


def between(snapshots: Sequence[Snapshot], start: float, end: float) -> list[Snapshot]:
    """Snapshots with ``start <= t <= end`` plus the one just before (the delta base).

    The same rule as the runner's phase windows, so a helper over ``between(...)``
    counts what happened from ``start`` on.
    """
    inside = [s for s in snapshots if start <= s.t <= end]
    before = [s for s in snapshots if s.t < start]
    return ([before[-1]] if before else []) + inside


# -- counters -------------------------------------------------------------------------


def total(snapshot: Snapshot, selector: Selector) -> float | None:
    """Sum of the matching series in one snapshot; ``None`` when none match."""
    found = [snapshot.values[key] for key in _keys(snapshot.values, selector)]
    return math.fsum(found) if found else None


def _increases(window: Sequence[Snapshot], selector: Selector) -> dict[SeriesKey, float]:
    """Per-series increase over the window, PromQL-style reset handling, no extrapolation."""
    keys = _window_keys(window, selector)
    if not keys:
        return {}
    scraped = [_scraped(snap.values) for snap in window]
    out: dict[SeriesKey, float] = {}
    for key in keys:
        node = label(key[1], NODE)
        prev: float | None = None
        grown = 0.0
        for snap, nodes in zip(window, scraped, strict=True):
            value = snap.values.get(key)
            if value is None:
                if node not in nodes:
                    continue  # not scraped this round: no information, not a reset
                value = 0.0  # scraped without it: the series does not exist (yet)
            if math.isnan(value):
                continue
            if prev is not None:
                grown += value - prev if value >= prev else value
            prev = value
        out[key] = grown
    return out


def increase(window: Sequence[Snapshot], selector: Selector) -> float | None:
    """How much the matching counters grew over the window (summed); None below 2 snapshots.

    A drop is a reset (the process restarted): the new value is what grew since. No
    matching series means nothing happened, so 0 — a labelled child that was never
    incremented is simply not exposed.
    """
    if len(window) < 2:
        return None
    return math.fsum(_increases(window, selector).values())


def rate(window: Sequence[Snapshot], selector: Selector) -> float | None:
    """``increase`` per second of the window; None below 2 snapshots or a zero span."""
    grown = increase(window, selector)
    if grown is None:
        return None
    span = window[-1].t - window[0].t
    return grown / span if span > 0 else None


def ratio(
    window: Sequence[Snapshot], numerator: Selector, denominator: Selector, *, scale: float = 1.0
) -> float | None:
    """``scale × increase(numerator) / increase(denominator)``; None when the denominator
    did not move — "no journey finished" is not "every journey failed"."""
    den = increase(window, denominator)
    if not den:
        return None
    num = increase(window, numerator)
    assert num is not None  # same window length as the denominator
    return scale * num / den


# -- histograms -----------------------------------------------------------------------


def bucket_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float | None:
    """PromQL's ``histogram_quantile`` on cumulative ``(upper bound, count)`` buckets.

    Linear interpolation inside the bucket holding the rank; the lowest bucket starts
    at 0 (unless its bound is ≤ 0); a rank in the ``+Inf`` bucket answers the highest
    finite bound. Non-monotonic counts (deltas across a reset) are flattened upward as
    PromQL does. None when there is no ``+Inf`` bucket or no observation (PromQL: NaN).
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile must be within [0, 1], got {q}")
    merged: dict[float, float] = {}
    for bound, count in buckets:
        merged[bound] = merged.get(bound, 0.0) + count
    ordered = sorted(merged.items())
    if len(ordered) < 2 or not math.isinf(ordered[-1][0]):
        return None
    counts: list[float] = []
    for _, count in ordered:
        counts.append(max(count, counts[-1]) if counts else count)
    observations = counts[-1]
    if observations <= 0:
        return None
    rank = q * observations
    b = next(i for i, count in enumerate(counts) if count >= rank)  # the +Inf one at worst
    if b == len(counts) - 1:
        return ordered[-2][0]
    if b == 0 and ordered[0][0] <= 0:
        return ordered[0][0]
    start, end, count = 0.0, ordered[b][0], counts[b]
    if b > 0:
        start = ordered[b - 1][0]
        count -= counts[b - 1]
        rank -= counts[b - 1]
    if count <= 0:
        return None  # q = 0 with an empty lowest bucket: 0/0, NaN in PromQL
    return start + (end - start) * (rank / count)


def histogram_quantile(q: float, window: Sequence[Snapshot], selector: Selector) -> float | None:
    """The q-quantile of what the histogram ``selector.name`` observed during the window.

    Bucket increases are summed across the matching series by ``le`` (PromQL's
    ``histogram_quantile(q, sum by (le) (increase(x_bucket[w])))``).
    """
    if len(window) < 2:
        return None
    buckets: dict[float, float] = {}
    for key, grown in _increases(window, selector.suffixed("_bucket")).items():
        try:
            bound = float(label(key[1], "le"))
        except ValueError:
            continue
        buckets[bound] = buckets.get(bound, 0.0) + grown
    return bucket_quantile(q, buckets.items())


# -- gauges ---------------------------------------------------------------------------


def _combine(values: list[float], how: Combine) -> float:
    if how == "sum":
        return math.fsum(values)
    if how == "max":
        return max(values)
    if how == "min":
        return min(values)
    return max(abs(v) for v in values)


def gauge_points(
    window: Sequence[Snapshot], selector: Selector, *, combine: Combine = "sum"
) -> list[tuple[float, float]]:
    """``(t, value)`` per snapshot holding a matching series, series combined by ``combine``."""
    points: list[tuple[float, float]] = []
    memo: dict[SeriesKey, bool] = {}
    for snap in window:
        found = [snap.values[key] for key in _keys(snap.values, selector, memo)]
        found = [v for v in found if not math.isnan(v)]
        if found:
            points.append((snap.t, _combine(found, combine)))
    return points


def gauge_max(
    window: Sequence[Snapshot], selector: Selector, *, combine: Combine = "sum"
) -> float | None:
    """Largest value over the window; a gauge's peak is what a 1 s chart would show."""
    points = gauge_points(window, selector, combine=combine)
    return max(v for _, v in points) if points else None


def gauge_mean(
    window: Sequence[Snapshot], selector: Selector, *, combine: Combine = "sum"
) -> float | None:
    """Mean of the sampled values (each snapshot weighs the same: samples are ~1 s apart)."""
    points = gauge_points(window, selector, combine=combine)
    return math.fsum(v for _, v in points) / len(points) if points else None


def gauge_last(
    window: Sequence[Snapshot], selector: Selector, *, combine: Combine = "sum"
) -> float | None:
    """The latest sampled value in the window."""
    points = gauge_points(window, selector, combine=combine)
    return points[-1][1] if points else None
