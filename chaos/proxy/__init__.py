"""The playground's fault proxy: named TCP and UDP links with toxics, driven through
a Toxiproxy 2.x compatible REST API.

::

                       REST API (api.py, aiohttp, loopback)          /metrics, /audit
                                  │
                       ProxyCollection (collection.py)   name → Proxy
                                  │
         Proxy "api-1" (proxy.py) ├── ToxicCollection (toxic_collection.py)
                                  │      chain[upstream]   [latency_upstream]
                                  │      chain[downstream] [bandwidth_downstream, ...]
                                  │
                ┌─────────────────┴────────────────────┐
        TcpLink (tcp_link.py)                  UdpLink (udp_link.py)
        listener + Connection per client       listener + session per client address
        ┌── Pipeline(upstream) ──┐             datagram ─▶ toxic.datagram() ... ─▶ send
   client                      upstream        (one chunk = one datagram;
        └─ Pipeline(downstream) ─┘              a toxic returns [(delay, bytes), ...])
             │
             └ no toxics: splice(2) between the sockets (splice_relay.py, the fast path)
               toxics:    feed → Channel → ToxicStub(toxic.pipe) → ... → sink → transport

Toxics live in ``toxics/``, one file each, registered with ``@register("name")``
(see CREATING_TOXICS.md). ``ProxyServer`` (server.py) is the mesh node;
``load_config`` reads a Toxiproxy ``-config`` style file.
"""

from __future__ import annotations

from chaos.proxy.config import ConfigError, load_config
from chaos.proxy.server import ProxyServer

__all__ = ["ConfigError", "ProxyServer", "load_config"]
