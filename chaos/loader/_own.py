"""A document about one's own services: probes for checks, faults on one's own links.

No fallacy, narration or client: there is one system under test, the user's. What
stays is the rest of the contract — the whole document checked before anything
binds, every problem with its file, line and field — and the timeline rules.

    title: Checkout survives a slow shop   # required
    links: links.yaml                      # the links file (relative to this file), or --links
    steady_state:                          # probes that pass before the faults and after
      - probe: {http: {url: http://127.0.0.1:8090/health}}
    method:                                # link faults only: the targets are the links
      - {fault: latency, target: shop, duration: 10s, attributes: {latency: 800}}
    expectations:                          # phase during | after
      - phase: during
        probe: {promql: {url: http://127.0.0.1:9090, query: ..., op: "<", threshold: 0.05}}
        ratio: 0.9                         # share of calls that must pass (default 1)
    stop_when:                             # optional: the first probe that passes stops it
      - probe: {http: {url: http://127.0.0.1:8090/health, status: 503}}
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import cast

from chaos.experiment.errors import ExperimentError
from chaos.experiment.model import OWN, Check, CheckPhase, Experiment, FaultStep, Narration
from chaos.faults.base import FaultSpecError
from chaos.loader._document import DocumentCheck
from chaos.loader._registries import FaultValidator, LinkFaultValidator, Registries
from chaos.loader._values import MISSING, PHASES, all_valid
from chaos.loader.links import load_links
from chaos.loader.yamldoc import Document, join
from chaos.probes import ProbeSpecError, probe_from
from chaos.probes.base import Probe

TOP_REQUIRED = ("title", "steady_state", "method", "expectations")
TOP_OPTIONAL = (
    "name",
    "links",
    "warmup_s",
    "observe_after_s",
    "settle_s",
    "recover_s",
    "stop_when",
)

NO_NARRATION = Narration(fallacy="", inject="", watch="", pattern="")


def is_own(value: object) -> bool:
    """A document with no ``fallacy`` that names links or probes is about one's own services."""
    if not isinstance(value, dict) or "fallacy" in value:
        return False
    if "links" in value:
        return True
    checks = [value.get(key) for key in ("steady_state", "expectations")]
    return any(
        isinstance(section, list) and any(isinstance(c, dict) and "probe" in c for c in section)
        for section in checks
    )


class OwnDocumentCheck(DocumentCheck):
    def __init__(
        self,
        file: str,
        doc: Document,
        registries: Registries,
        links: Mapping[str, str] | None,
    ) -> None:
        super().__init__(file, doc, registries)
        self.links = links
        """Link name -> protocol, from ``--links``/``--proxy``; else from the file's ``links:``."""

    def experiment(self, stem: str, source: Path) -> Experiment | None:
        top = self.fields(self.doc.value, "", TOP_REQUIRED, TOP_OPTIONAL)
        if top is None:
            return None
        links_file = self.links_field(top.get("links", MISSING), source)
        title = self.text(top.get("title", MISSING), "title")
        name = self.name(top.get("name", MISSING), stem)
        warmup_s, observe_after_s, settle_s, recover_s = self.windows(top)
        steady_state = all_valid(
            self.each(
                top.get("steady_state", MISSING),
                "steady_state",
                lambda item, path: self.probe_check(item, path, phase=False),
            )
        )
        steps = self.each(top.get("method", MISSING), "method", self.step)
        method = all_valid(steps)
        expectations = all_valid(
            self.each(
                top.get("expectations", MISSING),
                "expectations",
                lambda item, path: self.probe_check(item, path, phase=True),
            )
        )
        stop_when = all_valid(
            self.each(
                top.get("stop_when", []),
                "stop_when",
                lambda item, path: self.probe_check(item, path, phase=False, stop=True),
                minimum=0,
            )
        )
        if steps is not None:
            self.timeline(steps, settle_s if method is not None else None)
        if (
            self.problems
            or title is None
            or name is None
            or steady_state is None
            or method is None
            or expectations is None
            or stop_when is None
            or warmup_s is None
            or observe_after_s is None
            or settle_s is None
            or recover_s is None
        ):
            return None
        return Experiment(
            name=name,
            title=title,
            fallacy=OWN,
            narration=NO_NARRATION,
            key_signal="",
            signals=(),
            steady_state=tuple(steady_state),
            method=tuple(method),
            expectations=tuple(expectations),
            warmup_s=warmup_s,
            observe_after_s=observe_after_s,
            settle_s=settle_s,
            recover_s=recover_s,
            source=source,
            links_file=links_file,
            stop_when=tuple(stop_when),
        )

    def links_field(self, value: object, source: Path) -> Path | None:
        """The file's ``links:``; its links are the targets unless the caller gave others."""
        if value is MISSING:
            if self.links is None:
                self.error(
                    "links",
                    "missing: name a links file here (links: links.yaml) or run it with "
                    "--links FILE or --proxy URL",
                )
            return None
        path = self.text(value, "links")
        if path is None:
            return None
        resolved = (source.parent / path).resolve()
        if self.links is None:
            try:
                self.links = {link.name: link.protocol for link in load_links(resolved).links}
            except ExperimentError as exc:
                self.error("links", f"{path}: {len(exc.problems)} problem(s):\n{exc}")
                return None
        return resolved

    def probe_check(
        self, value: object, path: str, *, phase: bool, stop: bool = False
    ) -> Check | None:
        required = ("probe", "phase") if phase else ("probe",)
        optional = ("description",) if stop else ("ratio", "description")
        fields = self.fields(value, path, required, optional)
        if fields is None:
            return None
        probe: Probe | None = None
        try:
            probe = probe_from(fields.get("probe", MISSING))
        except ProbeSpecError as exc:
            where = join(path, "probe")
            field = join(where, exc.field) if exc.field else where
            self.error(field, exc.message)
        when: CheckPhase | None = "before"
        if phase:
            when = self.choice(fields.get("phase", MISSING), join(path, "phase"), PHASES, "phase")
        ratio: float | None = 1.0
        if "ratio" in fields:
            ratio = self.number(fields["ratio"], join(path, "ratio"))
            if ratio is not None and not 0 < ratio <= 1:
                self.error(join(path, "ratio"), f"{ratio:g} is not a share in (0, 1]")
                ratio = None
        description = ""
        if "description" in fields:
            description = self.text(fields["description"], join(path, "description")) or ""
        if probe is None or when is None or ratio is None:
            return None
        return Check(
            signal=probe.kind,
            op=">=",
            threshold=ratio,
            client="both",
            phase=when,
            description=description,
            line=self.doc.line(path),
            probe=probe,
        )

    def validate_fault(self, fault: FaultValidator, step: FaultStep) -> None:
        if not getattr(fault, "any_link", False):
            raise FaultSpecError(
                "fault",
                f"{step.kind} acts on the playground's own nodes; on your own services "
                "only link faults apply (latency, timeout, loss, link_down, …)",
            )
        if self.links is None:
            return
        cast(LinkFaultValidator, fault).validate(step, self.links)
