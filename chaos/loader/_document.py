"""The document as a whole: the experiment built from its sections, and the rules across them.

A "during" expectation for each client (the contrast is the point), every declared
defence protecting an expectation, and a method that fits the time it is given.
"""

from __future__ import annotations

from pathlib import Path

from chaos.experiment.model import Check, Experiment, FaultStep
from chaos.loader._sections import SectionReader
from chaos.loader._values import CLIENTS, MISSING, PHASES, all_valid, secs

MAX_METHOD_S = 600.0
"""No fault may end later than this after the method starts: a longer one is a typo
(``20m`` for ``20s``) far more often than a plan, and would hold a workshop hostage."""

TOP_REQUIRED = (
    "title",
    "fallacy",
    "narration",
    "key_signal",
    "steady_state",
    "method",
    "expectations",
)
TOP_OPTIONAL = (
    "name",
    "signals",
    "warmup_s",
    "observe_after_s",
    "settle_s",
    "recover_s",
    "workload",
    "defences",
    "rollbacks",
)


class DocumentCheck(SectionReader):
    """One whole document: ``experiment()`` is ``None`` if anything is wrong."""

    # -- the document ------------------------------------------------------------

    def experiment(self, stem: str, source: Path) -> Experiment | None:
        top = self.fields(self.doc.value, "", TOP_REQUIRED, TOP_OPTIONAL)
        if top is None:
            return None
        title = self.text(top.get("title", MISSING), "title")
        fallacy = self.fallacy(top.get("fallacy", MISSING))
        name = self.name(top.get("name", MISSING), stem)
        narration = self.narration(top.get("narration", MISSING))
        key_signal = self.known(
            top.get("key_signal", MISSING), "key_signal", self.registries.signals, "signal"
        )
        signals = self.signals(top.get("signals", []), key_signal)
        warmup_s, observe_after_s, settle_s, recover_s = self.windows(top)
        workload = self.workload(top["workload"]) if "workload" in top else {}
        defences = self.defence_list(top.get("defences", []), "defences")
        steady_state = all_valid(
            self.each(
                top.get("steady_state", MISSING),
                "steady_state",
                lambda item, path: self.check(item, path, expectation=False),
            )
        )
        steps = self.each(top.get("method", MISSING), "method", self.step)
        method = all_valid(steps)
        expectations = all_valid(
            self.each(
                top.get("expectations", MISSING),
                "expectations",
                lambda item, path: self.check(item, path, expectation=True),
            )
        )
        rollbacks = all_valid(
            self.each(top.get("rollbacks", []), "rollbacks", self.rollback, minimum=0)
        )

        self.contrast(top.get("expectations", MISSING))
        if defences is not None and expectations is not None:
            self.defended(defences, expectations)
        if steps is not None:
            self.timeline(steps, settle_s if method is not None else None)

        if (
            self.problems
            or title is None
            or fallacy is None
            or name is None
            or narration is None
            or key_signal is None
            or signals is None
            or workload is None
            or defences is None
            or steady_state is None
            or method is None
            or expectations is None
            or rollbacks is None
            or warmup_s is None
            or observe_after_s is None
            or settle_s is None
            or recover_s is None
        ):
            return None
        return Experiment(
            name=name,
            title=title,
            fallacy=fallacy,
            narration=narration,
            key_signal=key_signal,
            signals=signals,
            steady_state=tuple(steady_state),
            method=tuple(method),
            expectations=tuple(expectations),
            rollbacks=tuple(rollbacks),
            workload=workload,
            defences=tuple(defences),
            warmup_s=warmup_s,
            observe_after_s=observe_after_s,
            settle_s=settle_s,
            recover_s=recover_s,
            source=source,
        )

    def windows(
        self, top: dict[str, object]
    ) -> tuple[float | None, float | None, float | None, float | None]:
        """warmup_s, observe_after_s, settle_s, recover_s; recovering must leave an "after"."""
        warmup_s = self.window(top, "warmup_s", positive=True)
        observe_after_s = self.window(top, "observe_after_s", positive=True)
        settle_s = self.window(top, "settle_s", positive=False)
        recover_s = self.window(top, "recover_s", positive=False)
        if recover_s is not None and observe_after_s is not None and recover_s >= observe_after_s:
            self.error(
                "recover_s",
                f"{secs(recover_s)} leaves no 'after' window: observe_after_s is "
                f"{secs(observe_after_s)}",
            )
            recover_s = None
        return warmup_s, observe_after_s, settle_s, recover_s

    # -- the document as a whole ------------------------------------------------------

    def contrast(self, expectations: object) -> None:
        """Every experiment shows the naive client breaking *and* the resilient one holding.

        Judged on the raw items, so it is reported even when an expectation has a bad
        op or threshold — but not when a phase or client is unreadable, which could
        be the very expectation that is "missing".
        """
        if not isinstance(expectations, list) or not expectations:
            return
        covered: set[str] = set()
        for item in expectations:
            if not isinstance(item, dict):
                return
            phase, client = item.get("phase"), item.get("client", "both")
            if not (isinstance(phase, str) and phase in PHASES):
                return
            if not (isinstance(client, str) and client in CLIENTS):
                return
            if phase == "during":
                covered.update(("naive", "resilient") if client == "both" else (client,))
        for client in ("naive", "resilient"):
            if client not in covered:
                self.error(
                    "expectations",
                    f"no 'during' expectation for the {client} client; add one with "
                    f"phase: during and client: {client} (or both)",
                )

    def defended(self, defences: list[str], expectations: list[Check]) -> None:
        """Each declared defence keeps an expectation true; each named one is declared.

        A defence that protects nothing cannot be proven by ablation, and one named
        on an expectation but not declared would be left out of the matrix.
        """
        named = {name for check in expectations for name in check.defended_by}
        for index, name in enumerate(defences):
            if name not in named:
                self.error(
                    f"defences[{index}]",
                    f"{name!r} protects no expectation; add defended_by: [{name}] to the "
                    "resilient expectation it keeps true, or remove it",
                )
        for index, check in enumerate(expectations):
            for position, name in enumerate(check.defended_by):
                if name not in defences:
                    self.error(
                        f"expectations[{index}].defended_by[{position}]",
                        f"{name!r} is not declared; add it to the experiment's defences",
                    )

    def timeline(self, steps: list[FaultStep | None], settle_s: float | None) -> None:
        """Faults end in time, do not pile up on one target, and leave a window to judge.

        ``settle_s`` is ``None`` when it, or any step, is wrong: the window is unknown.
        """
        for index, step in enumerate(steps):
            if step is None:
                continue
            end = step.at_s + step.duration_s
            if end > MAX_METHOD_S:
                self.error(
                    f"method[{index}].duration",
                    f"the fault ends {secs(end)} after the method starts; the limit is "
                    f"{secs(MAX_METHOD_S)} (20m where 20s was meant?)",
                )
            for earlier_index, earlier in enumerate(steps[:index]):
                if earlier is None or (earlier.kind, earlier.target) != (step.kind, step.target):
                    continue
                if step.at_s < earlier.at_s + earlier.duration_s and earlier.at_s < end:
                    self.error(
                        f"method[{index}].at",
                        f"{step.kind} on {step.target!r} from {secs(step.at_s)} to "
                        f"{secs(end)} overlaps method[{earlier_index}] (from "
                        f"{secs(earlier.at_s)} to {secs(earlier.at_s + earlier.duration_s)}); "
                        "one kind of fault on one target must not overlap",
                    )
        method = [step for step in steps if step is not None]
        if settle_s is None or not method:
            return
        start = min(step.at_s for step in method)
        for quick in (False, True):
            span = max(step.at_s + step.duration(quick) for step in method) - start
            if settle_s >= span:
                mode = " with --quick" if quick else ""
                self.error(
                    "settle_s",
                    f"{secs(settle_s)} leaves no 'during' window: the faults last "
                    f"{secs(span)}{mode}",
                )
                return
