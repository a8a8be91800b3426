"""One node of the mesh as a process: ``python -m chaos.node KIND --config FILE``.

The launcher sits above the services and the fault proxy it builds (``registry``),
so the services never import anything of chaos.
"""
