"""Errors that help a facilitator: the right name suggested, what is valid listed, and
nothing started before a bad option is caught."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.proxy import ProxyServer
from chaos.testing._loop import BackgroundLoop

CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "200", "FALLACIES_ADMIN_TOKEN": ""}


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env=ENV, check=False
    )


@pytest.fixture(scope="module")
def proxy() -> Iterator[str]:
    """The project's proxy with one link, ``shop``, to a port nobody needs to answer on."""
    loop = BackgroundLoop()
    server = ProxyServer(
        api_port=0, config=[{"name": "shop", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}]
    )
    loop.call(server.start())
    try:
        yield server.api_url
    finally:
        loop.call(server.stop())
        loop.close()


def test_an_unknown_defence_is_refused_before_a_mesh_starts(tmp_path: Path) -> None:
    state = tmp_path / "state"
    done = cli("run", "1", "--quick", "--disable-defence", "retrys", "--state-dir", str(state))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "unknown defence 'retrys'; did you mean 'retries'?" in done.stderr
    assert "retry_after" in done.stderr and not state.exists()


def test_the_help_names_every_defence() -> None:
    from services.workload.config import DEFENCES

    shown = " ".join(cli("run", "--help").stdout.split())
    assert all(name in shown for name in DEFENCES)


def test_an_unknown_toxic_type_lists_the_types_with_their_attributes(proxy: str) -> None:
    done = cli("fault", "add", "shop", "latencyy", "--latency", "5", "--proxy", proxy)
    assert done.returncode == 2
    assert "unknown toxic type 'latencyy'; did you mean 'latency'?" in done.stderr
    assert "latency ms (required), jitter ms" in done.stderr
    assert "http_status" in done.stderr and "retry_after s" in done.stderr


def test_an_unknown_attribute_is_named_with_the_nearest_and_the_valid_ones(proxy: str) -> None:
    done = cli("fault", "add", "shop", "latency", "--latencyy", "5", "--proxy", proxy)
    assert done.returncode == 2
    assert (
        "unknown attribute 'latencyy' for latency; did you mean 'latency'? "
        "(latency takes: latency ms (required), jitter ms)"
    ) in " ".join(done.stderr.split())


def test_removing_a_toxic_by_its_type_names_the_toxics_there(proxy: str) -> None:
    assert (
        cli("fault", "add", "shop", "latency", "--latency", "5", "--proxy", proxy).returncode == 0
    )
    done = cli("fault", "rm", "shop", "latency", "--proxy", proxy)
    assert done.returncode == 1
    assert "shop has no toxic 'latency' (toxics on it: latency_downstream)" in done.stderr
    assert cli("fault", "rm", "shop", "latency_downstream", "--proxy", proxy).returncode == 0


@pytest.mark.parametrize(
    ("words", "expected"),
    [
        ("fallacies run net", {"network-is-reliable", "network-is-secure"}),
        ("fallacies run 1 --disable-defence re", {"retries", "retry_after"}),
        ("fallacies fault add api", {"api-1", "api-2"}),
        ("fallacies fault add api-1 http_s", {"http_status"}),
    ],
)
def test_the_shell_completes_experiments_defences_links_and_toxics(
    words: str, expected: set[str]
) -> None:
    env = {**ENV, "_FALLACIES_COMPLETE": "complete_bash", "COMP_WORDS": words}
    env["COMP_CWORD"] = str(len(words.split()) - 1)
    script = Path(sys.executable).with_name("fallacies")  # the installed entry point
    done = subprocess.run(
        [str(script)], capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert expected <= set(done.stdout.split()), done.stdout + done.stderr


def test_the_list_fits_80_columns_with_every_name_whole() -> None:
    from chaos.loader import load_all

    done = subprocess.run(
        [*CLI, "list"], capture_output=True, text=True, timeout=60,
        env={**ENV, "COLUMNS": "80"}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in done.stdout
    cells = {cell.strip() for line in lines for cell in line.split("│")}
    for experiment in load_all():
        assert {experiment.name, experiment.key_signal} <= cells, experiment.name


@pytest.mark.parametrize("command", ["run", "up", "ablate", "console", "fault add"])
def test_help_shows_no_type_for_a_flag(command: str) -> None:
    done = cli(*command.split(), "--help")
    assert done.returncode == 0, done.stderr
    typed = [line for line in done.stdout.splitlines() if "<bool>" in line]
    assert all("--help" in line for line in typed), typed  # Typer's own --help aside


def test_up_prints_where_prometheus_pages_are(tmp_path: Path) -> None:
    import json
    import re
    import urllib.request

    from tests.conftest import require_tool

    require_tool("prometheus")
    state = str(tmp_path / "state")
    up = cli("up", "--detach", "--base-port", "0", "--no-console", "--state-dir", state)
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        found = re.search(r"Prometheus: (http://127\.0\.0\.1:\d+)/ \(queries; ", up.stdout)
        assert found, up.stdout
        with urllib.request.urlopen(found[1] + "/", timeout=10) as response:
            assert response.status == 200  # after its redirect to the UI
        with urllib.request.urlopen(found[1] + "/api/v1/rules?type=alert", timeout=10) as rules:
            groups = json.load(rules)["data"]["groups"]
        assert "JourneysFailing" in {r["name"] for g in groups for r in g["rules"]}
    finally:
        cli("down", "--state-dir", state)
