"""Faults in your own test suite, with or without pytest.

    from chaos.testing import FaultProxy

    with FaultProxy() as proxy:                      # the project's proxy, in-process
        shop = proxy.link("127.0.0.1:8080")          # your service; clients use shop.port
        with shop.latency(800, jitter=200):          # reverted at the end of the block,
            ...                                      # or after its TTL whatever happens

Under pytest the plugin (``chaos.testing.plugin``, registered as ``fallacies``) gives
the same as fixtures: ``fault_proxy``, ``link_to``, ``dns_zone`` and ``lying_ntp``.
"""

from chaos.testing._proxy import (
    DEFAULT_TTL_S,
    Fault,
    FaultProxy,
    FaultProxyError,
    Link,
    LinkTo,
)
from chaos.testing._servers import LyingNtp, TestZone

__all__ = [
    "DEFAULT_TTL_S",
    "Fault",
    "FaultProxy",
    "FaultProxyError",
    "Link",
    "LinkTo",
    "LyingNtp",
    "TestZone",
]
