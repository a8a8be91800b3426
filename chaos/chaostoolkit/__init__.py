"""A Chaos Toolkit extension: the project's faults and signals as actions and probes.

Use it from a Chaos Toolkit experiment (``chaos run experiment.json``)::

    {"type": "action", "name": "slow api-1",
     "provider": {"type": "python", "module": "chaos.chaostoolkit.actions",
                  "func": "add_fault",
                  "arguments": {"link": "api-1", "toxic": "latency",
                                "attributes": {"latency": 800}, "ttl_s": 30}}}

Actions (``chaos.chaostoolkit.actions``): ``add_fault``, ``remove_fault``, ``reset``,
``link_down``, ``skew_clock``, ``change_dns_record``, and ``inject_fault`` for any
of the project's fault kinds. Probes (``chaos.chaostoolkit.probes``):
``fault_active``, ``signal_value``. Every fault is added with a TTL enforced outside
Chaos Toolkit (the proxy's own, or the mesh's janitor), so an interrupted ``chaos
run`` leaves nothing behind.

What they act on comes from the experiment's ``configuration``:

    fallacies_proxy_url   any running fault proxy (links only), e.g. http://127.0.0.1:8474
    fallacies_compose     true: the Docker Compose mesh (default: the embedded one)
    fallacies_state_dir   where that mesh keeps its state (default as the CLI's)

The admin token, if one is set, comes from ``$FALLACIES_ADMIN_TOKEN``.
"""
