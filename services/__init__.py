"""The mesh's nodes: small asyncio services that the chaos experiments act on."""
