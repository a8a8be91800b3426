"""Chaos side of the playground: fault proxy, Toxiproxy client, experiments, runner, CLI."""
