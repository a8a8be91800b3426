"""examples/ as a user runs it: checkout.py behind its links, a real Prometheus, and
``fallacies run`` of the example experiment — passing, and a broken copy failing with a
JUnit file that names the check that failed. The files are copied with free ports."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.embedded.ports import PortAllocator
from tests.conftest import require_tool

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SLOW_CHECK = (
    "during: checkout still answers within a second (a deadline, one retry, the last price)"
)


@dataclass(frozen=True)
class Ports:
    shop: int
    quotes: int
    checkout: int
    shop_link: int
    quotes_link: int
    prometheus: int
    proxy: int

    def rewrite(self, text: str) -> str:
        for default, port in (
            ("127.0.0.1:18080", self.shop_link),
            ("127.0.0.1:18125", self.quotes_link),
            ("127.0.0.1:18474", self.proxy),
            ("127.0.0.1:8080", self.shop),
            ("127.0.0.1:8125", self.quotes),
            ("127.0.0.1:8090", self.checkout),
            ("127.0.0.1:9090", self.prometheus),
        ):
            text = text.replace(default, f"127.0.0.1:{port}")
        return text


def fallacies(*args: str, cwd: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaos.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=timeout,
        env={**os.environ, "COLUMNS": "200"},
    )


def wait_for(url: str, what: str, *, contains: str = "", timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    last = ""
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                last = response.read().decode()
                if contains in last:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = str(exc)
        time.sleep(0.2)
    raise AssertionError(f"{what} not ready within {timeout} s (last: {last[:300]})")


@pytest.fixture
def ports() -> Ports:
    take = PortAllocator(0).take
    return Ports(*(take() for _ in range(7)))


@pytest.fixture
def workdir(tmp_path: Path, ports: Ports) -> Path:
    for name in ("links.yaml", "checkout-experiment.yaml", "prometheus.yml"):
        (tmp_path / name).write_text(ports.rewrite((EXAMPLES / name).read_text()))
    return tmp_path


@pytest.fixture
def checkout(ports: Ports) -> Iterator[None]:
    process = subprocess.Popen(
        [
            sys.executable,
            str(EXAMPLES / "checkout.py"),
            f"--listen=127.0.0.1:{ports.checkout}",
            f"--shop=127.0.0.1:{ports.shop}",
            f"--quotes=127.0.0.1:{ports.quotes}",
            f"--shop-via=127.0.0.1:{ports.shop_link}",
            f"--quotes-via=127.0.0.1:{ports.quotes_link}",
        ]
    )
    try:
        wait_for(f"http://127.0.0.1:{ports.checkout}/health", "checkout.py")
        yield
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def prometheus(ports: Ports, workdir: Path, checkout: None) -> Iterator[None]:
    binary = require_tool("prometheus")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={workdir / 'prometheus.yml'}",
            f"--web.listen-address=127.0.0.1:{ports.prometheus}",
            f"--storage.tsdb.path={workdir / 'tsdb'}",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        base = f"http://127.0.0.1:{ports.prometheus}"
        wait_for(f"{base}/-/ready", "Prometheus")
        wait_for(f"{base}/api/v1/query?query=up", "the first scrape of checkout", contains='"1"]')
        yield
    finally:
        process.terminate()
        process.wait(timeout=20)


def junit_cases(path: Path) -> dict[str, str | None]:
    """Test case name -> its failure message (None: passed)."""
    cases = {}
    for case in ET.parse(path).getroot().iter("testcase"):
        failure = case.find("failure")
        cases[case.get("name", "")] = None if failure is None else failure.get("message")
    return cases


def test_the_example_passes_and_a_broken_copy_fails_naming_the_check(
    workdir: Path, ports: Ports, prometheus: None
) -> None:
    done = fallacies(
        "run",
        "checkout-experiment.yaml",
        "--quick",
        "--json",
        "--junit",
        "ok.xml",
        "--out",
        "runs-ok",
        cwd=workdir,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    result = json.loads(done.stdout)
    assert result["passed"] is True
    (journal,) = result["experiments"]
    assert journal["status"] == "passed" and [f["reverted"] for f in journal["faults"]] == [
        True,
        True,
    ]
    cases = junit_cases(workdir / "ok.xml")
    assert len(cases) == 7 and all(message is None for message in cases.values())

    broken = workdir / "broken.yaml"
    text = (workdir / "checkout-experiment.yaml").read_text()
    assert text.count("max_latency: 1s") == 1
    broken.write_text(text.replace("max_latency: 1s", "max_latency: 100ms"))
    done = fallacies(
        "run",
        "broken.yaml",
        "--quick",
        "--junit",
        "broken.xml",
        "--out",
        "runs-broken",
        cwd=workdir,
    )
    assert done.returncode == 1, done.stdout[-2000:] + done.stderr[-3000:]
    cases = junit_cases(workdir / "broken.xml")
    failed = {name: message for name, message in cases.items() if message is not None}
    assert list(failed) == [SLOW_CHECK], cases
    assert "at most 0.1 s wanted" in (failed[SLOW_CHECK] or "")


def test_a_dry_run_binds_nothing_and_injects_nothing(workdir: Path, ports: Ports) -> None:
    done = fallacies("run", "checkout-experiment.yaml", "--dry-run", "--json", cwd=workdir)
    assert done.returncode == 0, done.stderr
    (plan,) = json.loads(done.stdout)["plans"]
    assert [(f["kind"], f["target"], f["start_s"]) for f in plan["faults"]] == [
        ("latency", "shop", 5.0),
        ("loss", "quotes", 5.0),
    ]
    assert [c["kind"] for c in plan["checks"]].count("stop condition") == 1
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{ports.shop_link}/", timeout=1)


def test_bad_input_exits_2_with_the_problem(workdir: Path) -> None:
    (workdir / "bad-links.yaml").write_text("links: [{name: shop}]\n")
    done = fallacies("run", "checkout-experiment.yaml", "--links", "bad-links.yaml", cwd=workdir)
    assert done.returncode == 2
    assert "bad-links.yaml:1: links[0].listen: missing (required)" in done.stderr
    done = fallacies("run", "checkout-experiment.yaml", "--disable-defence", "retries", cwd=workdir)
    assert done.returncode == 2 and "--disable-defence is about the playground's" in done.stderr
    done = fallacies("run", "1", "--links", "links.yaml", cwd=workdir)
    assert done.returncode == 2 and "--links and --proxy are for an experiment file" in done.stderr
    (workdir / "other.yaml").write_text(
        "links:\n  - {name: db, listen: 127.0.0.1:1, upstream: 127.0.0.1:2}\n"
    )
    done = fallacies("run", "checkout-experiment.yaml", "--links", "other.yaml", cwd=workdir)
    assert done.returncode == 2
    assert "method[0].target: unknown link 'shop'; links: db" in done.stderr
