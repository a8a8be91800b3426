"""The mesh as a Docker Swarm stack: ``stack`` renders it from the compose topology,
``lifecycle`` deploys it with its loopback gateway and control, ``backend`` is the
``MeshBackend`` the CLI drives with ``--swarm``, ``task_action`` kills or pauses a task
on whichever engine it runs."""
