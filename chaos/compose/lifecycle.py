"""``up``, ``down`` and ``status`` of the compose mesh, around ``docker compose``.

    up()      docker compose -f compose/compose.yaml up -d --wait; writes the MeshState
    down()    docker compose -f compose/compose.yaml down --volumes --remove-orphans
    running_state()  the MeshState when the control service answers, else None

The admin token: ``$FALLACIES_ADMIN_TOKEN`` if set, else the one the running mesh was
started with (kept in the state file), else a fresh random one; ``up`` hands it to the
containers and keeps it, every other command reads it back.

Image overrides (``FALLACIES_IMAGE``, ``TOXIPROXY_IMAGE``, ``PROMETHEUS_IMAGE``,
``GRAFANA_IMAGE``, ``BASE_IMAGE``) come from the environment or an ``env_file``
(``compose/offline.env``, written by ``compose/build-images.sh``).
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import aiohttp

from chaos.compose.state import compose_state, compose_state_dir, read_state, write_state
from chaos.mesh.control import fetch_status
from chaos.mesh.errors import MeshError
from chaos.mesh.model import NodeStatus
from chaos.mesh.state import MeshState
from services.common.admin_token import ENV as TOKEN_ENV
from services.common.admin_token import token_from_env

__all__ = [
    "COMPOSE_FILE",
    "ComposeError",
    "admin_token",
    "compose_command",
    "down",
    "known_state",
    "require_running",
    "run_docker",
    "running_state",
    "status",
    "up",
]

COMPOSE_FILE = Path(
    os.environ.get("FALLACIES_COMPOSE_FILE")
    or Path(__file__).resolve().parents[2] / "compose" / "compose.yaml"
)
"""``compose/compose.yaml`` of the source checkout (``$FALLACIES_COMPOSE_FILE`` overrides)."""
OFFLINE_ENV = COMPOSE_FILE.parent / "offline.env"
"""Written by ``compose/build-images.sh``: the locally built images."""


class ComposeError(MeshError):
    """``docker compose`` failed or is missing; the message says what to do."""


def compose_command(
    *args: str,
    compose_file: Path = COMPOSE_FILE,
    env_file: Path | None = None,
    profiles: Sequence[str] = (),
) -> list[str]:
    docker = shutil.which("docker")
    if docker is None:
        raise ComposeError("docker is not installed (the compose mesh needs Docker + Compose v2)")
    command = [docker, "compose", "-f", str(compose_file)]
    if env_file is not None:
        command += ["--env-file", str(env_file)]
    for profile in profiles:
        command += ["--profile", profile]
    return [*command, *args]


def run_docker(
    command: list[str],
    *,
    env: Mapping[str, str] | None,
    timeout_s: float,
    error: type[MeshError] = ComposeError,
    base_env: Mapping[str, str] | None = None,
) -> str:
    """Run a docker command; its stdout, or ``error`` with the last lines it printed.
    ``env`` is added to ``base_env`` (default: this process's environment)."""
    try:
        done = subprocess.run(
            command,
            env={**(os.environ if base_env is None else base_env), **(env or {})},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise error(f"{' '.join(command[1:])}: no result within {timeout_s:.0f} s") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-15:])
        raise error(f"{' '.join(command[1:])} failed ({done.returncode}):\n{tail}")
    return done.stdout


def _run(command: list[str], *, env: Mapping[str, str] | None, timeout_s: float) -> None:
    run_docker(command, env=env, timeout_s=timeout_s)


def admin_token(env: Mapping[str, str] | None = None, state_dir: Path | None = None) -> str | None:
    """The token the mesh's admin APIs want (None: none known, so they are locked)."""
    given = token_from_env(env or {}) or token_from_env()
    if given:
        return given
    kept = read_state(state_dir)
    return kept.secrets.get("admin_token") if kept is not None else None


