"""Your own service under faults, with the `fallacies` pytest plugin (installed with the package).

    pytest examples/test_my_service.py

The service here is a tiny HTTP server and a UDP echo started by the fixtures below;
in your suite it is whatever your code talks to. `link_to("host:port")` puts a link of
the fault proxy in front of it: point the client at `link.port` instead.
"""

from __future__ import annotations

import asyncio
import http.client
import http.server
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

import dns.message
import dns.query
import pytest

from chaos.testing import LinkTo, LyingNtp, TestZone


class _Hello(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keeps the connection open, as most servers do

    def do_GET(self) -> None:
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def shop() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))

    def serve() -> None:
        while True:
            try:
                data, peer = sock.recvfrom(2048)
            except OSError:
                return
            sock.sendto(data, peer)

    threading.Thread(target=serve, daemon=True).start()
    yield f"127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


def get(port: int, timeout: float = 5.0) -> tuple[str, float]:
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", "/")
        return connection.getresponse().read().decode(), time.perf_counter() - started
    finally:
        connection.close()


def test_an_overloaded_shop_says_when_to_come_back(link_to: LinkTo, shop: str) -> None:
    """HTTP faults act per request: on one kept-alive connection, some requests are refused
    and the others go through."""
    link = link_to(shop)
    connection = http.client.HTTPConnection("127.0.0.1", link.port, timeout=5)
    statuses = []
    with link.http_status(503, share=0.5, retry_after=2):
        for _ in range(40):
            connection.request("GET", "/")
            response = connection.getresponse()
            response.read()
            statuses.append(response.status)
            if response.status == 503:
                assert response.getheader("Retry-After") == "2"
    connection.close()
    assert set(statuses) == {200, 503}


def test_a_slow_shop_is_still_answered(link_to: LinkTo, shop: str) -> None:
    link = link_to(shop)
    assert get(link.port)[0] == "hello\n"
    with link.latency(300):
        body, took = get(link.port)
        assert body == "hello\n" and took >= 0.3
    assert get(link.port)[1] < 0.3


def test_a_black_hole_needs_a_timeout(link_to: LinkTo, shop: str) -> None:
    link = link_to(shop)
    with link.black_hole(), pytest.raises(TimeoutError):
        get(link.port, timeout=0.5)


def test_a_cut_link_refuses(link_to: LinkTo, shop: str) -> None:
    link = link_to(shop)
    with link.down(), pytest.raises(OSError):
        get(link.port, timeout=2)
    assert get(link.port)[0] == "hello\n"


def test_lost_datagrams(link_to: LinkTo, echo: str) -> None:
    link = link_to(echo, protocol="udp")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as client:
        client.settimeout(0.5)
        client.sendto(b"ping", link.address)
        assert client.recv(64) == b"ping"
        with link.loss(1.0):
            client.sendto(b"ping", link.address)
            with pytest.raises(TimeoutError):
                client.recv(64)


@pytest.mark.asyncio
async def test_under_pytest_asyncio_too(link_to: LinkTo, shop: str) -> None:
    link = link_to(shop)
    with link.latency(200):
        started = time.perf_counter()
        reader, writer = await asyncio.open_connection(link.host, link.port)
        writer.write(b"GET / HTTP/1.1\r\nHost: shop\r\nConnection: close\r\n\r\n")
        assert b"hello" in await reader.read()
        writer.close()
        await writer.wait_closed()
        assert time.perf_counter() - started >= 0.2


def test_a_name_that_moves(dns_zone: TestZone) -> None:
    def lookup() -> list[str]:
        query = dns.message.make_query(f"shop.{dns_zone.origin}", "A")
        answer = dns.query.udp(query, dns_zone.address[0], port=dns_zone.address[1], timeout=2)
        return [item.to_text() for rrset in answer.answer for item in rrset]

    dns_zone.set("shop", "A", "127.0.0.10", ttl=5)
    assert lookup() == ["127.0.0.10"]
    dns_zone.set("shop", "A", "127.0.0.11", ttl=5)  # the operator moved it
    assert lookup() == ["127.0.0.11"]


NTP_EPOCH_OFFSET = 2_208_988_800  # seconds from 1900 (NTP) to 1970 (Unix)


def sntp_offset(address: tuple[str, int]) -> float:
    """What a minimal SNTP client (RFC 4330) would take its clock's error to be, in s."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(2)
        sent = time.time()
        sock.sendto(b"\x23" + bytes(47), address)  # LI 0, version 4, mode 3 (client)
        reply = sock.recv(48)
        received = time.time()
    seconds, fraction = struct.unpack("!II", reply[40:48])  # the transmit timestamp
    server = float(seconds - NTP_EPOCH_OFFSET + fraction / 2**32)
    return server - (sent + received) / 2


def test_a_time_server_that_lies(lying_ntp: Callable[..., LyingNtp]) -> None:
    server = lying_ntp(offset_s=30)
    assert abs(sntp_offset(server.address) - 30) < 1
    server.lie(offset_s=-5)
    assert abs(sntp_offset(server.address) + 5) < 1
