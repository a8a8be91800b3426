"""The ``workload`` node: a naive and a resilient client running the same journey side by side.

WorkloadService (service.py) ── NaiveClient (naive.py) ─┐   journey.py runs both:
                                └─ ResilientClient (resilient.py) ┘ resolve, write, catalog, items
   each client: resolver.py (DNS) · timesync.py + clock.py (NTP) · http.py (signed, traced)
   resilient adds: balancer.py (EWMA) · backoff.py (full jitter) · keys.py (discovery)
   measured in metrics.py; configured by config.py

Import from the modules (``services.workload.service``, ``.config``): the package itself
stays empty, so reading the defences' names (the CLI's help) does not load the clients.
"""
