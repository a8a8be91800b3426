"""Finding the API: SRV for targets and ports, A for each target, plus a large TXT answer.

    SRV _api._tcp.mesh.test. ──► (port, target) ... ──► A target ──► Endpoint(node, ip, port)
    TXT big.mesh.test.        ──► ~700 bytes: over 512, so it needs EDNS0 or TCP

Naive: dnspython's stub resolver exactly as it comes — no EDNS (so the large TXT
comes back with TC set and is asked again over TCP, as glibc's resolver does too),
2 s per try within a 5 s lifetime, a cut or garbled datagram ignored until the try
times out — and the API's address looked up once and believed forever (fallacy 5),
the TXT read every journey without caching. Resilient: advertises a 1232-byte EDNS0
payload so the large answer rides one datagram, caches by TTL and re-resolves when
it expires or when the caller reports a failure (``invalidate``); retries a query
over TCP when UDP comes back truncated, malformed or not at all (a path that cuts
large datagrams, fallacy 8); and if re-resolution fails, keeps serving the last good
answer (RFC 8767 serve-stale) rather than none.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import dns.asyncquery
import dns.asyncresolver
import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
from dns.asyncbackend import Backend  # type: ignore[attr-defined]
from dns.rdatatype import RdataType

from services.workload import trace
from services.workload._types import ClientName, Endpoint
from services.workload.config import DnsSettings, parse_address
from services.workload.errors import DnsError
from services.workload.metrics import WorkloadMetrics

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Resolution:
    endpoints: tuple[Endpoint, ...]
    ttl: int


class DnsClient:
    """One query at a time over UDP or TCP, counted in the client's metrics."""

    def __init__(
        self,
        settings: DnsSettings,
        *,
        client: ClientName,
        metrics: WorkloadMetrics | None,
    ) -> None:
        self.settings = settings
        self.client = client
        self.metrics = metrics
        self.udp_at = parse_address(settings.udp, field_name="dns.udp")
        self.tcp_at = parse_address(settings.tcp, field_name="dns.tcp")

    async def query(
        self, name: str, rdtype: RdataType, *, transport: str, timeout: float | None
    ) -> dns.message.Message:
        """Send one query; raise ``DnsError`` unless the answer is NOERROR with ``rdtype`` data."""
        request = dns.message.make_query(
            name, rdtype, use_edns=0, payload=self.settings.edns_payload
        )
        if self.metrics is not None:
            self.metrics.dns_lookups.labels(self.client, transport).inc()
        started = time.perf_counter()
        try:
            response = await self._send(request, transport, timeout)
            _check(response, name, rdtype, transport)
        except DnsError as exc:
            self._failed(exc)
            raise
        finally:
            ended = time.perf_counter()
            trace.record("dns", f"{rdtype.name} {name}", started, ended, transport)
            if self.metrics is not None:
                self.metrics.hop_duration.labels(self.client, "dns").observe(ended - started)
        return response

    async def _send(
        self, request: dns.message.Message, transport: str, timeout: float | None
    ) -> dns.message.Message:
        try:
            if transport == "udp":
                host, port = self.udp_at
                return await dns.asyncquery.udp(request, host, timeout=timeout, port=port)
            host, port = self.tcp_at
            return await dns.asyncquery.tcp(request, host, timeout=timeout, port=port)
        except dns.exception.Timeout as exc:
            raise DnsError("timeout", transport, str(exc) or "no answer in time") from None
        except dns.exception.DNSException as exc:
            raise DnsError("malformed", transport, repr(exc)) from None
        except (OSError, EOFError, ValueError) as exc:
            raise DnsError("network", transport, repr(exc)) from None

    def _failed(self, exc: DnsError) -> None:
        if self.metrics is not None:
            self.metrics.dns_failures.labels(self.client, exc.transport, exc.reason).inc()


def _check(response: dns.message.Message, name: str, rdtype: RdataType, transport: str) -> None:
    if response.flags & dns.flags.TC:
        raise DnsError("truncated", transport, f"TC set on the answer for {name} {rdtype.name}")
    if response.rcode() != dns.rcode.NOERROR:
        raise DnsError("rcode", transport, f"{dns.rcode.to_text(response.rcode())} for {name}")
    qname = dns.name.from_text(name)
    if not any(r.rdtype == rdtype and r.name == qname for r in response.answer):
        raise DnsError("no_answer", transport, f"no {rdtype.name} records for {name}")


def _answer(response: dns.message.Message, name: str, rdtype: RdataType) -> tuple[list[Any], int]:
    rrset = response.find_rrset(
        response.answer, dns.name.from_text(name), dns.rdataclass.IN, rdtype
    )
    return list(rrset), int(rrset.ttl)


