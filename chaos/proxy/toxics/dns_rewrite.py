"""``dns_rewrite`` (UDP): forge DNS answers, pointing ``name`` at ``address``.

The network-is-secure fallacy: whoever sits on the path can answer for any
name. Every A record (AAAA when ``address`` is IPv6) owned by ``name`` in the
answer section of a DNS response is replaced by one record for ``address``,
keeping its TTL. Datagrams that are not DNS responses, or do not parse, pass
untouched. Default stream downstream (answers); on upstream it sees only queries.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import dns.exception
import dns.flags
import dns.message
import dns.name
import dns.rdata
import dns.rdataclass
import dns.rdatatype
import dns.rrset

from chaos.proxy.toxics import register
from chaos.proxy.toxics.base import UDP, DatagramContext, Emitted, InvalidAttribute, Toxic


@register("dns_rewrite")
@dataclass(frozen=True, slots=True)
class DnsRewrite(Toxic):
    protocols = UDP

    name: str = ""
    """Owner name to forge, e.g. ``api-1.mesh.test`` (trailing dot optional, any case)."""
    address: str = ""
    """IPv4 (rewrites A) or IPv6 (rewrites AAAA) address to answer with."""

    def validate(self) -> None:
        if not self.name:
            raise InvalidAttribute('attribute "name" is required')
        try:
            dns.name.from_text(self.name)
        except dns.exception.DNSException as exc:
            raise InvalidAttribute(f'attribute "name" is not a DNS name: {exc}') from None
        try:
            ipaddress.ip_address(self.address)
        except ValueError:
            raise InvalidAttribute('attribute "address" must be an IP address') from None

    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        return ((0.0, self.rewrite(data)),)

    def rewrite(self, data: bytes) -> bytes:
        """The forged datagram, or ``data`` itself when there is nothing to forge."""
        try:
            message = dns.message.from_wire(data)
        except Exception:
            return data
        if not message.flags & dns.flags.QR:
            return data
        owner = dns.name.from_text(self.name)
        rdtype = dns.rdatatype.AAAA if ":" in self.address else dns.rdatatype.A
        forged = False
        for index, rrset in enumerate(message.answer):
            if rrset.name == owner and rrset.rdtype == rdtype:
                rdata = dns.rdata.from_text(dns.rdataclass.IN, rdtype, self.address)
                message.answer[index] = dns.rrset.from_rdata(owner, rrset.ttl, rdata)
                forged = True
        if not forged:
            return data
        try:
            return message.to_wire()
        except Exception:
            return data
