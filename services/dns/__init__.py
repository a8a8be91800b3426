"""Authoritative DNS for the mesh (``mesh.test.``): UDP + TCP, a zone changeable at run time.

DNSServer (server.py)
 ├── UDPProtocol (udp.py) ─┐
 ├── TCPProtocol (tcp.py) ─┴─► QueryHandler (handler.py) ─► Zone (zone.py, records.py)
 ├── admin API (admin.py) ─────────────────────────────────► Zone
 └── DNSMetrics (metrics.py)
"""

from __future__ import annotations

from services.dns.handler import Outcome, QueryHandler, Transport
from services.dns.records import MAX_TTL
from services.dns.server import DNSServer
from services.dns.zone import RRsetView, SOAFields, Zone

__all__ = [
    "MAX_TTL",
    "DNSServer",
    "Outcome",
    "QueryHandler",
    "RRsetView",
    "SOAFields",
    "Transport",
    "Zone",
]