Asker = Callable[[str, RdataType], Awaitable[dns.message.Message]]
"""One lookup under a client's transport policy (UDP only, or UDP then TCP)."""


async def resolve_endpoints(srv_name: str, ask: Asker) -> Resolution:
    """SRV, then A of every target of the lowest priority; the TTL is the smallest seen."""
    records, ttl = _answer(await ask(srv_name, RdataType.SRV), srv_name, RdataType.SRV)
    best = min(record.priority for record in records)
    endpoints: list[Endpoint] = []
    last_error: DnsError | None = None
    for record in records:
        if record.priority != best:
            continue
        target: dns.name.Name = record.target
        target_name = target.to_text()
        try:
            addresses, a_ttl = _answer(
                await ask(target_name, RdataType.A), target_name, RdataType.A
            )
        except DnsError as exc:
            last_error = exc
            continue
        ttl = min(ttl, a_ttl)
        node = target.labels[0].decode(errors="replace") if target.labels else "?"
        endpoints.extend(Endpoint(node, a.address, int(record.port)) for a in addresses)
    if not endpoints:
        if last_error is not None:
            raise last_error
        raise DnsError("no_answer", "udp", f"no usable SRV targets for {srv_name}")
    return Resolution(tuple(endpoints), ttl)


class _MeshNameserver(dns.nameserver.Do53Nameserver):
    """The one configured server, as ``/etc/resolv.conf`` would name it, with each query
    counted; only the address of TCP differs (the mesh carries UDP and TCP on two
    links). How and when to use TCP stays dnspython's decision."""

    def __init__(self, udp: tuple[str, int], tcp: tuple[str, int], count: Callable[[str], None]):
        super().__init__(udp[0], udp[1])
        self._tcp = tcp
        self._count = count

    async def async_query(
        self,
        request: dns.message.QueryMessage,
        timeout: float,
        source: str | None,
        source_port: int,
        max_size: bool,
        backend: Backend,
        one_rr_per_rrset: bool = False,
        ignore_trailing: bool = False,
    ) -> dns.message.Message:
        transport = "tcp" if max_size else "udp"
        self._count(transport)
        question = request.question[0] if request.question else None
        what = (
            f"{dns.rdatatype.to_text(question.rdtype)} {question.name}"
            if question is not None
            else "?"
        )
        with trace.span("dns", what, transport):
            if not max_size:
                return await super().async_query(
                    request,
                    timeout,
                    source,
                    source_port,
                    max_size,
                    backend,
                    one_rr_per_rrset,
                    ignore_trailing,
                )
            host, port = self._tcp
            return await dns.asyncquery.tcp(
                request,
                host,
                timeout=timeout,
                port=port,
                source=source,
                source_port=source_port,
                backend=backend,
                one_rr_per_rrset=one_rr_per_rrset,
                ignore_trailing=ignore_trailing,
            )


def _stub_error(exc: dns.exception.DNSException) -> DnsError:
    """dnspython's verdict as one of the failure reasons, on the transport it last tried."""
    errors = getattr(exc, "kwargs", {}).get("errors") or []
    transport = "tcp" if errors and errors[-1][1] else "udp"
    if isinstance(exc, dns.resolver.LifetimeTimeout | dns.exception.Timeout):
        return DnsError("timeout", transport, str(exc))
    if isinstance(exc, dns.resolver.NXDOMAIN | dns.resolver.YXDOMAIN):
        return DnsError("rcode", transport, str(exc))
    if isinstance(exc, dns.resolver.NoAnswer):
        return DnsError("no_answer", transport, str(exc))
    last = errors[-1][3] if errors else None
    if isinstance(last, dns.message.Truncated):
        return DnsError("truncated", transport, str(exc))
    if isinstance(last, OSError | EOFError):
        return DnsError("network", transport, str(exc))
    return DnsError("malformed", transport, str(exc))


class NaiveResolver:
    """dnspython's stub resolver with every default; the API looked up once, kept forever."""

    def __init__(
        self,
        settings: DnsSettings,
        *,
        client: ClientName,
        metrics: WorkloadMetrics | None,
        srv_name: str,
        txt_name: str,
    ) -> None:
        self.client = client
        self.metrics = metrics
        self._srv_name = srv_name
        self._txt_name = txt_name
        self._stub = dns.asyncresolver.Resolver(configure=False)
        self._stub.nameservers = [
            _MeshNameserver(
                parse_address(settings.udp, field_name="dns.udp"),
                parse_address(settings.tcp, field_name="dns.tcp"),
                self._count,
            )
        ]
        self._cached: Resolution | None = None

    def _count(self, transport: str) -> None:
        if self.metrics is not None:
            self.metrics.dns_lookups.labels(self.client, transport).inc()

    async def _ask(self, name: str, rdtype: RdataType) -> dns.message.Message:
        started = time.perf_counter()
        try:
            answer = await self._stub.resolve(name, rdtype)
        except dns.exception.DNSException as exc:
            error = _stub_error(exc)
            if self.metrics is not None:
                self.metrics.dns_failures.labels(self.client, error.transport, error.reason).inc()
            raise error from None
        finally:
            if self.metrics is not None:
                self.metrics.hop_duration.labels(self.client, "dns").observe(
                    time.perf_counter() - started
                )
        assert answer.response is not None
        return answer.response

    async def resolve(self) -> tuple[Endpoint, ...]:
        if self._cached is None:
            self._cached = await resolve_endpoints(self._srv_name, self._ask)
        await self._ask(self._txt_name, RdataType.TXT)
        return self._cached.endpoints

    def invalidate(self) -> None:
        """Told that an endpoint failed: the naive client does not listen."""


