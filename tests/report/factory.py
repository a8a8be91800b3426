"""Synthetic journals: a plausible run without running anything."""

from __future__ import annotations

import math

from chaos.journal import Check, FaultRecord, Journal, Rollback, Sample, Signal

FALLACIES = [
    (1, "The network is reliable", "api-replica-loss", "reset_peer", "api-1"),
    (2, "Latency is zero", "api-latency", "latency", "api-1"),
    (3, "Bandwidth is infinite", "api-bandwidth", "bandwidth", "api-2"),
    (4, "The network is secure", "dns-spoof", "dns_rewrite", "api.fallacies.test"),
    (5, "Topology doesn't change", "replica-moves", "partition", "api-3"),
    (6, "There is one administrator", "config-drift", "timeout", "api-2"),
    (7, "Transport cost is zero", "retry-storm", "limit_data", "api-1"),
    (8, "The network is homogeneous", "ntp-skew", "latency", "ntp-a"),
]

ERRORS = Signal("error_ratio", "Error ratio", "ratio")
LATENCY = Signal("latency_p99", "p99 latency", "seconds")
THROUGHPUT = Signal("throughput", "Successful requests", "requests/s")
EMPTY = Signal("skew", "Clock skew", "seconds")


def journal(
    index: int = 0,
    *,
    seconds: int = 60,
    fault: tuple[float, float | None] = (20.0, 40.0),
    narration: dict[str, str] | None = None,
    status: str = "passed",
) -> Journal:
    """A journal whose naive client breaks inside the fault window and resilient holds.

    ``EMPTY`` is declared but never has a value (all None), and the first two
    samples carry no values at all, as before the first scrape.
    """
    number, name, slug, kind, target = FALLACIES[index]
    start, end = fault
    samples = []
    for t in range(seconds):
        inside = start <= t < (end if end is not None else math.inf)
        if t < 2:
            samples.append(Sample(t=float(t), values={}))
            continue
        wobble = 0.01 * math.sin(t)
        naive_err = 0.6 + wobble if inside else 0.01
        samples.append(
            Sample(
                t=float(t),
                values={
                    ERRORS.name: {"naive": naive_err, "resilient": 0.02 + wobble / 2},
                    LATENCY.name: {
                        "naive": 2.0 if inside else 0.05,
                        "resilient": None if t % 17 == 0 else (0.3 if inside else 0.05),
                    },
                    THROUGHPUT.name: {
                        "naive": 40.0 * (1 - naive_err),
                        "resilient": 38.0,
                    },
                    EMPTY.name: {"naive": None, "resilient": None},
                },
            )
        )
    return Journal(
        name=slug,
        title=f"{name}: {kind} on {target}",
        fallacy=number,
        fallacy_name=name,
        narration=narration
        or {
            "fallacy": f"We assume {name.lower()}.",
            "inject": f"{kind} on {target} from t={start:.0f}s.",
            "watch": "The naive error ratio climbs; the resilient one barely moves.",
            "pattern": "Timeouts, retries with backoff and jitter, a circuit breaker.",
        },
        key_signal=ERRORS,
        signals=[ERRORS, LATENCY, THROUGHPUT, EMPTY],
        started_at=f"2024-05-01T10:{index:02d}:00Z",
        duration_s=float(seconds),
        status=status,  # type: ignore[arg-type]
        faults=[
            FaultRecord(
                kind=kind,
                target=target,
                start_s=start,
                end_s=end,
                attributes={"latency": 2000, "jitter": 100} if kind == "latency" else {},
                reverted=end is not None,
            )
        ],
        samples=samples,
        steady_state=[
            Check("error ratio low", phase, "resilient", ERRORS.name, "<", 0.05, 0.01, True)
            for phase in ("before", "after")
        ],
        expectations=[
            Check(
                "naive breaks during the fault",
                "during",
                "naive",
                ERRORS.name,
                ">",
                0.3,
                0.61,
                True,
            ),
            Check(
                "resilient holds during the fault",
                "during",
                "resilient",
                ERRORS.name,
                "<",
                0.05,
                0.021 if status == "passed" else 0.2,
                status == "passed",
                detail="mean over the window",
            ),
        ],
        rollbacks=[Rollback(action=f"remove {kind} from {target}", status="ok")],
    )


def aborted(index: int = 1) -> Journal:
    """Aborted mid-fault: no expectations, the fault still active, an error."""
    j = journal(index, seconds=30, fault=(12.0, None), status="aborted")
    j.expectations = []
    j.steady_state = j.steady_state[:1]
    j.rollbacks = [Rollback(action="remove latency from api-1", status="failed", detail="409")]
    j.error = "RuntimeError: proxy went away\n  at <step 3>"
    return j


def run() -> list[Journal]:
    """Eight experiments, one of them failed and one aborted."""
    journals = [journal(i, status="failed" if i == 2 else "passed") for i in range(8)]
    journals[5] = aborted(5)
    return journals
