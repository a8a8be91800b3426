"""The pytest plugin as a user meets it: a separate pytest run over their own test files."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaos.toxiproxy import Toxiproxy
from tests.cli.test_serve import free_port
from tests.polling import eventually

pytest_plugins = ["pytester"]

EXAMPLE = Path(__file__).parents[2] / "examples" / "test_my_service.py"


def test_the_example_passes_in_a_pytest_of_its_own(pytester: pytest.Pytester) -> None:
    shutil.copy(EXAMPLE, pytester.path / EXAMPLE.name)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", timeout=120)
    result.assert_outcomes(passed=8)


def test_a_failed_test_leaves_no_fault_for_the_next(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_leaks=textwrap.dedent(
            """
            import socket, time

            def upstream():
                server = socket.create_server(("127.0.0.1", 0))
                return server, f"127.0.0.1:{server.getsockname()[1]}"

            def test_fails_with_a_fault_in_force(link_to):
                server, address = upstream()
                link = link_to(address, name="shared")
                link.latency(1000, ttl=60)   # not in a with block: the fixture must undo it
                link.down(ttl=60)
                server.close()
                assert False, "on purpose"

            def test_the_next_one_starts_clean(fault_proxy):
                assert fault_proxy.active == ()
            """
        )
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-v", timeout=60)
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_the_next_one_starts_clean PASSED*"])


@pytest.fixture
def proxy_process(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    with (tmp_path / "proxy.log").open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "chaos.cli", "serve", "proxy", "--api-port", str(port)],
            stdout=log,
            stderr=log,
            env={**os.environ, "FALLACIES_ADMIN_TOKEN": ""},
        )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(10)


async def test_a_fault_ends_after_the_test_process_is_killed(
    pytester: pytest.Pytester, proxy_process: str
) -> None:
    """SIGKILL leaves no fixture to clean up: the proxy's own TTL ends the fault."""

    async def up() -> bool:
        try:
            async with Toxiproxy(proxy_process) as client:
                await client.version()
            return True
        except Exception:
            return False

    await eventually(up, timeout=20, interval=0.1, what="the proxy")
    with socket.create_server(("127.0.0.1", 0)) as upstream:
        address = f"127.0.0.1:{upstream.getsockname()[1]}"
        pytester.makepyfile(
            test_killed=textwrap.dedent(
                f"""
                import os, signal

                def test_dies_with_a_fault_in_force(link_to):
                    link = link_to("{address}", name="victim")
                    link.latency(800, ttl=3)
                    os.kill(os.getpid(), signal.SIGKILL)
                """
            )
        )
        started = time.monotonic()
        result = await asyncio.to_thread(
            pytester.runpytest_subprocess,
            "-p", "no:cacheprovider", "--fallacies-proxy", proxy_process, timeout=60,
        )  # fmt: skip
        assert result.ret == -9, result.stdout.str()
        async with Toxiproxy(proxy_process) as client:
            toxics = (await client.proxy("victim")).toxics
            assert [t.type for t in toxics] == ["latency"], "the fault should still be in force"

            async def gone() -> bool:
                return not (await client.proxy("victim")).toxics

            await eventually(gone, timeout=15, interval=0.2, what="the TTL")
        assert time.monotonic() - started >= 3 - 0.5
