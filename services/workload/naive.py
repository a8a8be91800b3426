"""The client that believes the eight fallacies: a first draft, written with the defaults.

Resolves the API once at the first journey and keeps the answer forever, through
dnspython's stub resolver as it comes (no EDNS, 2 s per try within 5 s, TCP only
after a TC bit); trusts one time server and steps its clock to whatever it says;
sends through aiohttp as it comes (gzip accepted, a 5-minute session timeout) with
no deadline of its own, no retry and no hedge, round-robin over the replicas;
downloads the whole catalog to show one page and then asks for each item
separately (N+1); never checks a response signature and signs with the key it was
configured with, forever. Nothing in it is made worse than the libraries' defaults.
"""

from __future__ import annotations

from collections.abc import Mapping

from services.workload._types import ClientName, Endpoint
from services.workload.balancer import RoundRobin
from services.workload.client import BaseClient, Shared, item_ids
from services.workload.config import WorkloadConfig
from services.workload.errors import RequestFailed
from services.workload.http import Reply, Tally
from services.workload.resolver import NaiveResolver
from services.workload.timesync import NaiveTimeSync


class NaiveClient(BaseClient):
    name: ClientName = "naive"

    def __init__(self, config: WorkloadConfig, shared: Shared, *, seed: int | None = None) -> None:
        super().__init__(config, shared, seed=seed)
        self.resolver = NaiveResolver(
            config.dns,
            client=self.name,
            metrics=shared.metrics,
            srv_name=config.api.srv_name,
            txt_name=config.dns.txt_name,
        )
        self.timesync = NaiveTimeSync(
            config.ntp.naive(),
            self.clock,
            client=self.name,
            metrics=shared.metrics,
            timeout_s=config.ntp.timeout_s,
        )
        self.balancer = RoundRobin()
        self._endpoints: tuple[Endpoint, ...] = ()

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
        endpoint = self.balancer.pick(self._endpoints)
        signed = {**(headers or {}), **self.sign(method, target, body)}
        try:
            reply = await self.http.send(
                endpoint, method, target, tally=tally, body=body, headers=signed
            )
        except RequestFailed as exc:
            await self.classify(exc)
            raise
        self.witness(reply)
        if reply.status >= 400:
            self.count_refusal(reply)
            raise self.refused(reply)
        return reply

    async def write(self, tally: Tally) -> None:
        target, body, headers = self.next_write()
        await self._call("PUT", target, tally, body=body, headers=headers)

    async def read_catalog(self, tally: Tally) -> list[int]:
        reply = await self._call("GET", "/catalog", tally)
        shown = self.config.journey.catalog_pages * self.config.journey.per_page
        return item_ids(reply.json())[:shown]

    async def fetch_items(self, ids: list[int], tally: Tally) -> None:
        for item_id in ids:
            await self._call("GET", f"/catalog/items/{item_id}", tally)
