"""``fallacies serve KIND``: one node of the mesh in the foreground."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from chaos.cli._common import app, console, err_console, fail
from services.common.base import Service
from services.common.errors import PortInUseError

serve_app = typer.Typer(help="Run one node of the mesh in the foreground.", no_args_is_help=True)
app.add_typer(serve_app, name="serve")

Host = Annotated[str, typer.Option(help="Address to listen on.")]
AdminHost = Annotated[str, typer.Option(help="Address of the admin API (loopback by default).")]


def _run(service: Service) -> None:
    from services.common.lifecycle import run

    def announce(endpoints: dict[str, str]) -> None:
        for role, where in endpoints.items():
            console.print(f"{service.name} {role} listening on {where}")

    try:
        run(service, announce)
    except PortInUseError as exc:
        err_console.print(f"error: {exc}")
        raise typer.Exit(code=1) from None


@serve_app.command("dns")
def serve_dns(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="UDP and TCP port for DNS.")] = 5353,
    admin_host: AdminHost = "127.0.0.1",
    admin_port: Annotated[int, typer.Option(help="Port of the admin/metrics API.")] = 8053,
    zone: Annotated[
        Path | None, typer.Option(help="Zone file (YAML) to load instead of the default.")
    ] = None,
) -> None:
    """Authoritative DNS server for mesh.test. over UDP and TCP."""
    from services.common.admin_token import token_from_env
    from services.dns import DNSServer, Zone

    try:
        loaded = Zone.from_file(zone) if zone is not None else None
    except (OSError, ValueError) as exc:
        err_console.print(f"error: {zone}: {exc}")
        raise typer.Exit(code=2) from None
    _run(
        DNSServer(
            host=host,
            port=port,
            admin_host=admin_host,
            admin_port=admin_port,
            admin_token=token_from_env(),
            zone=loaded,
        )
    )


@serve_app.command("ntp")
def serve_ntp(
    host: Host = "127.0.0.1",
    port: Annotated[int, typer.Option(help="UDP port for SNTP.")] = 1123,
    admin_host: AdminHost = "127.0.0.1",
    admin_port: Annotated[int, typer.Option(help="Port of the admin/metrics API.")] = 8123,
    name: Annotated[str, typer.Option(help="Node name, e.g. ntp-a.")] = "ntp",
    rate_limit: Annotated[
        float, typer.Option(help="Requests/s per client before a RATE kiss-o'-death; 0: off.")
    ] = 16.0,
    burst: Annotated[int, typer.Option(help="Requests a client may send at once.")] = 32,
) -> None:
    """SNTPv4 server that can be told to lie (offset, drift, stratum, leap)."""
    from services.common.admin_token import token_from_env
    from services.ntp import NTPServer

    _run(
        NTPServer(
            host=host,
            port=port,
            admin_host=admin_host,
            admin_port=admin_port,
            admin_token=token_from_env(),
            name=name,
            rate_limit=rate_limit,
            burst=burst,
        )
    )


ConfigFile = Annotated[Path, typer.Option(help="JSON or YAML file with the node's config.")]


def _serve_from_config(kind: str, config: Path) -> None:
    import json

    import yaml

    from chaos.node.registry import build
    from services.common.admin_token import from_env

    try:
        text = config.read_text(encoding="utf-8")
        data = json.loads(text) if config.suffix == ".json" else yaml.safe_load(text)
        service = build(kind, from_env(data or {}))
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise fail(f"{config}: {exc}", 2) from None
    _run(service)


@serve_app.command("proxy")
def serve_proxy(
    api_host: AdminHost = "127.0.0.1",
    api_port: Annotated[
        int | None,
        typer.Option(
            help="Port of the Toxiproxy-compatible API "
            "(default: the port of the links file's `proxy:`, else 8474)."
        ),
    ] = None,
    config: Annotated[
        Path | None, typer.Option(help="Links to create: a Toxiproxy -config JSON (or YAML).")
    ] = None,
    links_file: Annotated[
        Path | None,
        typer.Option(
            "--links",
            help="Your own links to create: a links file (see examples/links.yaml).",
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed for toxicity and jitter draws.")] = None,
) -> None:
    """The project's fault proxy: TCP and UDP links behind the Toxiproxy 2.x API.

    Drive it with `fallacies links --proxy URL` and `fallacies fault add LINK … --proxy URL`.
    """
    from urllib.parse import urlsplit

    from chaos.loader.links import LinksFileError, load_links
    from chaos.proxy import ConfigError, ProxyServer, load_config
    from services.common.admin_token import token_from_env

    if config is not None and links_file is not None:
        raise fail("--config and --links both create links; give one", 2)
    links: list[dict[str, object]] | None = None
    try:
        if config is not None:
            links = load_config(config)
        elif links_file is not None:
            loaded = load_links(links_file)
            links = loaded.to_populate()
            if api_port is None and loaded.proxy is not None:
                api_port = urlsplit(loaded.proxy).port
    except (OSError, ConfigError) as exc:
        raise fail(f"{config}: {exc}", 2) from None
    except LinksFileError as exc:
        raise fail(str(exc), 2) from None
    _run(
        ProxyServer(
            api_host=api_host,
            api_port=8474 if api_port is None else api_port,
            api_token=token_from_env(),
            config=links,
            seed=seed,
        )
    )


@serve_app.command("api")
def serve_api(config: ConfigFile) -> None:
    """One API replica (see docs/api.md for the config keys)."""
    _serve_from_config("api", config)


@serve_app.command("workload")
def serve_workload(config: ConfigFile) -> None:
    """The naive and resilient clients, side by side."""
    _serve_from_config("workload", config)
