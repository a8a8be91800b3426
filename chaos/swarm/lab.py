"""Several Docker engines on one machine, joined into one swarm: the stack across hosts
without the hosts, for CI and for a rehearsal before a chaos day on real ones.

    python -m chaos.swarm.lab up [--engines 3]   prints `export DOCKER_HOST=...`
    python -m chaos.swarm.lab down               every engine, its data, the registry
    python -m chaos.swarm.lab push               images rebuilt since, into the registry
    python -m chaos.swarm.lab status

    eval "$(python -m chaos.swarm.lab up)"
    fallacies up --swarm --detach      # on engine-1, the manager
    fallacies run all --quick --target swarm

Each engine is a container of ``fallacies/engine`` (Debian's docker.io, built by
``compose/build-images.sh``) on a bridge network of its own, with its ``/var/lib/docker``
on a volume. Engine 1 manages the swarm, the others join as workers. A registry
(Debian's docker-registry, in a container of the same image, on that network and on an
ephemeral port of this machine's loopback) holds the mesh's images: this engine pushes
them there, and each engine pulls them as the stack's tasks land on it.

The host reaches engine 1's Docker API through a socket in ``<state>/lab`` and the
mesh's admin ports through engine 1's ports, published on 127.0.0.1 here. Inside
engine 1 those ports are on its own interfaces, not its loopback: engine 1 says so
with the label ``org.fallacies.publish-host``, which ``fallacies up --swarm`` reads,
and with ``org.fallacies.registry`` it says where the stack's images come from.

An engine runs with every capability but CAP_SYS_RESOURCE (``--privileged`` asks for
all, and some sandboxes hold that one back; dockerd needs none of it), without a
seccomp or AppArmor profile, and with the host's cgroup tree, under a parent of its own.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from chaos.compose import topology
from chaos.compose.lifecycle import run_docker
from chaos.mesh.model import MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS, Scale
from chaos.mesh.state import default_state_dir
from chaos.swarm.lifecycle import (
    IMAGE_KEYS,
    LAB_LABEL,
    OFFLINE_ENV,
    PUBLISH_LABEL,
    REGISTRY_LABEL,
    SwarmError,
    read_env_file,
)

__all__ = [
    "Lab",
    "down",
    "engines",
    "lab_dir",
    "push",
    "up",
]

PREFIX = "fallacies-lab"
NETWORK = PREFIX
REGISTRY = f"{PREFIX}-registry"
REGISTRY_ADDRESS = "registry:5000"
DEFAULT_ENGINE_IMAGE = "fallacies/engine:bookworm"
INNER_SOCKET = "/run/outer/docker.sock"
REGISTRY_CONFIG = """\
version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/docker-registry
http:
  addr: :5000
"""


@dataclass(frozen=True)
class Lab:
    """Where the host reaches each engine's API, engine 1 (the manager) first."""

    sockets: tuple[Path, ...]

    @property
    def docker_host(self) -> str:
        return f"unix://{self.sockets[0]}"


def lab_dir(state_dir: Path | None = None) -> Path:
    return (state_dir or default_state_dir()) / "lab"


def outer_env() -> dict[str, str]:
    """This process's environment without a DOCKER_HOST that names a lab engine: the
    lab's own containers live on this machine's engine."""
    env = dict(os.environ)
    if f"/{PREFIX}-engine-" in env.get("DOCKER_HOST", ""):
        del env["DOCKER_HOST"]
    return env


def _docker() -> str:
    docker = shutil.which("docker")
    if docker is None:
        raise SwarmError("docker is not installed (the lab's engines run on this one)")
    return docker


def _outer(args: list[str], *, timeout_s: float = 120) -> str:
    return run_docker(
        [_docker(), *args], env=None, timeout_s=timeout_s, error=SwarmError, base_env=outer_env()
    )


def _inner(socket: Path, args: list[str], *, timeout_s: float = 120) -> str:
    return _outer(["-H", f"unix://{socket}", *args], timeout_s=timeout_s)


def engines() -> list[str]:
    """The lab's engine containers on this machine, by name, engine 1 first."""
    out = _outer(["ps", "-a", "--filter", f"label={LAB_LABEL}=engine", "--format", "{{.Names}}"])
    return sorted(out.split(), key=lambda name: int(name.rpartition("-")[2]))


def _engine_name(index: int) -> str:
    return f"{PREFIX}-engine-{index}"


