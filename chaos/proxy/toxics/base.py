"""What a toxic is: a frozen dataclass of attributes plus one method per protocol.

    @register("latency")
    @dataclass(frozen=True, slots=True)
    class Latency(Toxic):
        protocols = TCP | UDP
        latency: int = 0   # ms
        async def pipe(self, stub): ...                 # TCP: one loop over the stub
        def datagram(self, data, ctx): ...              # UDP: a datagram in, [(delay s, bytes)] out

The fields are the attributes, with Toxiproxy's wire names; decoding checks
their types (ints are ints, numbers are never negative) and rejects unknown keys,
then ``validate()`` checks what only the toxic knows (``size_variation <
average_size``). Optional capabilities are opt-in, as in Toxiproxy:

* ``buffer_size`` (class attribute): chunks the toxic's input channel holds;
* ``Stateful.new_state()``: per-connection (TCP) or per-session (UDP) state;
* ``Cleanup.cleanup(stub)``: called when the toxic is removed from a live connection.

An HTTP toxic (``HttpToxic``) has no byte loop: it is handed each matching
request and response by the link's ``chaos.proxy.http`` relay instead.
"""

from __future__ import annotations

import dataclasses
import math
import random
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, Self, runtime_checkable

from chaos.proxy.stream import Direction, NetProtocol
from services.common.errors import FallaciesError

if TYPE_CHECKING:
    from chaos.proxy.http.exchange import Exchange, HttpContext
    from chaos.proxy.stub import ToxicStub

__all__ = [
    "TCP",
    "UDP",
    "InvalidAttribute",
    "Cleanup",
    "DatagramContext",
    "Emitted",
    "HttpMessageToxic",
    "HttpToxic",
    "Stateful",
    "TcpToxic",
    "Toxic",
    "UdpToxic",
]

TCP = NetProtocol.TCP
UDP = NetProtocol.UDP

Emitted = Sequence[tuple[float, bytes]]
"""A UDP toxic's answer for one datagram: (added delay in seconds, bytes) each; empty = dropped."""


class InvalidAttribute(FallaciesError, ValueError):
    """An attribute is unknown, of the wrong type, or out of range (answered 400)."""


@dataclass(slots=True)
class DatagramContext:
    """What a UDP toxic knows about the datagram in hand; one per toxic per session."""

    now: float
    """Clock seconds at which the datagram reaches this toxic (earlier toxics' delays included)."""
    rng: random.Random
    state: Any
    direction: Direction


class Toxic:
    """Base of every toxic's attribute dataclass."""

    __slots__ = ()

    type_name: ClassVar[str] = ""
    protocols: ClassVar[NetProtocol] = TCP
    buffer_size: ClassVar[int] = 1
    """Chunks the input channel holds (Toxiproxy's ``BufferedToxic``); 1 = hand-to-hand."""
    streams: ClassVar[frozenset[Direction]] = frozenset(Direction)
    """The streams it may be installed on; another is a 400 naming them."""

    def validate(self) -> None:
        """Raise ``InvalidAttribute`` when values are fine one by one but not together."""

    def attributes(self) -> dict[str, object]:
        """The wire form, fields in declaration order (Toxiproxy's JSON order)."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}  # type: ignore[arg-type]

    @classmethod
    def decode(cls, raw: Mapping[str, object], base: Self | None = None) -> Self:
        """Build from wire attributes; keys absent from ``raw`` keep ``base``'s values."""
        hints = typing.get_type_hints(cls)
        known = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        values: dict[str, object] = {}
        for key, value in raw.items():
            if key not in known:
                raise InvalidAttribute(f'unknown attribute "{key}" for toxic type {cls.type_name}')
            values[key] = _check(key, value, hints[key])
        made = dataclasses.replace(base, **values) if base is not None else cls(**values)  # type: ignore[type-var]
        made.validate()
        return made


@runtime_checkable
class TcpToxic(Protocol):
    async def pipe(self, stub: ToxicStub) -> None:
        """Run until interrupted or end of stream, from ``stub.input`` to ``stub.output``."""


@runtime_checkable
class UdpToxic(Protocol):
    def datagram(self, data: bytes, ctx: DatagramContext) -> Emitted:
        """What becomes of one datagram: zero (dropped), one or several (delay, bytes)."""


@dataclass(frozen=True, slots=True)
class HttpToxic(Toxic):
    """Acts per HTTP/1.1 request on a TCP link, and only on requests that match.

    Toxicity is drawn per matching request, from the toxic's seeded random source.
    """

    protocols = TCP

    method: str = ""
    """Only requests with this method (e.g. GET; any when empty)."""
    path: str = ""
    """Only requests whose path starts with this (e.g. /journeys; any when empty)."""

    def matches(self, method: str, path: str) -> bool:
        return (not self.method or method == self.method.upper()) and path.startswith(self.path)

    async def on_request(self, exchange: Exchange, ctx: HttpContext) -> None:
        """The request head is in and nothing went upstream yet."""

    async def on_response(self, exchange: Exchange, ctx: HttpContext) -> None:
        """The response head is in and the client has seen none of it."""


@dataclass(frozen=True, slots=True)
class HttpMessageToxic(HttpToxic):
    """Acts on the message of its own stream: the request upstream, the response downstream."""

    async def on_request(self, exchange: Exchange, ctx: HttpContext) -> None:
        if ctx.stream is Direction.UPSTREAM:
            await self.change(exchange, ctx)

    async def on_response(self, exchange: Exchange, ctx: HttpContext) -> None:
        if ctx.stream is Direction.DOWNSTREAM:
            await self.change(exchange, ctx)

    async def change(self, exchange: Exchange, ctx: HttpContext) -> None:
        """The head of the toxic's own message is in, and not yet sent on."""


@runtime_checkable
class Stateful(Protocol):
    def new_state(self) -> object: ...


@runtime_checkable
class Cleanup(Protocol):
    def cleanup(self, stub: ToxicStub) -> None: ...


def _check(key: str, value: object, hint: object) -> object:
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidAttribute(f'attribute "{key}" must be an integer, not {_json_type(value)}')
        if value < 0:
            raise InvalidAttribute(f'attribute "{key}" must not be negative')
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise InvalidAttribute(f'attribute "{key}" must be a number, not {_json_type(value)}')
        if not math.isfinite(value) or value < 0:
            raise InvalidAttribute(f'attribute "{key}" must be a finite, non-negative number')
        return float(value)
    if hint is bool:
        if not isinstance(value, bool):
            raise InvalidAttribute(
                f'attribute "{key}" must be true or false, not {_json_type(value)}'
            )
        return value
    if hint is str:
        if not isinstance(value, str):
            raise InvalidAttribute(f'attribute "{key}" must be a string, not {_json_type(value)}')
        return value
    raise TypeError(f"unsupported attribute type {hint!r} for {key}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number" if not isinstance(value, int) else "an integer"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"
