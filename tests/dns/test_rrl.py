"""Response rate limiting: a spoofed flood is not reflected, a real client gets through.

Found by an outside client: plain UDP had no response rate limiting (nsd, BIND and
Knot ship it), so the server reflected whatever a forged source asked for.
"""

from __future__ import annotations

import dns.flags
import dns.message
from prometheus_client import CollectorRegistry

from services.dns import DNSServer, Transport
from services.dns.rrl import ResponseRateLimiter, truncated
from tests.dns.helpers import UDPClient
from tests.polling import eventually


def udp_port(server: DNSServer) -> int:
    return int(server.endpoints["udp"].rsplit(":", 1)[1])


def test_a_prefix_shares_one_bucket_and_every_second_limited_answer_slips() -> None:
    limiter = ResponseRateLimiter(rate=10, burst=2, slip=2)
    verdicts = [limiter.verdict(f"192.0.2.{i}", 0.0) for i in range(1, 7)]
    assert verdicts == ["send", "send", "drop", "slip", "drop", "slip"]
    assert limiter.verdict("198.51.100.1", 0.0) == "send"  # another /24
    assert limiter.verdict("192.0.2.9", 0.1) == "send"  # one token refilled
    assert limiter.prefix("2001:db8:1:2:3::1") == "2001:db8:1::/56"


def test_a_slip_is_the_question_with_tc_and_no_larger_than_the_query() -> None:
    query = dns.message.make_query("big.mesh.test.", "TXT")
    response = dns.message.make_response(query)
    response.answer = []
    full = response.to_wire()
    slipped = dns.message.from_wire(truncated(full))
    assert slipped.flags & dns.flags.TC
    assert slipped.question == query.question
    assert not slipped.answer and not slipped.authority and not slipped.additional
    assert len(truncated(full)) <= len(query.to_wire())


async def test_a_flood_from_one_source_is_limited_and_slips_send_it_to_tcp() -> None:
    registry = CollectorRegistry()
    async with DNSServer(
        port=0, admin_port=0, registry=registry, rrl_rate=5, rrl_burst=5, rrl_slip=2
    ) as server:
        client = await UDPClient.connect(udp_port(server))
        try:
            wire = dns.message.make_query("big.mesh.test.", "TXT").to_wire()
            for _ in range(40):
                client.send(wire)

            def counted() -> float:
                return sum(
                    registry.get_sample_value(
                        "fallacies_dns_rate_limited_responses_total", {"action": action}
                    )
                    or 0
                    for action in ("slip", "drop")
                )

            await eventually(lambda: counted() >= 30, timeout=5, what="30 answers limited")
            assert counted() >= 30
            dropped = registry.get_sample_value(
                "fallacies_dns_rate_limited_responses_total", {"action": "drop"}
            )
            received = [
                dns.message.from_wire(await client.receive()) for _ in range(40 - int(dropped or 0))
            ]
            full = [m for m in received if not m.flags & dns.flags.TC]
            slipped = [m for m in received if m.flags & dns.flags.TC]
            assert len(full) <= 6  # the burst, and a token refilled at most
            assert slipped and all(not m.answer for m in slipped)
        finally:
            client.close()


async def test_the_bounded_tables_are_read_at_each_scrape() -> None:
    registry = CollectorRegistry()
    async with DNSServer(port=0, admin_port=0, registry=registry) as server:
        client = await UDPClient.connect(udp_port(server))
        try:
            client.send(dns.message.make_query("api-1.mesh.test.", "A").to_wire())
            await client.receive()
        finally:
            client.close()
        cached = registry.get_sample_value("fallacies_dns_cache_bytes", {"transport": "udp"})
        assert cached == server.handler.cached_bytes(Transport.UDP) > 0
        assert registry.get_sample_value("fallacies_dns_rrl_sources") == 1