class ResilientResolver:
    """Honours TTLs, re-resolves after a failure, falls back to TCP, serves stale if it must.

    With ``honour_ttl`` off it caches forever like the naive client (a negative
    control); with ``tcp_fallback`` off a truncated answer is a failure.
    """

    def __init__(
        self,
        dns_client: DnsClient,
        *,
        srv_name: str,
        txt_name: str,
        timeout_s: float | None,
        honour_ttl: bool = True,
        tcp_fallback: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dns = dns_client
        self._srv_name = srv_name
        self._txt_name = txt_name
        self._timeout_s = timeout_s
        self._honour_ttl = honour_ttl
        self._tcp_fallback = tcp_fallback
        self._now = monotonic
        self._cached: Resolution | None = None
        self._expires = 0.0
        self._txt_expires: float | None = None

    async def _ask(self, name: str, rdtype: RdataType) -> dns.message.Message:
        try:
            return await self._dns.query(name, rdtype, transport="udp", timeout=self._timeout_s)
        except DnsError as exc:
            if not self._tcp_fallback or exc.reason not in _FALL_BACK_ON:
                raise
        return await self._dns.query(name, rdtype, transport="tcp", timeout=self._timeout_s)

    def _fresh(self, expires: float | None) -> bool:
        if expires is None:
            return False
        return not self._honour_ttl or self._now() < expires

    async def resolve(self) -> tuple[Endpoint, ...]:
        if self._cached is None or not self._fresh(self._expires):
            try:
                resolution = await resolve_endpoints(self._srv_name, self._ask)
            except DnsError:
                if self._cached is None:
                    raise
                log.debug("re-resolution failed; serving the stale answer", exc_info=True)
            else:
                self._cached = resolution
                self._expires = self._now() + resolution.ttl
        if not self._fresh(self._txt_expires):
            answer = await self._ask(self._txt_name, RdataType.TXT)
            _, ttl = _answer(answer, self._txt_name, RdataType.TXT)
            self._txt_expires = self._now() + ttl
        assert self._cached is not None
        return self._cached.endpoints

    def invalidate(self) -> None:
        """An endpoint failed: the next ``resolve`` asks DNS again, whatever the TTL said."""
        self._expires = 0.0

    @property
    def cached(self) -> Resolution | None:
        return self._cached


_FALL_BACK_ON = frozenset({"truncated", "malformed", "timeout", "network"})


class EndpointOracle:
    """Measure, don't defend: which endpoints DNS publishes right now, asked out of band.

    Used only to label a connection failure ``stale_endpoint`` (the client is talking
    to where a node used to be) rather than a flaky network. Asks over TCP, uncounted
    in any client's metrics, and remembers the answer (or its absence) for ``max_age_s``
    seconds so a burst of failures costs one lookup.
    """

    def __init__(
        self,
        settings: DnsSettings,
        *,
        srv_name: str,
        max_age_s: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._dns = DnsClient(settings, client="resilient", metrics=None)
        self._srv_name = srv_name
        self._max_age_s = max_age_s
        self._now = monotonic
        self._known: frozenset[tuple[str, int]] | None = None
        self._at = -math.inf

    async def _ask(self, name: str, rdtype: RdataType) -> dns.message.Message:
        return await self._dns.query(
            name, rdtype, transport="tcp", timeout=self._dns.settings.timeout_s
        )

    async def published(self) -> frozenset[tuple[str, int]] | None:
        """(host, port) pairs published now; None when DNS itself cannot be asked."""
        if self._now() - self._at > self._max_age_s:
            try:
                resolution = await resolve_endpoints(self._srv_name, self._ask)
            except DnsError:
                self._known = None
            else:
                self._known = frozenset((e.host, e.port) for e in resolution.endpoints)
            self._at = self._now()
        return self._known

    async def is_stale(self, endpoint: Endpoint) -> bool:
        known = await self.published()
        return known is not None and (endpoint.host, endpoint.port) not in known
