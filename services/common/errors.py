"""The one root of every error the project raises, and the errors the services share.

Each error lives in the layer that raises it; all descend from ``FallaciesError``, so
a caller can catch "anything of ours" in one clause and let real bugs through::

    FallaciesError
     ├── PortInUseError         a listening socket could not be bound (names host:port)
     ├── FieldError             a request body or a config is wrong (names the field)
     │    services
     ├── ApiError               services.api: an HTTP error answer ({error, status, reason})
     ├── PeerError              services.api.replication: a peer exchange failed
     ├── SignatureError         services.api.signing: a signature does not verify
     ├── PacketError            services.ntp.packet: a malformed NTP packet
     ├── NTPClientError         services.ntp.client: no usable time
     │    ├── NTPTimeoutError   (also a TimeoutError)
     │    │    └── BogusReplyError
     │    └── KissOfDeathError
     ├── NoMajorityError        services.ntp.selection: no intersection of a majority
     ├── DnsError               services.workload: no usable DNS answer
     ├── RequestError           services.workload: an HTTP exchange gave no usable answer
     │    ├── RequestFailed, Refused, ForgedResponse
     ├── OwnClientError         services.workload.own: a client of one's own cannot load
     │    chaos
     ├── ProxyApiError          chaos.proxy: an error answer of the fault proxy's API
     │    └── ListenError       a link could not bind its address
     ├── InvalidAttribute       chaos.proxy.toxics: a toxic attribute is wrong
     ├── ConfigError            chaos.proxy.config: a bad links file
     ├── ToxiproxyError         chaos.toxiproxy: the Toxiproxy API said no, or nothing
     ├── MeshError              chaos.mesh: something about a mesh a user can act on
     │    ├── MeshStartError    a node did not come up
     │    ├── ComposeError      docker compose failed or is missing
     │    ├── SwarmError        docker stack failed, or the engine manages no swarm
     │    ├── NoSuchEngine      no engine of the swarm has that name (also a LookupError)
     │    ├── EngineRefused     an engine drain that would break the mesh, not show a fault
     │    ├── ActionFailed      a kill or pause on a task's engine did not happen
     │    │    └── NoContainer  that engine has no container of the task
     │    ├── UsageError        asked for what cannot be (an option a backend lacks)
     │    ├── LinkError         a link change a user can fix (unknown link, refused toxic)
     │    └── PrometheusConfigError
     ├── FaultError             chaos.faults: a fault could not be applied or reverted
     │    └── HttpError         an admin API answered an error
     ├── FaultSpecError         chaos.faults: a fault step is wrong (names the field)
     ├── ExperimentError        chaos.experiment (raised by chaos.loader): every problem of a file
     │    └── LinksFileError    chaos.loader.links: every problem of a links file
     ├── FaultProxyError        chaos.testing: the test's fault proxy refused or did not answer
     ├── ProbeSpecError         chaos.probes: a probe's spec is wrong (names the field)
     ├── RunRefused             chaos.console.runs: a run the console cannot start (a 400)
     └── RunBusy                chaos.console.runs: a run is going, or none waits (a 409)

Control flow is not an error: a toxic's ``Interrupted`` (``chaos.proxy.stub``), an HTTP
relay's change of mode (``chaos.proxy.http.relay``) and a met stop condition
(``chaos.runner.method.Stopped``) are not in this tree, and never leave their pipeline,
relay or run.
"""

from __future__ import annotations

__all__ = ["FallaciesError", "FieldError", "PortInUseError"]


class FallaciesError(Exception):
    """Anything that went wrong that this project foresaw and can explain."""


class PortInUseError(FallaciesError):
    """Raised instead of a bare OSError so the CLI can print one line that names the port."""

    def __init__(self, what: str, host: str, port: int, reason: str) -> None:
        self.what = what
        self.host = host
        self.port = port
        super().__init__(f"cannot listen for {what} on {host}:{port}: {reason}")


class FieldError(FallaciesError, ValueError):
    """A bad request or config: carries the offending field so a 400 body can name it."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"{field}: {message}")
