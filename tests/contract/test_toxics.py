"""What each TCP toxic does to bytes on the wire, measured through both servers.

Tolerances: a delay must be at least its configured value minus 10 ms (timer
slack) and at most the value plus 600 ms (a loaded CI machine); a rate is checked
within a factor of about 2. Each test names the number it checks.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import pytest

from chaos.toxiproxy import Proxy
from tests.contract.conftest import Backend
from tests.contract.helpers import (
    Upstream,
    close,
    connect,
    read_until_end,
    roundtrip,
)

SLACK_BELOW = 0.010
SLACK_ABOVE = 0.600

UpstreamFactory = Callable[..., Awaitable[Upstream]]


def at_least(seconds: float, expected_ms: float) -> bool:
    return seconds >= expected_ms / 1000 - SLACK_BELOW


def about(seconds: float, expected_ms: float) -> bool:
    return at_least(seconds, expected_ms) and seconds <= expected_ms / 1000 + SLACK_ABOVE


async def proxy_to(backend: Backend, upstream: Upstream) -> Proxy:
    return await backend.client.create_proxy("link", "127.0.0.1:0", upstream.address)


# -- latency -------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
async def test_latency_delays_each_direction(backend: Backend, echo: Upstream, stream: str):
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic("link", "latency", stream=stream, attributes={"latency": 200})
    reader, writer = await connect(proxy.listen)
    try:
        for _ in range(2):  # every chunk, not only the first
            assert about(await roundtrip(reader, writer), 200)
    finally:
        await close(writer)


async def test_latency_jitter_stays_within_its_bounds(backend: Backend, echo: Upstream) -> None:
    """Each chunk waits latency ± jitter: 100 ± 50 ms here."""
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic("link", "latency", attributes={"latency": 100, "jitter": 50})
    reader, writer = await connect(proxy.listen)
    try:
        for _ in range(5):
            elapsed = await roundtrip(reader, writer)
            assert at_least(elapsed, 50) and elapsed <= 0.150 + SLACK_ABOVE
    finally:
        await close(writer)


async def test_toxics_reach_open_connections_and_leave_with_removal(backend: Backend, echo):
    proxy = await proxy_to(backend, echo)
    reader, writer = await connect(proxy.listen)
    try:
        assert await roundtrip(reader, writer) < 0.2
        await backend.client.add_toxic("link", "latency", attributes={"latency": 300})
        assert about(await roundtrip(reader, writer), 300)
        await backend.client.update_toxic("link", "latency_downstream", attributes={"latency": 0})
        assert await roundtrip(reader, writer) < 0.2
        await backend.client.update_toxic("link", "latency_downstream", attributes={"latency": 300})
        assert about(await roundtrip(reader, writer), 300)
        await backend.client.remove_toxic("link", "latency_downstream")
        assert await roundtrip(reader, writer) < 0.2
    finally:
        await close(writer)


async def test_toxicity_zero_never_applies(backend: Backend, echo: Upstream) -> None:
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic("link", "latency", toxicity=0.0, attributes={"latency": 1000})
    for _ in range(3):  # toxicity is drawn per connection
        reader, writer = await connect(proxy.listen)
        assert await roundtrip(reader, writer) < 0.5
        await close(writer)


# -- bandwidth -----------------------------------------------------------------------------------


async def test_bandwidth_caps_downstream_rate(backend: Backend, upstreams: UpstreamFactory):
    """64 000 bytes at 100 KB/s: about 0.64 s, certainly over 0.4 s and under 2 s."""
    payload = bytes(64_000)
    upstream = await upstreams(payload=payload, close_after_payload=True)
    proxy = await proxy_to(backend, upstream)
    await backend.client.add_toxic("link", "bandwidth", attributes={"rate": 100})
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    seen = await read_until_end(reader, started=started)
    await close(writer)
    assert (len(seen.data), seen.ended_by) == (len(payload), "eof")
    assert seen.ended_at is not None and 0.4 <= seen.ended_at <= 2.0


async def test_bandwidth_caps_upstream_rate(backend: Backend, echo: Upstream) -> None:
    """The same 64 000 bytes sent by the client, capped on the way to the upstream."""
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic("link", "bandwidth", stream="upstream", attributes={"rate": 100})
    reader, writer = await connect(proxy.listen)
    try:
        elapsed = await roundtrip(reader, writer, bytes(64_000))
    finally:
        await close(writer)
    assert 0.4 <= elapsed <= 2.0


# -- slow_close ----------------------------------------------------------------------------------


async def test_slow_close_delays_the_end_of_stream(backend: Backend, upstreams: UpstreamFactory):
    upstream = await upstreams(payload=b"bye", close_after_payload=True)
    proxy = await proxy_to(backend, upstream)
    await backend.client.add_toxic("link", "slow_close", attributes={"delay": 300})
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    seen = await read_until_end(reader, started=started)
    await close(writer)
    assert (seen.data, seen.ended_by) == (b"bye", "eof")
    assert seen.first_byte_at is not None and seen.first_byte_at < 0.25  # data is not delayed
    assert seen.ended_at is not None and about(seen.ended_at, 300)


# -- timeout -------------------------------------------------------------------------------------


async def test_timeout_swallows_data_then_closes(backend: Backend, echo: Upstream) -> None:
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic("link", "timeout", attributes={"timeout": 300})
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    writer.write(b"anyone there?")
    await writer.drain()
    seen = await read_until_end(reader, started=started)
    await close(writer)
    assert (seen.data, seen.ended_by) == (b"", "eof")
    assert seen.ended_at is not None and about(seen.ended_at, 300)


async def test_timeout_zero_holds_the_connection_open(backend: Backend, echo: Upstream) -> None:
    """``timeout: 0`` never closes: no data, no end of stream, until the toxic goes."""
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic("link", "timeout", attributes={"timeout": 0})
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    writer.write(b"anyone there?")
    await writer.drain()
    seen = await read_until_end(reader, started=started, deadline=0.5)
    assert (seen.data, seen.ended_by) == (b"", "open")
    await backend.client.remove_toxic("link", "timeout_downstream")
    await close(writer)


# -- reset_peer ----------------------------------------------------------------------------------


@pytest.mark.parametrize("after_ms", [0, 300])
async def test_reset_peer_resets_the_connection(backend: Backend, echo: Upstream, after_ms: int):
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic("link", "reset_peer", attributes={"timeout": after_ms})
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    writer.write(b"hello")
    await writer.drain()
    seen = await read_until_end(reader, started=started)
    await close(writer)
    assert seen.ended_by == "reset"  # an RST, not a clean close
    assert seen.ended_at is not None and about(seen.ended_at, after_ms)


# -- slicer --------------------------------------------------------------------------------------


async def test_slicer_cuts_data_into_delayed_slices(backend: Backend, upstreams: UpstreamFactory):
    """100 bytes in 10-byte slices 20 ms (20 000 µs) apart: about 200 ms, many reads."""
    payload = bytes(range(100))
    upstream = await upstreams(payload=payload, close_after_payload=True)
    proxy = await proxy_to(backend, upstream)
    await backend.client.add_toxic(
        "link",
        "slicer",
        attributes={"average_size": 10, "size_variation": 0, "delay": 20_000},
    )
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    seen = await read_until_end(reader, started=started)
    await close(writer)
    assert (seen.data, seen.ended_by) == (payload, "eof")
    assert len(seen.chunks) >= 5, [len(c) for c in seen.chunks]
    assert max(len(c) for c in seen.chunks) < len(payload)
    assert seen.ended_at is not None and at_least(seen.ended_at, 150)


# -- limit_data ----------------------------------------------------------------------------------


async def test_limit_data_downstream_closes_after_the_limit(
    backend: Backend, upstreams: UpstreamFactory
) -> None:
    upstream = await upstreams(payload=bytes(1000))
    proxy = await proxy_to(backend, upstream)
    await backend.client.add_toxic("link", "limit_data", attributes={"bytes": 100})
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    seen = await read_until_end(reader, started=started)
    await close(writer)
    assert (len(seen.data), seen.ended_by) == (100, "eof")


async def test_limit_data_upstream_stops_forwarding_after_the_limit(backend: Backend, echo):
    proxy = await proxy_to(backend, echo)
    await backend.client.add_toxic(
        "link", "limit_data", stream="upstream", attributes={"bytes": 100}
    )
    started = time.monotonic()
    reader, writer = await connect(proxy.listen)
    writer.write(bytes(1000))
    await writer.drain()
    seen = await read_until_end(reader, started=started)
    await close(writer)
    assert seen.ended_by in ("eof", "reset")
    assert len(seen.data) <= 100
    assert len(echo.received) <= 100