def up(
    *,
    detach: bool = True,
    build: bool = False,
    env_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    profiles: Sequence[str] = (),
    wait_timeout_s: float = 120.0,
    state_dir: Path | None = None,
) -> MeshState:
    """Start the compose mesh and return its state once every container is healthy.

    ``detach=False`` runs ``docker compose up`` in the foreground (logs on the
    terminal) until Ctrl-C, and then stops the containers as compose does.
    """
    options: dict[str, Any] = {"env_file": env_file, "profiles": profiles}
    args = ["up", "--build"] if build else ["up"]
    token = admin_token(env, state_dir) or secrets.token_hex(16)
    env = {**(env or {}), TOKEN_ENV: token}
    if detach:
        args += ["--detach", "--wait", "--wait-timeout", str(int(wait_timeout_s))]
        # The timeout also covers a first build or pull before the wait begins.
        _run(compose_command(*args, **options), env=env, timeout_s=wait_timeout_s + 900)
        write_state(state_dir, token)
        return compose_state(token)
    write_state(state_dir, token)
    try:
        subprocess.run(compose_command(*args, **options), env={**os.environ, **env}, check=False)
    finally:
        _forget(state_dir)
    return compose_state(token)


def _forget(state_dir: Path | None) -> None:
    MeshState.remove(compose_state_dir(state_dir))


def down(
    *,
    volumes: bool = True,
    env_file: Path | None = None,
    env: Mapping[str, str] | None = None,
    state_dir: Path | None = None,
    timeout_s: float = 120.0,
) -> None:
    """Stop and remove the containers and the network (and the data volumes)."""
    args = ["down", "--remove-orphans"] + (["--volumes"] if volumes else [])
    # Every profile, so a Grafana started with --profile grafana goes too.
    _run(compose_command(*args, env_file=env_file, profiles=("*",)), env=env, timeout_s=timeout_s)
    _forget(state_dir)


def known_state(state_dir: Path | None = None) -> MeshState:
    """The compose mesh as ``up`` left it, or as plain ``docker compose up`` would have
    started it with ``$FALLACIES_ADMIN_TOKEN`` exported."""
    return compose_state(admin_token(state_dir=state_dir))


async def running_state(state_dir: Path | None = None) -> MeshState | None:
    """The compose mesh's state if its control service answers, else None.

    Raises ``ComposeError`` when it answers but refuses the token: every fault would.
    One cheap call behind the token (the janitor's job list) tells both apart.
    """
    state = known_state(state_dir)
    try:
        async with state.session(3) as session:
            async with session.get(f"{state.control_url}/janitor") as response:
                if response.status in (401, 403):
                    raise ComposeError(
                        "the compose mesh refuses this admin token: export "
                        f"{TOKEN_ENV} as it was started with (`fallacies up --compose` "
                        "keeps it for you)"
                    )
                return state if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError):
        return None


async def require_running(state_dir: Path | None = None) -> MeshState:
    """``running_state``, with a ``ComposeError`` that says what to do when there is none."""
    state = await running_state(state_dir)
    if state is None:
        raise ComposeError("no compose mesh is running (start it with `fallacies up --compose`)")
    return state


async def status(state_dir: Path | None = None) -> list[NodeStatus] | None:
    """Node statuses from the control service (as ``fallacies status`` shows them)."""
    return await fetch_status(known_state(state_dir))


async def wait_healthy(
    state: MeshState, timeout_s: float = 60.0, *, error: type[MeshError] = ComposeError
) -> list[NodeStatus]:
    """Poll the control service until every node is running and healthy."""
    deadline = time.monotonic() + timeout_s
    last: list[NodeStatus] | None = None
    while time.monotonic() < deadline:
        last = await fetch_status(state)
        if last and all(n.state == "running" and n.healthy for n in last):
            return last
        await asyncio.sleep(0.2)
    down_nodes = [n.name for n in last or [] if not n.healthy]
    raise error(f"nodes not healthy within {timeout_s:.0f} s: {down_nodes or 'no answer'}")
