"""Your own client: a template that starts as a first draft and waits for your defences.

Run it beside the naive and resilient clients, in any experiment::

    fallacies run 2 --quick --client examples/my_client.py:MyClient

Its journeys are labelled ``client="mine"`` (the class's ``name``) in the metrics, the
report, the console and the defence matrix, and it is judged by the resilient
client's expectations (shown, never failing the run). As shipped it behaves like the
naive client. Each ``DEFENCE <name>`` comment marks the one place where that
defence goes; ``fallacies explain N`` says which defence each experiment calls for.

What the mesh hands in (see ``services/workload/client.py``):

- ``self.config``: where the mesh's DNS server and time servers are (``config.dns``,
  ``config.ntp``), the API's SRV name and credentials (``config.api``), the journey's
  shape (``config.journey``) and the resilient client's tunings (``config.resilient``);
- ``self.http``: an aiohttp session that counts bytes, cost and hops;
  ``send(endpoint, method, target, tally=..., timeout=...)`` returns a ``Reply`` for
  any HTTP status and raises ``RequestFailed`` when nothing answered;
- ``self.clock``: this client's own clock (signatures are stamped with it);
- ``self.metrics``, ``self.rng``: the shared registry and a seeded random source;
- helpers: ``next_write()``, ``sign()``, ``witness()`` (measures, never defends),
  ``count_refusal()``, ``refused()``, ``classify()``.

The steps the journey takes, in order: ``resolve``, ``write``, ``read_catalog``,
``fetch_items``; ``sync_clock`` runs on its own loop. Any exception ends the journey
with an outcome (``dns_failure``, ``timeout``, ``forged`` ...); nothing is lost.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.workload._types import Endpoint
from services.workload.balancer import RoundRobin
from services.workload.client import BaseClient, Shared, item_ids
from services.workload.config import WorkloadConfig
from services.workload.errors import RequestFailed
from services.workload.http import Reply, Tally
from services.workload.resolver import NaiveResolver
from services.workload.timesync import NaiveTimeSync


class MyClient(BaseClient):
    name = "mine"

    def __init__(self, config: WorkloadConfig, shared: Shared, *, seed: int | None = None) -> None:
        super().__init__(config, shared, seed=seed)
        # DEFENCE ttl, tcp_fallback: this resolver asks once and keeps the answer forever,
        # and gives up when UDP fails. services.workload.resolver.ResilientResolver honours
        # TTLs and falls back to TCP.
        self.resolver = NaiveResolver(
            config.dns,
            client=self.name,
            metrics=shared.metrics,
            srv_name=config.api.srv_name,
            txt_name=config.dns.txt_name,
        )
        # DEFENCE ntp_selection: one time server, believed whatever it says.
        # services.workload.timesync.ResilientTimeSync asks all of config.ntp.servers.
        self.timesync = NaiveTimeSync(
            config.ntp.naive(),
            self.clock,
            client=self.name,
            metrics=shared.metrics,
            timeout_s=config.ntp.timeout_s,
        )
        # DEFENCE ewma: round robin sends as much to a slow replica as to a fast one.
        # services.workload.balancer.EwmaBalancer weighs them by recent latency.
        self.balancer = RoundRobin()
        self._endpoints: tuple[Endpoint, ...] = ()

    @property
    def deadline_s(self) -> float | None:
        # DEFENCE timeouts (the whole journey): None waits as long as it takes.
        return None

    async def sync_clock(self) -> None:
        await self.timesync.sync_once()

    async def resolve(self) -> tuple[Endpoint, ...]:
        self._endpoints = await self.resolver.resolve()
        return self._endpoints

    async def _call(
        self,
        method: str,
        target: str,
        tally: Tally,
        *,
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> Reply:
        # DEFENCE hedging: after the p95 of recent latencies, send a read to a second
        # replica too and keep the first answer.
        # --- one attempt ---
        # DEFENCE retries: one attempt. A loop here, with services.workload.backoff.Backoff
        # (full jitter) and another endpoint each time, survives a lost packet.
        endpoint = self.balancer.pick(self._endpoints)
        signed = {**(headers or {}), **self.sign(method, target, body)}
        try:
            reply = await self.http.send(
                endpoint,
                method,
                target,
                tally=tally,
                body=body,
                headers=signed,
                # DEFENCE timeouts (each call): None leaves aiohttp's 5-minute default.
                timeout=None,
            )
        except RequestFailed as exc:
            await self.classify(exc)
            raise
        # --- end of the attempt ---
        # DEFENCE verify_signatures: services.api.signing.verify_response with
        # self.credentials.response_secrets tells a forged answer from a genuine one.
        self.witness(reply)
        if reply.status >= 400:
            self.count_refusal(reply)
            # DEFENCE retry_after: a 429/503 may say when to come back
            # (self.refused(reply).retry_after_s); waiting that long beats hammering.
            # DEFENCE key_discovery: a 401 means the keys rotated; GET /.well-known/keys
            # (services.workload.keys) and sign again.
            raise self.refused(reply)
        return reply

    async def write(self, tally: Tally) -> None:
        target, body, headers = self.next_write()
        await self._call("PUT", target, tally, body=body, headers=headers)

    async def read_catalog(self, tally: Tally) -> list[int]:
        # DEFENCE pagination: the whole catalog, to show a page or two.
        # /catalog?page=N&per_page=M asks for only what is shown.
        # DEFENCE compression_etag: send If-None-Match with the last ETag; a 304 costs
        # headers only.
        reply = await self._call("GET", "/catalog", tally)
        shown = self.config.journey.catalog_pages * self.config.journey.per_page
        return item_ids(reply.json())[:shown]

    async def fetch_items(self, ids: list[int], tally: Tally) -> None:
        # DEFENCE batch: one call per item (N+1). POST /catalog/batch {"ids": [...]} is one.
        for item_id in ids:
            await self._call("GET", f"/catalog/items/{item_id}", tally)
