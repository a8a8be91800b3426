"""HTTP/1.1 faults per request on a TCP link (Toxiproxy's issue 50, open since 2015).

Byte toxics see a stream; HTTP toxics see requests and responses. While a link
has no HTTP toxic nothing here runs and connections keep the splice fast path.
The first HTTP toxic puts an ``HttpRelay`` at the upstream end of each
connection, behind the byte pipelines, so the network's toxics still act on
what the "server" sends, refusals included::

    client ══▶ Pipeline(up: byte toxics) ─▶ HttpRelay ══▶ upstream server
           ◀══ Pipeline(down: byte toxics) ◀─ (h11 both ways, toxics per exchange) ◀══

``exchange.py`` is what an HTTP toxic is handed; ``relay.py`` parses and
re-frames. The toxics are files in ``chaos/proxy/toxics/http_*.py`` on the
``HttpToxic`` base of ``chaos/proxy/toxics/base.py``.
"""
