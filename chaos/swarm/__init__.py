"""The mesh as a Docker Swarm stack: ``stack`` renders it from the compose topology,
``lifecycle`` deploys it with its loopback gateway and control, ``backend`` is the
``MeshBackend`` the CLI drives with ``--swarm``. The control service that drives its
tasks is ``chaos.compose.control`` (``chaos.compose.task_action`` reaches other
engines)."""
