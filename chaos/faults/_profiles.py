"""Link profiles for "the network is homogeneous": Ethernet, Wi-Fi and LTE as numbers.

Every medium has a ceiling set by physics, Shannon's law (the seed article
"Wireless Networks and Shannon's Law"): ``C = W · log2(1 + S/N)`` bit/s for a
channel ``W`` Hz wide at signal-to-noise ratio ``S/N``. What an application gets is
a share of that: the line code, the medium access protocol and framing take the
rest. The share is the modelled part, stated per profile with its reason.

    ethernet  1000BASE-T: 4 pairs × 62.5 MHz (125 MBd per pair), 30 dB after echo
              cancellation -> C ≈ 2.49 Gb/s. The PAM-5 code carries 1 Gb/s of that
              (40 %) and framing keeps 95 % (1460 B of payload per 1538 B on the
              wire): 38 % -> ~947 Mb/s. Switched and full duplex: no contention, so
              no jitter; 1 ms each way (the toxic's resolution; a LAN hop is less).
    wifi      one 20 MHz 802.11 channel, one spatial stream, 25 dB -> C ≈ 166 Mb/s.
              CSMA/CA listens before every frame (DIFS + a random backoff) and waits
              for an ACK after it, on a half-duplex medium every station shares:
              about 50 % -> ~83 Mb/s. The random backoff is why Wi-Fi's delay varies
              about as much as it lasts: 8 ± 6 ms each way.
    lte       a 5 MHz carrier at 10 dB (a cell edge) -> C ≈ 17.3 Mb/s. Reference
              signals and control channels take about a quarter of the resource
              elements and the scheduler shares the cell: about 50 % -> ~8.6 Mb/s.
              Scheduling grants and the core network's path: 30 ± 10 ms each way.

The same cap is put on both directions (a simplification: LTE's uplink is
narrower, Wi-Fi's airtime is shared by both directions).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["PROFILES", "Profile", "describe"]


@dataclass(frozen=True)
class Profile:
    name: str
    channel_hz: float
    """W, the width of one channel (Hz)."""
    channels: int
    """Channels used in parallel (Ethernet's four pairs; one Wi-Fi stream; one LTE carrier)."""
    snr_db: float
    share: float
    """Fraction of the Shannon capacity an application gets (line code, MAC, framing)."""
    latency_ms: int
    """Added one-way delay, each direction."""
    jitter_ms: int
    """± uniform around ``latency_ms``."""
    why: str

    @property
    def snr(self) -> float:
        """S/N as a power ratio (30 dB -> 1000)."""
        return float(10 ** (self.snr_db / 10))

    @property
    def capacity_bps(self) -> float:
        """Shannon's bound, C = channels · W · log2(1 + S/N), bit/s."""
        return self.channels * self.channel_hz * math.log2(1 + self.snr)

    @property
    def effective_bps(self) -> float:
        return self.capacity_bps * self.share

    @property
    def rate_kb_s(self) -> int:
        """The bandwidth toxic's ``rate``: KB/s with 1 KB = 1000 B, rounded down."""
        return int(self.effective_bps / 8 / 1000)

    def describe(self) -> str:
        return (
            f"{self.name}: C = {self.channels} × {self.channel_hz / 1e6:g} MHz × "
            f"log2(1 + {self.snr:.0f}) [{self.snr_db:g} dB] = {_bps(self.capacity_bps)}; "
            f"{self.share:.0%} of it ({self.why}) = {_bps(self.effective_bps)} "
            f"-> bandwidth {self.rate_kb_s} KB/s each way, "
            f"latency {self.latency_ms} ± {self.jitter_ms} ms each way"
        )


def _bps(value: float) -> str:
    for unit, scale in (("Gb/s", 1e9), ("Mb/s", 1e6), ("kb/s", 1e3)):
        if value >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value:.0f} b/s"


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            "ethernet",
            channel_hz=62.5e6,
            channels=4,
            snr_db=30,
            share=0.40 * 0.95,
            latency_ms=1,
            jitter_ms=0,
            why="PAM-5 line code 40 %, framing 95 %",
        ),
        Profile(
            "wifi",
            channel_hz=20e6,
            channels=1,
            snr_db=25,
            share=0.5,
            latency_ms=8,
            jitter_ms=6,
            why="CSMA/CA backoff and ACKs on a shared half-duplex channel",
        ),
        Profile(
            "lte",
            channel_hz=5e6,
            channels=1,
            snr_db=10,
            share=0.5,
            latency_ms=30,
            jitter_ms=10,
            why="reference signals, control channels and a shared cell",
        ),
    )
}


def describe(names: tuple[str, ...] | None = None) -> str:
    """The numbers behind each profile, one line each, for the workshop narration."""
    return "\n".join(PROFILES[name].describe() for name in (names or tuple(PROFILES)))
