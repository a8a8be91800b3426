"""The ``workload`` node: a naive and a resilient client running the same journey side by side.

WorkloadService (service.py) ── NaiveClient (naive.py) ─┐   journey.py runs both:
                                └─ ResilientClient (resilient.py) ┘ resolve, write, catalog, items
   each client: resolver.py (DNS) · timesync.py + clock.py (NTP) · http.py (signed, traced)
   resilient adds: balancer.py (EWMA) · backoff.py (full jitter) · keys.py (discovery)
   measured in metrics.py; configured by config.py
"""

from services.workload.config import Defences, WorkloadConfig
from services.workload.service import WorkloadService

__all__ = ["Defences", "WorkloadConfig", "WorkloadService"]
