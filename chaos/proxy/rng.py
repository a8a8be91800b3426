"""Seeded randomness: one ``random.Random`` per link and toxic, derived from ``--seed``.

Deriving per toxic (rather than sharing one generator) keeps a run reproducible
even when toxics are added in a different order: each toxic's toxicity and
jitter draws depend only on the seed, the link name, the toxic name and how many
connections it has seen. Toxiproxy's ``-seed`` creates a generator and throws it
away (Shopify/toxiproxy#274), so its runs cannot be replayed.
"""

from __future__ import annotations

import random

__all__ = ["derive"]


def derive(seed: int | None, *parts: str) -> random.Random:
    """A generator for ``parts`` (e.g. link, toxic); unseeded (OS entropy) when ``seed`` is None."""
    if seed is None:
        return random.Random()
    return random.Random("/".join((str(seed), *parts)))
