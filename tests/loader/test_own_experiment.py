"""Experiments on one's own services: probes for checks, the links file's links as targets,
and the whole document checked at once, each problem with its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.experiment import ExperimentError
from chaos.loader import load_experiment
from chaos.probes.http import HttpProbe
from chaos.probes.promql import PromqlProbe

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

LINKS = """\
links:
  - {name: shop, listen: 127.0.0.1:18080, upstream: 127.0.0.1:8080}
  - {name: quotes, listen: 127.0.0.1:18125, upstream: 127.0.0.1:8125, protocol: udp}
"""


def write(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    (tmp_path / "links.yaml").write_text(LINKS)
    path = tmp_path / name
    path.write_text(text)
    return path


def problems(path: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ExperimentError) as caught:
        load_experiment(path, **kwargs)  # type: ignore[arg-type]
    return [line.split(f"{path.name}:", 1)[1] for line in str(caught.value).splitlines()]


def test_the_example_loads() -> None:
    exp = load_experiment(EXAMPLES / "checkout-experiment.yaml")
    assert exp.own and exp.fallacy_name == "Your own services"
    assert exp.links_file == (EXAMPLES / "links.yaml").resolve()
    assert [type(c.probe) for c in exp.steady_state] == [HttpProbe, PromqlProbe]
    assert [(c.phase, c.ratio) for c in exp.expectations] == [
        ("during", 0.9),
        ("during", 0.5),
        ("after", 1.0),
    ]
    assert [step.target for step in exp.method] == ["shop", "quotes"]
    assert len(exp.stop_when) == 1 and isinstance(exp.stop_when[0].probe, PromqlProbe)


def test_every_problem_at_once_with_its_line(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
title: broken on purpose
links: links.yaml
steady_state:
  - probe: {http: {url: ftp://shop}}
  - probe: {ping: {}}
method:
  - {fault: latency, target: shopp, duration: 10s, attributes: {latency: 800}}
  - {fault: loss, target: shop, duration: 10s, attributes: {probability: 0.5}}
  - {fault: clock_skew, target: shop, duration: 10s, attributes: {offset_s: 5}}
expectations:
  - phase: during
    probe: {promql: {url: "http://127.0.0.1:9090", query: up, op: "=", threshold: 1}}
    ratio: 2
  - phase: sometime
    probe: {command: {run: "true"}}
""",
    )
    assert problems(path) == [
        "4: steady_state[0].probe.http.url: 'ftp://shop' is not an http:// or https:// URL",
        "5: steady_state[1].probe.ping: unknown probe; known: http, promql, command",
        "7: method[0].target: unknown link 'shopp'; links: shop, quotes",
        "8: method[1].target: loss works on UDP links only (quotes); 'shop' is TCP",
        "9: method[2].fault: clock_skew acts on the playground's own nodes; on your own "
        "services only link faults apply (latency, timeout, loss, link_down, …)",
        "12: expectations[0].probe.promql.op: '=' is not one of < <= > >= == != (quote it in YAML)",
        "13: expectations[0].ratio: 2 is not a share in (0, 1]",
        '14: expectations[1].phase: "sometime" is not a phase; expected during | after',
    ]


def test_links_come_from_the_caller_when_given(tmp_path: Path) -> None:
    text = """\
title: on the caller's links
steady_state: [{probe: {http: {url: "http://127.0.0.1:1/"}}}]
method: [{fault: latency, target: db, duration: 5s, attributes: {latency: 100}}]
expectations: [{phase: during, probe: {command: {run: "true"}}}]
"""
    path = write(tmp_path, text)
    assert problems(path)[0].startswith("1: links: missing: name a links file here")
    exp = load_experiment(path, links={"db": "tcp"})
    assert exp.own and exp.links_file is None and exp.method[0].target == "db"
    assert problems(path, links={"cache": "tcp"}) == [
        "3: method[0].target: unknown link 'db'; links: cache"
    ]


def test_a_broken_links_file_is_reported_as_such(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """\
title: t
links: nowhere.yaml
steady_state: [{probe: {command: {run: "true"}}}]
method: [{fault: latency, target: shop, duration: 5s, attributes: {latency: 100}}]
expectations: [{phase: during, probe: {command: {run: "true"}}}]
""",
    )
    with pytest.raises(ExperimentError) as caught:
        load_experiment(path)
    first, nested = str(caught.value).splitlines()
    assert first.endswith("exp.yaml:2: links: nowhere.yaml: 1 problem(s):")
    assert nested.endswith("nowhere.yaml: file: cannot read: No such file or directory")


def test_a_mesh_experiment_is_still_a_mesh_experiment(tmp_path: Path) -> None:
    """A document with a fallacy keeps the mesh's rules: a probe there is an unknown field."""
    path = write(
        tmp_path,
        """\
title: t
fallacy: 2
narration: {fallacy: a, inject: b, watch: c, pattern: d}
key_signal: journey_success_ratio
steady_state: [{probe: {command: {run: "true"}}}]
method: [{fault: latency, target: api-1, duration: 5s, attributes: {latency: 100}}]
expectations:
  - {phase: during, client: both, signal: journey_success_ratio, op: ">", threshold: 0}
""",
    )
    found = problems(path)
    assert any(p.startswith("5: steady_state[0].probe: unknown field") for p in found), found
