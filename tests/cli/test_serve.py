"""``fallacies serve`` as a user runs it: a real process, real ports, real signals."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys

import pytest

CLI = [sys.executable, "-m", "chaos.cli"]


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def free_udp_and_tcp_port() -> int:
    """A port free for both: the DNS server takes the same number over UDP and TCP."""
    for _ in range(50):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            udp.bind(("127.0.0.1", 0))
            port = int(udp.getsockname()[1])
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as tcp:
                try:
                    tcp.bind(("127.0.0.1", port))
                except OSError:
                    continue
                return port
    raise RuntimeError("no port free for both UDP and TCP")


async def spawn(*args: str) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *CLI,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "200"},
    )


async def read_until(proc: asyncio.subprocess.Process, needle: str, count: int) -> list[str]:
    assert proc.stdout is not None
    lines: list[str] = []
    async with asyncio.timeout(20):
        while sum(needle in line for line in lines) < count:
            raw = await proc.stdout.readline()
            if not raw:
                break
            lines.append(raw.decode())
    return lines


@pytest.mark.parametrize(
    ("service", "roles"),
    [("dns", {"udp", "tcp", "admin"}), ("ntp", {"udp", "admin"})],
)
async def test_serve_announces_and_stops_on_sigterm(service: str, roles: set[str]) -> None:
    port, admin = free_udp_and_tcp_port(), free_port()
    proc = await spawn("serve", service, "--port", str(port), "--admin-port", str(admin))
    try:
        lines = await read_until(proc, "listening on", len(roles))
        announced = {line.split()[1] for line in lines if "listening on" in line}
        if announced != roles:
            proc.kill()
            assert proc.stderr is not None
            pytest.fail(f"stdout {lines!r}, stderr {(await proc.stderr.read()).decode()!r}")
        assert any(f"{admin}" in line for line in lines)
        proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(10):
            code = await proc.wait()
        assert code == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


@pytest.mark.parametrize("service", ["dns", "ntp"])
async def test_taken_port_gives_one_line_error_naming_it(service: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        proc = await spawn(
            "serve",
            service,
            "--port",
            str(free_port(socket.SOCK_DGRAM)),
            "--admin-port",
            str(taken),
        )
        async with asyncio.timeout(20):
            out, err = await proc.communicate()
    assert proc.returncode == 1
    message = err.decode().strip()
    assert len(message.splitlines()) == 1, message
    assert str(taken) in message and "in use" in message