def _wait_engine(socket: Path, name: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if socket.exists():
            try:
                _inner(socket, ["info", "--format", "{{.ServerVersion}}"], timeout_s=10)
                return
            except SwarmError:
                pass
        state = _outer(["inspect", "-f", "{{.State.Status}}", name]).strip()
        if state != "running":
            raise SwarmError(
                f"engine {name} stopped while starting ({state}): see `docker logs {name}`"
            )
        time.sleep(0.5)
    raise SwarmError(f"engine {name} did not answer within {timeout_s:.0f} s ({socket})")


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def up(
    count: int = 3,
    *,
    state_dir: Path | None = None,
    env_path: Path | None = None,
    timeout_s: float = 120.0,
) -> Lab:
    """Start ``count`` engines and the registry, join them into one swarm, and put the
    stack's images in the registry; ``SwarmError`` if a lab (or what is left of one) is
    here already. A start that fails half way is removed again."""
    if not 1 <= count <= 9:
        raise SwarmError(f"a lab has 1 to 9 engines, not {count}")
    if any(leftovers().values()):
        raise SwarmError(
            "a lab, or what is left of one, is on this engine: "
            "`python -m chaos.swarm.lab down` first"
        )
    try:
        return _start(count, state_dir=state_dir, env_path=env_path, timeout_s=timeout_s)
    except BaseException:
        try:
            down(state_dir=state_dir)
        except SwarmError as exc:  # the start's own error is the one to see
            _say(f"lab: removing the half-started lab failed too: {exc}")
        raise


def _start(count: int, *, state_dir: Path | None, env_path: Path | None, timeout_s: float) -> Lab:
    images = read_env_file(env_path)
    engine_image = images.get("ENGINE_IMAGE", DEFAULT_ENGINE_IMAGE)
    stack_images = [images.get(key, "") for key in IMAGE_KEYS]
    missing = [image for image in [engine_image, *stack_images] if not image or not _has(image)]
    if missing:
        raise SwarmError(
            f"missing image(s) {', '.join(missing) or '(unnamed)'}: build them with "
            f"compose/build-images.sh (names from {env_path or OFFLINE_ENV})"
        )
    directory = lab_dir(state_dir)
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)  # the engines' sockets: root on an engine with every capability
    started = time.monotonic()
    label = ["--label", f"{LAB_LABEL}=engine"]
    _outer(["network", "create", "--label", f"{LAB_LABEL}=network", NETWORK])
    config = directory / "registry.yml"
    config.write_text(REGISTRY_CONFIG, encoding="utf-8")
    _outer(
        ["run", "--detach", "--name", REGISTRY, "--network", NETWORK,
         "--network-alias", REGISTRY_ADDRESS.partition(":")[0],
         "--label", f"{LAB_LABEL}=registry", "--read-only",
         "-p", f"{topology.HOST}::5000",
         "-v", f"{config}:/etc/fallacies-registry.yml:ro",
         "--mount", f"type=volume,source={REGISTRY},target=/var/lib/docker-registry,"
                    f"volume-label={LAB_LABEL}=volume",
         engine_image, "docker-registry", "serve", "/etc/fallacies-registry.yml"]
    )  # fmt: skip
    largest = Scale(MAX_API_REPLICAS, MAX_WORKLOAD_PAIRS)
    published = [topology.CONTROL_PORT] + [
        port for (node, _), port in topology.published(largest).items() if node != "grafana"
    ]
    sockets = []
    for index in range(1, count + 1):
        name = _engine_name(index)
        run_dir = directory / name
        if run_dir.exists():
            shutil.rmtree(run_dir)
        run_dir.mkdir()
        sockets.append(run_dir / "docker.sock")
        ports = [a for port in published for a in ("-p", f"{topology.HOST}:{port}:{port}")]
        _outer(
            ["run", "--detach", "--name", name, "--hostname", f"engine-{index}", *label,
             "--network", NETWORK, *(ports if index == 1 else []),
             "--cap-add", "ALL", "--cap-drop", "SYS_RESOURCE",
             "--security-opt", "seccomp=unconfined", "--security-opt", "apparmor=unconfined",
             "--security-opt", "systempaths=unconfined",
             "-v", "/sys/fs/cgroup:/sys/fs/cgroup:rw", "-v", f"{run_dir}:/run/outer",
             "--mount", f"type=volume,source={name},target=/var/lib/docker,"
                        f"volume-label={LAB_LABEL}=volume",
             engine_image, "dockerd", "-H", "unix:///var/run/docker.sock",
             "-H", f"unix://{INNER_SOCKET}", "--group", "root", "--cgroup-parent", name,
             "--label", f"{LAB_LABEL}=engine",
             "--insecure-registry", REGISTRY_ADDRESS,
             *(["--label", f"{PUBLISH_LABEL}=0.0.0.0", "--label",
                f"{REGISTRY_LABEL}={REGISTRY_ADDRESS}"] if index == 1 else [])]
        )  # fmt: skip
    for index, socket in enumerate(sockets, start=1):
        _wait_engine(socket, _engine_name(index), timeout_s)
    _say(f"lab: {count} engine(s) answer ({time.monotonic() - started:.1f} s)")
    manager = sockets[0]
    address = _address(_engine_name(1))
    _inner(manager, ["swarm", "init", "--advertise-addr", address])
    token = _inner(manager, ["swarm", "join-token", "-q", "worker"]).strip()
    for socket in sockets[1:]:
        _inner(socket, ["swarm", "join", "--token", token, f"{address}:2377"])
    _say(f"lab: one swarm, engine-1 ({address}) manages it")
    _push(stack_images)
    _say(f"lab: images in the registry ({time.monotonic() - started:.1f} s)")
    return Lab(tuple(sockets))


