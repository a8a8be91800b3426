"""``chaos run`` (Chaos Toolkit from PyPI) of the example experiment: the project's
extension and, unchanged, the chaostoolkit-toxiproxy driver, against the project's proxy."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.toxiproxy import Toxiproxy
from tests.cli.test_serve import free_port
from tests.polling import eventually

EXAMPLE = Path(__file__).parents[2] / "examples" / "chaostoolkit-experiment.json"
CHAOS = Path(sys.executable).parent / "chaos"


class _Ok(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "3")
        self.end_headers()
        self.wfile.write(b"ok\n")

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def shop() -> Iterator[int]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


@pytest.fixture
def proxy(tmp_path: Path, shop: int) -> Iterator[tuple[str, int]]:
    api, listen = free_port(), free_port()
    links = tmp_path / "links.yaml"
    links.write_text(
        f"links:\n  - {{name: shop, listen: '127.0.0.1:{listen}', upstream: '127.0.0.1:{shop}'}}\n"
    )
    with (tmp_path / "proxy.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chaos.cli", "serve", "proxy", "--links", str(links),
             "--api-port", str(api)],
            stdout=log, stderr=log, env={**os.environ, "FALLACIES_ADMIN_TOKEN": ""},
        )  # fmt: skip
    try:
        yield f"http://127.0.0.1:{api}", listen
    finally:
        process.terminate()
        process.wait(10)


async def test_chaos_run_of_the_example(tmp_path: Path, proxy: tuple[str, int]) -> None:
    url, listen = proxy

    async def up() -> bool:
        try:
            async with Toxiproxy(url) as client:
                return "shop" in await client.proxies()
        except Exception:
            return False

    await eventually(up, timeout=20, interval=0.1, what="the proxy")
    journal_path = tmp_path / "journal.json"
    done = subprocess.run(
        [str(CHAOS), "--no-version-check", "run", "--journal-path", str(journal_path),
         str(EXAMPLE)],
        capture_output=True, text=True, timeout=120, check=False, cwd=tmp_path,
        env={**os.environ, "FALLACIES_ADMIN_TOKEN": "", "FALLACIES_PROXY_URL": url,
             "SHOP_URL": f"http://127.0.0.1:{listen}/"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    journal = json.loads(journal_path.read_text())
    assert journal["status"] == "completed" and journal["deviated"] is False
    assert journal["steady_states"]["before"]["steady_state_met"] is True
    assert journal["steady_states"]["after"]["steady_state_met"] is True
    runs = {run["activity"]["name"]: run for run in journal["run"]}
    assert all(run["status"] == "succeeded" for run in runs.values()), runs
    added = runs["slow-the-shop"]["output"]
    assert added["link"] == "shop" and added["type"] == "latency" and added["ttl_s"] == 30
    assert runs["the-fault-is-in-force"]["output"] is True
    assert runs["and-a-thinner-pipe-through-the-toxiproxy-driver"]["output"] is True
    assert runs["the-driver-sees-the-link"]["output"] is True
    (rollback,) = journal["rollbacks"]
    assert rollback["status"] == "succeeded" and rollback["output"]["reset"] == ["shop"]
    async with Toxiproxy(url) as client:
        assert (await client.proxy("shop")).toxics == ()
