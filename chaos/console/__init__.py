"""The live web console: the mesh, the clients side by side, faults and runs, in a browser.

- ``server``   ``ConsoleServer``: the service (``async start()`` / ``stop()``)
- ``lifecycle`` the console beside a mesh: launched, found again, stopped
- ``app``      the routes, the browser guard and the token on every write
- ``hub``      one sampler shared by every open page, pushed over a WebSocket
- ``numbers``  a client's big numbers, never a gap for a failing client
- ``runs``     experiments started from the page (step mode, a defence off)
- ``catalog``  the toxics, their attributes, defaults and units, from the registry
- ``topology`` which nodes each link joins, for the diagram
- ``static/``  the page: HTML, one JSDoc-typed module checked by tsc, CSS
"""

from typing import Final

__all__ = ["DEFAULT_PORT"]

DEFAULT_PORT: Final = 17900
"""Beside the embedded mesh's default layout (17000 upwards), free of its ports.

Defined here, not in ``server``, so the CLI names it without importing the console."""