def push(*, env_path: Path | None = None) -> None:
    """The stack's images, as built on this engine now, into the running lab's registry."""
    names = engines()
    if not names:
        raise SwarmError("no lab is running: `python -m chaos.swarm.lab up` first")
    images = read_env_file(env_path)
    missing = [key for key in IMAGE_KEYS if not images.get(key)]
    if missing:
        raise SwarmError(f"{env_path or OFFLINE_ENV} names no {', '.join(missing)}")
    _push([images[k] for k in IMAGE_KEYS])


def _has(image: str) -> bool:
    try:
        _outer(["image", "inspect", "--format", "{{.Id}}", image])
    except SwarmError:
        return False
    return True


def _address(container: str) -> str:
    out = _outer(["inspect", "--format", "{{json .NetworkSettings.Networks}}", container])
    address: str = json.loads(out)[NETWORK]["IPAddress"]
    return address


def _push(images: list[str]) -> None:
    """This engine's images into the registry, through its port on this machine's
    loopback (a registry there needs no TLS), under the same names the engines pull
    from ``registry:5000``; the tags made for it are removed again."""
    out = _outer(["port", REGISTRY, "5000/tcp"]).split()
    port = out[0].rpartition(":")[2] if out else ""
    if not port.isdigit():
        raise SwarmError(f"the lab's registry publishes no port: {' '.join(out) or 'none'}")
    for image in images:
        local = f"{topology.HOST}:{port}/{image}"
        _outer(["tag", image, local])
        try:
            _outer(["push", "-q", local], timeout_s=600)
        finally:
            _outer(["rmi", local])


def down(*, state_dir: Path | None = None) -> None:
    """Every engine (and so the swarm and all it ran), their volumes, the registry and
    the network; nothing of the lab is left on this engine."""
    ids = _outer(["ps", "-aq", "--filter", f"label={LAB_LABEL}"]).split()
    if ids:
        _outer(["rm", "-f", "--volumes", *ids], timeout_s=180)
    volumes = _outer(["volume", "ls", "-q", "--filter", f"label={LAB_LABEL}"]).split()
    if volumes:
        _outer(["volume", "rm", *volumes])
    networks = _outer(["network", "ls", "-q", "--filter", f"label={LAB_LABEL}"]).split()
    if networks:
        _outer(["network", "rm", *networks])
    shutil.rmtree(lab_dir(state_dir), ignore_errors=True)


def leftovers() -> dict[str, list[str]]:
    """What of the lab is on this engine: containers, volumes, networks (empty when down)."""
    found = {}
    for kind, args in {
        "containers": ["ps", "-aq"],
        "volumes": ["volume", "ls", "-q"],
        "networks": ["network", "ls", "-q"],
    }.items():
        found[kind] = _outer([*args, "--filter", f"label={LAB_LABEL}"]).split()
    return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chaos.swarm.lab", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )  # fmt: skip
    parser.add_argument("action", choices=("up", "down", "push", "status"))
    parser.add_argument("--engines", type=int, default=3, help="how many engines (up)")
    parser.add_argument("--env-file", type=Path, help="image names (compose/offline.env)")
    args = parser.parse_args(argv)
    try:
        if args.action == "up":
            lab = up(args.engines, env_path=args.env_file)
            print(f"export DOCKER_HOST={lab.docker_host}")
        elif args.action == "push":
            push(env_path=args.env_file)
            _say("lab: images in the registry (redeploy with `fallacies up --swarm`)")
        elif args.action == "down":
            down()
            _say("lab: removed")
        else:
            names = engines()
            if not names:
                _say("lab: not running")
                return 1
            for name in names:
                socket = lab_dir() / name / "docker.sock"
                _say(f"{name}: {_inner(socket, ['info', '--format', '{{.Swarm.LocalNodeState}}'])}")
            print(f"export DOCKER_HOST=unix://{lab_dir() / names[0] / 'docker.sock'}")
    except SwarmError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
