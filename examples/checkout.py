"""A small service of one's own, not part of the playground: ``checkout``.

It answers ``GET /checkout`` with a price from ``shop`` (an HTTP service) and a
discount from ``quotes`` (a UDP service), and it talks to both through the fault
proxy's links (``links.yaml``), so an experiment can slow or drop what it depends on.
It defends itself the way the playground's resilient client does: a deadline on each
call, one retry, and the last good answer when an upstream stays silent — and it says
so in its metrics (``checkout_requests_total{outcome="ok|degraded|error"}``), which
Prometheus scrapes (``prometheus.yml``) and the experiment's ``promql`` probes read.

    python examples/checkout.py            # shop :8080, quotes :8125 (UDP), checkout :8090

then ``fallacies run examples/checkout-experiment.yaml`` (see the README).
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import time
from typing import cast

from aiohttp import ClientError, ClientSession, ClientTimeout, web
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

SHOP_TIMEOUT_S = 0.3
QUOTE_TIMEOUT_S = 0.2
QUOTE_TRIES = 3


def address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host or "127.0.0.1", int(port)


class Quotes(asyncio.DatagramProtocol):
    """The UDP upstream: ``discount?`` in, ``discount 0.1`` out."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if data.strip() == b"discount?":
            self.transport.sendto(b"discount 0.1", addr)


class _Answer(asyncio.DatagramProtocol):
    def __init__(self) -> None:
        self.answer: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        if not self.answer.done():
            self.answer.set_result(data)


def shop_app() -> web.Application:
    async def price(request: web.Request) -> web.Response:
        return web.json_response({"item": "book", "price": 20.0})

    app = web.Application()
    app.router.add_get("/price", price)
    return app


class Checkout:
    def __init__(self, shop: tuple[str, int], quotes: tuple[str, int]) -> None:
        self.shop_url = f"http://{shop[0]}:{shop[1]}/price"
        self.quotes = quotes
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "checkout_requests",
            "Checkouts answered, by outcome: ok, degraded (a last good answer), error.",
            ["outcome"],
            registry=self.registry,
        )
        self.seconds = Histogram(
            "checkout_duration_seconds", "Time to answer a checkout.", registry=self.registry
        )
        self.last_price: float | None = None
        self.last_discount = 0.0
        self.session: ClientSession | None = None

    async def price(self) -> tuple[float, bool]:
        assert self.session is not None
        for _ in range(2):
            try:
                async with self.session.get(
                    self.shop_url, timeout=ClientTimeout(total=SHOP_TIMEOUT_S)
                ) as response:
                    response.raise_for_status()
                    self.last_price = float((await response.json())["price"])
                    return self.last_price, True
            except (TimeoutError, ClientError, ValueError, KeyError):
                continue
        if self.last_price is None:
            raise RuntimeError("the shop does not answer and no price is known yet")
        return self.last_price, False

    async def discount(self) -> tuple[float, bool]:
        loop = asyncio.get_running_loop()
        for _ in range(QUOTE_TRIES):
            transport, protocol = await loop.create_datagram_endpoint(
                _Answer, remote_addr=self.quotes
            )
            try:
                transport.sendto(b"discount?")
                data = await asyncio.wait_for(protocol.answer, QUOTE_TIMEOUT_S)
                self.last_discount = float(data.split()[1])
                return self.last_discount, True
            except (TimeoutError, ValueError, IndexError):
                continue
            finally:
                transport.close()
        return self.last_discount, False

    async def checkout(self, request: web.Request) -> web.Response:
        started = time.monotonic()
        try:
            (price, fresh), (discount, quoted) = await asyncio.gather(self.price(), self.discount())
        except RuntimeError as exc:
            self.requests.labels("error").inc()
            return web.json_response({"error": str(exc)}, status=503)
        finally:
            self.seconds.observe(time.monotonic() - started)
        outcome = "ok" if fresh and quoted else "degraded"
        self.requests.labels(outcome).inc()
        total = round(price * (1 - discount), 2)
        return web.json_response({"total": total, "outcome": outcome})

    async def metrics(self, request: web.Request) -> web.Response:
        return web.Response(body=generate_latest(self.registry), content_type="text/plain")

    async def health(self, request: web.Request) -> web.Response:
        return web.Response(text="ok")

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_get("/checkout", self.checkout)
        app.router.add_get("/metrics", self.metrics)
        app.router.add_get("/health", self.health)

        async def session(app: web.Application) -> object:
            async with ClientSession() as self.session:
                yield

        app.cleanup_ctx.append(session)
        return app


async def serve(args: argparse.Namespace) -> None:
    loop = asyncio.get_running_loop()
    runners = []
    for app, (host, port) in (
        (shop_app(), address(args.shop)),
        (Checkout(address(args.shop_via), address(args.quotes_via)).app(), address(args.listen)),
    ):
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        runners.append(runner)
    transport, _ = await loop.create_datagram_endpoint(Quotes, local_addr=address(args.quotes))
    print(f"checkout on http://{args.listen}/checkout", flush=True)
    stop = asyncio.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()
    transport.close()
    for runner in runners:
        await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:8090", help="checkout's own address")
    parser.add_argument("--shop", default="127.0.0.1:8080", help="where the shop listens")
    parser.add_argument("--quotes", default="127.0.0.1:8125", help="where quotes listens (UDP)")
    parser.add_argument("--shop-via", default="127.0.0.1:18080", help="the shop's link")
    parser.add_argument("--quotes-via", default="127.0.0.1:18125", help="the quotes link (UDP)")
    asyncio.run(serve(parser.parse_args()))


if __name__ == "__main__":
    main()
