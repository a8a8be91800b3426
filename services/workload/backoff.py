"""Exponential backoff with full jitter, as a bounded and reproducible schedule.

Full jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): the n-th
retry waits a uniform draw from [0, min(cap, base·2ⁿ)]. Spreading retries over the
whole window keeps clients that failed together from retrying together, which is
what turns a blip into a thundering herd.
"""

from __future__ import annotations

import random
from collections.abc import Iterator


class Backoff:
    """Delays in seconds; ``rng`` is injectable (seeded) so a run can be replayed."""

    def __init__(
        self,
        *,
        base_s: float,
        cap_s: float,
        max_attempts: int,
        rng: random.Random | None = None,
    ) -> None:
        if base_s <= 0 or cap_s <= 0:
            raise ValueError("base_s and cap_s must be greater than 0")
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.base_s = base_s
        self.cap_s = cap_s
        self.max_attempts = max_attempts
        self._rng = rng if rng is not None else random.Random()

    def ceiling(self, retry: int) -> float:
        """Upper bound of the wait before retry ``retry`` (0-based)."""
        return min(self.cap_s, self.base_s * 2.0 ** min(retry, 62))

    def delay(self, retry: int) -> float:
        return self._rng.uniform(0.0, self.ceiling(retry))

    def schedule(self) -> Iterator[float]:
        """The waits between attempts: ``max_attempts - 1`` of them, then it ends."""
        for retry in range(self.max_attempts - 1):
            yield self.delay(retry)
