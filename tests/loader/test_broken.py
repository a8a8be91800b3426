"""Broken files: each problem names the file, the right line and the field path.

Every case starts from the valid document and breaks one thing, so each must give
exactly one problem — a second one would be noise an author has to read past.
Lines are found by looking for the broken text (``at``), independently of the loader.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from chaos.experiment import ExperimentError
from tests.loader.conftest import VALID, Writer, edit, line_of, load, only, problems

RESILIENT_EXPECTATION = """\
  - phase: during
    client: resilient
    signal: journey_success_ratio
    op: ">="
    threshold: 0.95
"""
METHOD = VALID[VALID.index("method:") : VALID.index("expectations:")]
STEADY_THRESHOLD = 'op: ">="\n    threshold: 0.95\nmethod:'


@dataclass(frozen=True)
class Case:
    old: str
    new: str
    field: str
    at: str | None
    """Text on the reported line (its first occurrence in the broken file); None: line 1."""
    message: str
    """Part of (or, with ``exact``, the whole) message."""
    exact: bool = False


CASES = {
    # the four the issue names
    "missing field": Case(
        "key_signal: journey_p99_seconds\n", "", "key_signal", None, "missing (required)"
    ),
    "missing field in a step": Case(
        "    duration: 20s\n", "", "method[0].duration", "- fault: latency", "missing (required)"
    ),
    "unknown fault": Case(
        "fault: latency",
        "fault: latncy",
        "method[0].fault",
        "fault: latncy",
        "unknown fault 'latncy'; did you mean 'latency'? (faults: latency, link_down)",
        exact=True,
    ),
    "bad duration": Case(
        "duration: 20s",
        "duration: 20x",
        "method[0].duration",
        "duration: 20x",
        '"20x" is not a duration (use 500ms, 4s or 1m)',
        exact=True,
    ),
    "unknown link": Case(
        "target: api-1",
        "target: api-9",
        "method[0].target",
        "target: api-9",
        "no link named 'api-9'; links: api-1, api-2",
        exact=True,
    ),
    # fields
    "missing narration key": Case(
        "  pattern: Deadlines and hedging.\n", "", "narration.pattern", "narration:", "missing"
    ),
    "unknown field with suggestion": Case(
        STEADY_THRESHOLD,
        STEADY_THRESHOLD.replace("threshold", "treshold"),
        "steady_state[0].treshold",
        "treshold:",
        "unknown field 'treshold'; did you mean 'threshold'? "
        "(fields: client, description, op, signal, threshold)",
        exact=True,
    ),
    "unknown top-level field lists the fields": Case(
        "fallacy: 2\n",
        "fallacy: 2\nowner: ops\n",
        "owner",
        "owner:",
        "unknown field 'owner' (fields: defences, expectations, fallacy, key_signal, method,",
    ),
    "field written twice": Case(
        "fallacy: 2\n",
        "fallacy: 2\ntitle: Again\n",
        "title",
        "title: Again",
        "written twice (first on line 1)",
    ),
    "fallacy 9": Case(
        "fallacy: 2",
        "fallacy: 9",
        "fallacy",
        "fallacy: 9",
        "9 is not one of the eight fallacies; expected 1..8",
        exact=True,
    ),
    "fallacy not a number": Case(
        "fallacy: 2",
        "fallacy: two",
        "fallacy",
        "fallacy: two",
        'expected a whole number 1..8; got "two"',
    ),
    "title not text": Case(
        "title: Latency is zero", "title: 42", "title", "title: 42", "expected text; got 42"
    ),
    "narration empty": Case(
        "watch: The naive p99 climbs.", 'watch: ""', "narration.watch", "watch:", "is empty"
    ),
    "name not a name": Case(
        "fallacy: 2\n",
        "fallacy: 2\nname: Zero_Latency\n",
        "name",
        "name:",
        '"Zero_Latency" is not a name',
    ),
    "unknown signal with suggestion": Case(
        "key_signal: journey_p99_seconds",
        "key_signal: journey_p99",
        "key_signal",
        "key_signal:",
        "unknown signal 'journey_p99'; did you mean 'journey_p99_seconds'?",
    ),
    "signal listed twice": Case(
        "signals: [journey_success_ratio, hedges]",
        "signals: [hedges, hedges]",
        "signals[1]",
        "signals:",
        "'hedges' is listed twice",
    ),
    "workload setting unknown": Case(
        "interval_s: 0.2",
        "intervl_s: 0.2",
        "workload.journey.intervl_s",
        "workload:",
        "unknown setting",
    ),
    "warmup zero": Case(
        "warmup_s: 2", "warmup_s: 0", "warmup_s", "warmup_s:", "must be more than 0"
    ),
    "steady state empty": Case(
        "steady_state:\n  - signal: journey_success_ratio\n    " + STEADY_THRESHOLD,
        "steady_state: []\nmethod:",
        "steady_state",
        "steady_state:",
        "is empty; at least one is needed",
    ),
    # checks
    "wrong op": Case(
        'op: ">"',
        'op: "=>"',
        "expectations[0].op",
        'op: "=>"',
        "\"=>\" is not an operator; did you mean '>='?",
    ),
    "unknown op": Case(
        'op: ">"', 'op: "~"', "expectations[0].op", 'op: "~"', "expected one of < <= > >= == !="
    ),
    "unquoted > reads as an empty folded block": Case(
        'op: ">"', "op: >", "expectations[0].op", "op: >", 'quoted (op: ">")'
    ),
    "unquoted != reads as a tag": Case(
        'op: "<"', "op: !=", "expectations[2].op", "op: !=", "unknown YAML tag '!='"
    ),
    "threshold not a number": Case(
        "threshold: 1\n",
        "threshold: lots\n",
        "expectations[0].threshold",
        "threshold: lots",
        'expected a number; got "lots"',
    ),
    "threshold quoted": Case(
        "threshold: 1\n",
        'threshold: "1"\n',
        "expectations[0].threshold",
        'threshold: "1"',
        "write the number without quotes",
    ),
    "threshold in YAML 1.1 exponent form": Case(
        "threshold: 1\n",
        "threshold: 1e-3\n",
        "expectations[0].threshold",
        "threshold: 1e-3",
        "write 1.0e-3",
    ),
    "bad client": Case(
        "client: naive",
        "client: naiv",
        "expectations[0].client",
        "client: naiv",
        '"naiv" is not a client; expected naive | resilient | both',
    ),
    "expectation without phase": Case(
        "  - phase: after\n    signal:",
        "  - signal:",
        "expectations[2].phase",
        "  - signal: journey_p99_seconds",
        "missing",
    ),
    "no resilient expectation": Case(
        RESILIENT_EXPECTATION,
        "",
        "expectations",
        "expectations:",
        "no 'during' expectation for the resilient client",
    ),
    "no naive expectation": Case(
        "client: naive",
        "client: resilient",
        "expectations",
        "expectations:",
        "for the naive client",
    ),
    # faults
    "attribute rejected by the fault": Case(
        "latency: 800",
        "latency: -5",
        "method[0].attributes.latency",
        "latency: -5",
        "must be 0 or more ms, not -5",
        exact=True,
    ),
    "attributes not a mapping": Case(
        "attributes:\n      latency: 800\n      jitter: 200",
        "attributes: [800]",
        "method[0].attributes",
        "attributes:",
        "expected a mapping; got a list",
    ),
    "zero duration": Case(
        "duration: 20s", "duration: 0s", "method[0].duration", "duration: 0s", "must be more than 0"
    ),
    "negative start": Case("at: 1m", "at: -1", "method[1].at", "at: -1", "-1 is negative"),
    "quick longer than the fault": Case(
        "quick_duration: 8s",
        "quick_duration: 30s",
        "method[0].quick_duration",
        "quick_duration:",
        "30s is longer than duration (20s)",
    ),
    "method not a list": Case(
        METHOD,
        "method: {fault: latency}\n",
        "method",
        "method:",
        "expected a list; got a mapping",
    ),
    "faults of one kind on one target overlap": Case(
        "- fault: link_down\n    target: api-2\n    at: 1m",
        "- fault: latency\n    target: api-1\n    at: 10s",
        "method[1].at",
        "at: 10s",
        "latency on 'api-1' from 10s to 11.5s overlaps method[0] (from 0s to 20s)",
    ),
    "method too long": Case(
        "at: 1m",
        "at: 10m",
        "method[1].duration",
        "duration: 1500ms",
        "ends 601.5s after the method starts",
    ),
    "settle leaves no window": Case(
        "settle_s: 500ms",
        "settle_s: 2m",
        "settle_s",
        "settle_s:",
        "120s leaves no 'during' window: the faults last 61.5s",
    ),
    # rollbacks
    "unknown rollback action": Case(
        "action: reset_links",
        "action: reset_link",
        "rollbacks[0].action",
        "action:",
        "did you mean 'reset_links'?",
    ),
    "rollback args not a mapping": Case(
        "args: {force: true}",
        "args: force",
        "rollbacks[0].args",
        "args:",
        'expected a mapping; got text "force"',
    ),
    # defences (the names are the workload's switches, a contract like signal names)
    "unknown defence with suggestion": Case(
        "workload: {journey: {interval_s: 0.2}}\n",
        "workload: {journey: {interval_s: 0.2}}\ndefences: [retrys]\n",
        "defences[0]",
        "defences:",
        "unknown defence 'retrys'; did you mean 'retries'?",
    ),
    "declared defence that protects nothing": Case(
        "workload: {journey: {interval_s: 0.2}}\n",
        "workload: {journey: {interval_s: 0.2}}\ndefences: [retries]\n",
        "defences[0]",
        "defences:",
        "'retries' protects no expectation; add defended_by: [retries]",
    ),
    "defence named on an expectation but not declared": Case(
        RESILIENT_EXPECTATION,
        RESILIENT_EXPECTATION + "    defended_by: [retries]\n",
        "expectations[1].defended_by[0]",
        "defended_by:",
        "'retries' is not declared; add it to the experiment's defences",
        exact=True,
    ),
    "defence on the naive client": Case(
        "    description: naive journeys stall\n",
        "    description: naive journeys stall\n    defended_by: [retries]\n",
        "expectations[0].defended_by",
        "defended_by:",
        "only the resilient client has defences; this check is for naive",
    ),
    "defence listed twice": Case(
        RESILIENT_EXPECTATION,
        RESILIENT_EXPECTATION + "    defended_by: [hedging, hedging]\n",
        "expectations[1].defended_by[1]",
        "defended_by:",
        "'hedging' is listed twice",
    ),
    "defence on a steady-state check": Case(
        STEADY_THRESHOLD,
        'op: ">="\n    threshold: 0.95\n    defended_by: [retries]\nmethod:',
        "steady_state[0].defended_by",
        "defended_by:",
        "unknown field 'defended_by'",
    ),
}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_one_problem_names_file_line_and_field(write: Writer, case: Case) -> None:
    text = edit(VALID, case.old, case.new)
    path = write(text, "broken.yaml")

    problem = only(path, case.field)

    assert problem.line == (line_of(text, case.at) if case.at is not None else 1)
    if case.exact:
        assert problem.message == case.message
    else:
        assert case.message in problem.message
    assert str(problem) == f"{path}:{problem.line}: {case.field}: {problem.message}"


def test_bad_duration_reads_like_the_issue_says(write: Writer) -> None:
    path = write(edit(VALID, "duration: 20s", "duration: 20x"), "broken.yaml")
    with pytest.raises(ExperimentError) as caught:
        load(path)
    assert str(caught.value) == (
        f'{path}:20: method[0].duration: "20x" is not a duration (use 500ms, 4s or 1m)'
    )
    assert isinstance(caught.value, ValueError)


def test_settle_window_is_checked_in_quick_mode_too(write: Writer) -> None:
    text = VALID[: VALID.index("  - fault: link_down")] + VALID[VALID.index("expectations:") :]
    path = write(edit(text, "settle_s: 500ms", "settle_s: 10s"), "broken.yaml")

    assert "the faults last 8s with --quick" in only(path, "settle_s").message


def test_faults_back_to_back_on_one_target_are_fine(write: Writer) -> None:
    text = edit(
        VALID,
        "- fault: link_down\n    target: api-2\n    at: 1m",
        "- fault: latency\n    target: api-1\n    at: 20s",
    )
    assert len(load(write(text)).method) == 2


def test_a_fault_is_still_asked_about_its_target_when_the_duration_is_bad(write: Writer) -> None:
    text = edit(edit(VALID, "duration: 20s", "duration: soon"), "target: api-1", "target: api-9")
    found = problems(write(text))
    assert [p.field for p in found] == ["method[0].target", "method[0].duration"]


def test_several_errors_in_one_file_are_all_reported_in_line_order(write: Writer) -> None:
    text = VALID
    for old, new in (
        ("fallacy: 2", "fallacy: 9"),
        ("  pattern: Deadlines and hedging.\n", ""),
        (STEADY_THRESHOLD, STEADY_THRESHOLD.replace("threshold", "treshold")),
        ("fault: latency", "fault: latncy"),
        ("duration: 1500ms", "duration: 20x"),
        ('op: ">"', 'op: "=>"'),
        (RESILIENT_EXPECTATION, ""),
        ("action: reset_links", "action: nope"),
    ):
        text = edit(text, old, new)
    path = write(text, "broken.yaml")

    found = [(p.line, p.field) for p in problems(path)]

    assert found == [
        (line_of(text, "fallacy: 9"), "fallacy"),
        (line_of(text, "narration:"), "narration.pattern"),
        (line_of(text, "treshold"), "steady_state[0].treshold"),
        (line_of(text, "latncy"), "method[0].fault"),
        (line_of(text, "20x"), "method[1].duration"),
        (line_of(text, "expectations:"), "expectations"),
        (line_of(text, '"=>"'), "expectations[0].op"),
        (line_of(text, "action: nope"), "rollbacks[0].action"),
    ]


# ------------------------------------------------------------- the file itself


def test_yaml_syntax_error_gives_its_line_and_a_quoting_hint(write: Writer) -> None:
    text = edit(VALID, 'op: ">"', "op: >=")
    problem = only(write(text), "syntax")

    assert problem.line == line_of(text, "op: >=")
    assert 'must be quoted: ">="' in problem.message


def test_unclosed_flow_sequence_says_where_it_began(write: Writer) -> None:
    text = edit(
        VALID, "signals: [journey_success_ratio, hedges]", "signals: [journey_success_ratio"
    )
    problem = only(write(text), "syntax")

    assert problem.line == line_of(text, "warmup_s")
    assert f"began on line {line_of(text, 'signals:')}" in problem.message


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing but a comment\n", "---\n"])
def test_empty_file(write: Writer, text: str) -> None:
    problem = only(write(text, "empty.yaml"), "document")

    assert problem.line == 1
    assert problem.message.startswith("the file is empty; an experiment needs title, fallacy,")


@pytest.mark.parametrize(
    ("text", "got"), [("- a\n- b\n", "a list"), ("just words\n", 'text "just words"')]
)
def test_document_that_is_not_a_mapping(write: Writer, text: str, got: str) -> None:
    problem = only(write(text), "document")

    assert problem.message.startswith("expected a mapping of fields (title, fallacy,")
    assert problem.message.endswith(f"got {got}")


def test_file_name_that_is_no_name_needs_a_name_field(write: Writer) -> None:
    problem = only(write(VALID, "Latency_Zero.yaml"), "name")

    assert problem.line == 1
    assert "'Latency_Zero' is not one ([a-z0-9-]+); add name: or rename the file" in problem.message


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes("title: Caf\xe9\n".encode("latin-1"))

    problem = only(path, "file")

    assert problem.line is None
    assert str(problem) == f"{path}: file: not UTF-8 text (byte offset 10)"


def test_missing_file(tmp_path: Path) -> None:
    problem = only(tmp_path / "nope.yaml", "file")
    assert "cannot read: No such file or directory" in problem.message


def test_alias_to_itself(write: Writer) -> None:
    text = edit(VALID, "workload: {journey: {interval_s: 0.2}}", "workload: &loop {journey: *loop}")
    problem = only(write(text), "workload.journey")
    assert problem.message == "an alias refers to itself"
