"""The compose mesh: the same nodes and links as containers, driven like the embedded one.

compose/compose.yaml ── containers from one image (compose/Dockerfile)
topology.py  the static layout: addresses, ports, configs (render.py writes compose/config)
state.py     the MeshState the runner uses, seen from the host (published loopback ports)
control.py   the control service: the embedded control API backed by the Docker SDK
task_action.py  kill or pause a Swarm task on its own engine (a one-shot service there)
lifecycle.py up / down / status around ``docker compose``
"""
