"""The plugin's HTTP helpers as a test calls them: each fault seen by a plain http.client,
undone at the end of its block."""

from __future__ import annotations

import http.client
import http.server
import threading
import time
from collections.abc import Iterator

import pytest

from chaos.testing import FaultProxy, Link


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"hello, world\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def link() -> Iterator[Link]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with FaultProxy() as proxy:
        yield proxy.link(f"127.0.0.1:{server.server_address[1]}")
        assert proxy.active == ()
    server.shutdown()
    server.server_close()


def fetch(link: Link) -> tuple[http.client.HTTPResponse, bytes, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(link.host, link.port, timeout=5)
    try:
        connection.request("GET", "/hello")
        response = connection.getresponse()
        return response, response.read(), time.perf_counter() - started
    finally:
        connection.close()


def test_latency_header_and_body(link: Link) -> None:
    with link.http_latency(300, path="/hello"):
        assert fetch(link)[2] >= 0.3
    with link.http_header("X-Injected", "yes"):
        assert fetch(link)[0].getheader("X-Injected") == "yes"
    with link.http_body("replace", body="bye"):
        response, body, _ = fetch(link)
        assert (body, response.getheader("Content-Length")) == (b"bye", "3")
    assert fetch(link)[1] == b"hello, world\n"


def test_abort_and_a_status_for_one_method_only(link: Link) -> None:
    with link.http_abort(5), pytest.raises(http.client.IncompleteRead):
        fetch(link)
    with link.http_status(418, method="POST"):
        assert fetch(link)[0].status == 200
    with link.http_status(418, method="GET", body="teapot"):
        response, body, _ = fetch(link)
        assert (response.status, body) == (418, b"teapot")
