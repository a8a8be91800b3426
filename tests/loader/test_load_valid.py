"""A valid file becomes the expected Experiment: durations parsed, defaults applied, lines kept."""

from __future__ import annotations

from chaos.experiment import Check, FaultStep, Narration, Rollback
from chaos.experiment.model import Experiment
from tests.loader.conftest import VALID, Writer, edit, line_of, load


def test_valid_file_loads_into_the_expected_experiment(write: Writer) -> None:
    path = write(VALID, "latency-is-zero.yaml")

    experiment = load(path)

    assert experiment == Experiment(
        name="latency-is-zero",
        title="Latency is zero",
        fallacy=2,
        narration=Narration(
            fallacy="Calls look instant.",
            inject="800 ms on api-1.",
            watch="The naive p99 climbs.",
            pattern="Deadlines and hedging.",
        ),
        key_signal="journey_p99_seconds",
        signals=("journey_p99_seconds", "journey_success_ratio", "hedges"),
        steady_state=(Check("journey_success_ratio", ">=", 0.95, "both", "before", "", line=14),),
        method=(
            FaultStep(
                kind="latency",
                target="api-1",
                at_s=0.0,
                duration_s=20.0,
                quick_duration_s=8.0,
                attributes={"latency": 800, "jitter": 200},
                line=18,
            ),
            FaultStep("link_down", "api-2", at_s=60.0, duration_s=1.5, line=25),
        ),
        expectations=(
            Check("journey_p99_seconds", ">", 1.0, "naive", "during", "naive journeys stall", 30),
            Check("journey_success_ratio", ">=", 0.95, "resilient", "during", "", 36),
            Check("journey_p99_seconds", "<", 0.5, "both", "after", "", 41),
        ),
        rollbacks=(Rollback("reset_links", {"force": True}, line=46),),
        warmup_s=2.0,
        observe_after_s=6.0,
        settle_s=0.5,
        workload={"journey": {"interval_s": 0.2}},
        source=path,
    )
    assert experiment.fallacy_name == "Latency is zero"
    assert experiment.method_span(quick=False) == 61.5


def test_recorded_lines_are_the_lines_of_the_items(write: Writer) -> None:
    experiment = load(write(VALID))

    assert experiment.method[1].line == line_of(VALID, "- fault: link_down")
    assert experiment.expectations[2].line == line_of(VALID, "- phase: after")
    assert experiment.rollbacks[0].line == line_of(VALID, "- action: reset_links")


def test_defaults_when_optional_fields_are_absent(write: Writer) -> None:
    text = VALID
    for optional in (
        "name: x\n",
        "signals: [journey_success_ratio, hedges]\n",
        "warmup_s: 2\n",
        "settle_s: 500ms\n",
        "workload: {journey: {interval_s: 0.2}}\n",
    ):
        text = text.replace(optional, "")
    text = text[: text.index("rollbacks:")]
    experiment = load(write(text, "no-options.yaml"))

    assert experiment.name == "no-options"
    assert experiment.signals == ("journey_p99_seconds",)
    assert (experiment.warmup_s, experiment.observe_after_s, experiment.settle_s) == (4, 6, 1)
    assert experiment.workload == {}
    assert experiment.rollbacks == ()
    assert experiment.steady_state[0].client == "both"


def test_name_field_overrides_the_file_stem(write: Writer) -> None:
    text = edit(VALID, "fallacy: 2\n", "fallacy: 2\nname: zero-latency\n")
    assert load(write(text, "whatever.yaml")).name == "zero-latency"


def test_key_signal_already_listed_keeps_its_place(write: Writer) -> None:
    text = edit(
        VALID, "signals: [journey_success_ratio, hedges]", "signals: [hedges, journey_p99_seconds]"
    )
    assert load(write(text)).signals == ("hedges", "journey_p99_seconds")


def test_durations_in_every_spelling(write: Writer) -> None:
    text = edit(VALID, "duration: 20s\n", "duration: 0.5m\n")
    text = edit(text, "warmup_s: 2", "warmup_s: 2.5")
    text = edit(text, "at: 1m", "at: 90")
    experiment = load(write(text))

    assert experiment.method[0].duration_s == 30.0
    assert experiment.warmup_s == 2.5
    assert experiment.method[1].at_s == 90.0


def test_anchors_and_merge_keys(write: Writer) -> None:
    text = edit(
        VALID,
        'steady_state:\n  - signal: journey_success_ratio\n    op: ">="\n    threshold: 0.95\n',
        "steady_state:\n  - &healthy\n    signal: journey_success_ratio\n"
        '    op: ">="\n    threshold: 0.95\n',
    )
    text = edit(
        text,
        "  - phase: during\n    client: resilient\n    signal: journey_success_ratio\n"
        '    op: ">="\n    threshold: 0.95\n',
        "  - <<: *healthy\n    phase: during\n    client: resilient\n",
    )
    experiment = load(write(text))

    assert experiment.expectations[1] == Check(
        "journey_success_ratio",
        ">=",
        0.95,
        "resilient",
        "during",
        "",
        experiment.expectations[1].line,
    )


def test_empty_optional_lists_and_mappings(write: Writer) -> None:
    text = edit(VALID, "    args: {force: true}\n", "    args:\n")
    text = edit(text, "signals: [journey_success_ratio, hedges]", "signals:")
    experiment = load(write(text))

    assert experiment.rollbacks[0].args == {}
    assert experiment.signals == ("journey_p99_seconds",)


def test_defences_and_what_each_protects(write: Writer) -> None:
    text = edit(
        VALID,
        "workload: {journey: {interval_s: 0.2}}\n",
        "workload: {journey: {interval_s: 0.2}}\ndefences: [hedging, timeouts]\n",
    )
    text = edit(
        text,
        '    op: ">="\n    threshold: 0.95\n  - phase: after',
        '    op: ">="\n    threshold: 0.95\n    defended_by: [hedging, timeouts]\n  - phase: after',
    )
    experiment = load(write(text))

    assert experiment.defences == ("hedging", "timeouts")
    protected = experiment.protected("timeouts")
    assert [c.client for c in protected] == ["resilient"]
    assert protected[0].defended_by == ("hedging", "timeouts")
    assert experiment.protected("retries") == ()
    assert experiment.expectations[0].defended_by == ()
