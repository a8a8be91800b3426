"""A large, deterministic product catalog, serialised and compressed once.

Fallacy 3 (bandwidth is infinite) needs a resource big enough to hurt on a capped
link: the full catalog is over 1 MB of JSON. Its bytes, gzip bytes, hash and ETag
are computed at build time (and pages on first use, then cached) so serving it
costs a memory copy, not a serialisation — the replica stays fast while clients
suffer the transfer.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from services.api.encoding import dumps, gzip_bytes

FIELDS = (
    "id",
    "sku",
    "name",
    "category",
    "description",
    "price_cents",
    "currency",
    "stock",
    "rating",
    "tags",
)

_WORDS = (
    "alpine amber anchor arc aurora basalt beacon birch bolt breeze cedar cinder cobalt "
    "comet copper coral crest dawn delta drift dune echo ember fern fjord flint frost "
    "gale garnet glacier granite harbor hazel heron horizon indigo iris ivory jade juniper "
    "kestrel lagoon lantern larch lumen maple marble meadow mesa mist moss nebula nimbus "
    "north oak onyx opal orbit pebble pine plume prism quartz quill raven reef ridge river "
    "saffron sage shale sierra slate spruce summit tide timber topaz tundra umber vale "
    "velvet willow zephyr"
).split()
_NOUNS = (
    "backpack bottle jacket lamp kettle tent stove blanket compass lantern boots gloves "
    "scarf mug knife rope hammock chair table map"
).split()
_FILLER = (
    "lightweight durable weatherproof recycled handmade insulated compact foldable "
    "breathable ergonomic modular rugged minimalist versatile quiet reliable repairable "
    "designed for long trips and short walks alike with a lifetime warranty and spare "
    "parts available from every mesh replica"
).split()
_CATEGORIES = ("outdoor", "kitchen", "apparel", "lighting", "furniture", "travel")
_TAGS = (
    "new",
    "sale",
    "eco",
    "bestseller",
    "limited",
    "bundle",
    "gift",
    "classic",
    "pro",
    "kids",
    "winter",
    "summer",
    "waterproof",
    "ultralight",
    "refurbished",
)


def generate_items(count: int, *, seed: int, version: int) -> list[dict[str, Any]]:
    """``count`` items with ids 1..count; the same (seed, version) always gives the same items."""
    rng = random.Random(f"catalog:{seed}:{version}")
    items: list[dict[str, Any]] = []
    for item_id in range(1, count + 1):
        noun = rng.choice(_NOUNS)
        name = f"{rng.choice(_WORDS).title()} {rng.choice(_WORDS).title()} {noun.title()}"
        words = [rng.choice(_FILLER) for _ in range(rng.randint(28, 44))]
        description = f"The {name.lower()}: " + " ".join(words) + "."
        items.append(
            {
                "id": item_id,
                "sku": f"SKU-{seed:02d}-{item_id:06d}",
                "name": name,
                "category": rng.choice(_CATEGORIES),
                "description": description,
                "price_cents": rng.randint(199, 99_999),
                "currency": "EUR",
                "stock": rng.randint(0, 500),
                "rating": round(rng.uniform(1.0, 5.0), 1),
                "tags": rng.sample(_TAGS, rng.randint(1, 4)),
            }
        )
    return items


@dataclass(frozen=True)
class Representation:
    """One serialised document: its bytes, gzip bytes, body hash and ETags."""

    identity: bytes
    gzipped: bytes
    sha256: str
    etag: str
    etag_gzip: str

    @classmethod
    def of(cls, document: Any, *, version: int, gzip_level: int) -> Representation:
        identity = dumps(document)
        digest = hashlib.sha256(identity).hexdigest()
        tag = f"v{version}-{digest[:20]}"
        return cls(
            identity=identity,
            gzipped=gzip_bytes(identity, gzip_level),
            sha256=digest,
            etag=f'"{tag}"',
            etag_gzip=f'"{tag}-gzip"',
        )

    def matches(self, if_none_match: str | None) -> bool:
        """Weak comparison, as RFC 9110 prescribes for If-None-Match, across both codings."""
        if not if_none_match:
            return False
        tags = {t.strip().removeprefix("W/") for t in if_none_match.split(",")}
        return "*" in tags or self.etag in tags or self.etag_gzip in tags


@dataclass(frozen=True)
class Page:
    number: int
    per_page: int
    total: int
    pages: int
    body: Representation


class Catalog:
    """An immutable catalog version; a new version is a new ``Catalog`` (and new ETags)."""

    def __init__(
        self,
        items: list[dict[str, Any]],
        *,
        version: int,
        gzip_level: int = 6,
        page_cache_size: int = 64,
    ) -> None:
        self.version = version
        self.items = items
        self._by_id = {item["id"]: item for item in items}
        self._gzip_level = gzip_level
        self._pages: OrderedDict[tuple[int, int], Page] = OrderedDict()
        self._page_cache_size = page_cache_size
        self.full = Representation.of(
            {"version": version, "count": len(items), "items": items},
            version=version,
            gzip_level=gzip_level,
        )
        self.build_seconds = 0.0

    @classmethod
    def build(
        cls,
        count: int,
        *,
        seed: int,
        version: int,
        gzip_level: int = 6,
        warm_per_page: int | None = None,
    ) -> Catalog:
        """Generate, serialise and compress; ``warm_per_page`` precomputes that page size."""
        started = time.perf_counter()
        warm_pages = -(-count // warm_per_page) if warm_per_page else 0
        catalog = cls(
            generate_items(count, seed=seed, version=version),
            version=version,
            gzip_level=gzip_level,
            page_cache_size=warm_pages + 64,
        )
        if warm_per_page:
            for number in range(1, warm_pages + 1):
                catalog.page(number, warm_per_page)
        catalog.build_seconds = time.perf_counter() - started
        return catalog

    def item(self, item_id: int) -> dict[str, Any] | None:
        return self._by_id.get(item_id)

    def page(self, number: int, per_page: int) -> Page:
        """Page ``number`` (1-based); past the end it is an empty page, not an error."""
        cache_key = (number, per_page)
        cached = self._pages.get(cache_key)
        if cached is not None:
            self._pages.move_to_end(cache_key)
            return cached
        total = len(self.items)
        pages = max(1, -(-total // per_page))
        start = (number - 1) * per_page
        chunk = self.items[start : start + per_page]
        document = {
            "version": self.version,
            "page": number,
            "per_page": per_page,
            "total": total,
            "pages": pages,
            "next": f"/catalog?page={number + 1}&per_page={per_page}" if number < pages else None,
            "items": chunk,
        }
        page = Page(
            number,
            per_page,
            total,
            pages,
            Representation.of(document, version=self.version, gzip_level=self._gzip_level),
        )
        self._pages[cache_key] = page
        if len(self._pages) > self._page_cache_size:
            self._pages.popitem(last=False)
        return page
