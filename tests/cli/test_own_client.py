"""A client of one's own: checked before anything starts, run beside the two with its own
``client`` label in the metrics, the journal, the report and the summary. ``run --client``
on a mesh of its own is run by tests/docs/test_workshop.py, as the guide has it."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from chaos.embedded.lifecycle import running_mesh
from services.workload.own import OwnClientError, load_client, resolve_spec

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = f"{ROOT}/examples/my_client.py:MyClient"
CLI = [sys.executable, "-m", "chaos.cli"]
ENV = {**os.environ, "COLUMNS": "120", "FALLACIES_ADMIN_TOKEN": ""}


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=timeout, env=ENV, check=False
    )


def test_the_template_loads_and_names_itself() -> None:
    assert load_client(TEMPLATE).name == "mine"


def test_a_relative_path_is_made_absolute(tmp_path: Path) -> None:
    assert resolve_spec("my.py:C", cwd=tmp_path) == f"{tmp_path}/my.py:C"
    assert resolve_spec("pkg.module:C") == "pkg.module:C"


def _client_file(tmp_path: Path, body: str) -> str:
    path = tmp_path / "theirs.py"
    path.write_text(body)
    return str(path)


@pytest.mark.parametrize(
    ("spec", "body", "message"),
    [
        ("nocolon", None, "expected path/to/file.py:Class"),
        ("/no/such/file.py:C", None, "does not exist"),
        ("no_such_module_xyz:C", None, "failed to import: ModuleNotFoundError"),
        (
            "FILE:Nope",
            "from examples.my_client import MyClient\n",
            "has no 'Nope'; client classes there: MyClient",
        ),
        ("FILE:C", "class C:\n    name = 'c'\n", "not a subclass of"),
        ("FILE:C", "def broken(:\n", "failed to load: SyntaxError"),
        (
            "FILE:C",
            "from examples.my_client import MyClient\nclass C(MyClient):\n    name = 'naive'\n",
            "C.name must be 1-24 lowercase letters",
        ),
        (
            "FILE:C",
            "from services.workload.client import BaseClient\nclass C(BaseClient):\n"
            "    name = 'c'\n",
            "C does not define fetch_items, read_catalog, resolve, sync_clock, write",
        ),
    ],
)
def test_a_bad_client_is_named_clearly(
    tmp_path: Path, spec: str, body: str | None, message: str
) -> None:
    if body is not None:
        spec = spec.replace("FILE", _client_file(tmp_path, body))
    with pytest.raises(OwnClientError, match=re.escape(message)):
        load_client(spec)


def test_a_bad_client_fails_before_any_mesh_starts(tmp_path: Path) -> None:
    started = time.monotonic()
    done = cli("run", "2", "--quick", "--client", f"{tmp_path}/nope.py:C", "--out", str(tmp_path))
    assert done.returncode == 2, done.stdout + done.stderr
    assert "does not exist" in done.stderr
    assert "started a mesh" not in done.stdout
    assert time.monotonic() - started < 30
    assert cli("up", "--compose", "--client", TEMPLATE).returncode == 2


def _journeys(metrics_url: str, client: str) -> float:
    with urllib.request.urlopen(metrics_url, timeout=5) as response:
        text = response.read().decode()
    found = re.findall(
        rf'^fallacies_workload_journeys_total{{client="{client}",outcome="ok"}} (\S+)$',
        text,
        re.MULTILINE,
    )
    return float(found[0]) if found else 0.0


def _check_journal(out: Path) -> None:
    (path,) = out.glob("02-*.json")
    journal = json.loads(path.read_text())
    assert journal["clients"] == ["naive", "resilient", "mine"]
    assert journal["advisory"], "mine is judged by the resilient client's expectations"
    assert {c["client"] for c in journal["advisory"]} == {"mine"}
    assert {c["client"] for c in journal["expectations"]} <= {"naive", "resilient"}
    key = journal["key_signal"]["name"]
    seen = [s["values"][key]["mine"] for s in journal["samples"] if "mine" in s["values"][key]]
    assert any(value is not None for value in seen), "mine's key signal was measured"
    sampled = {j["client"] for j in journal["journeys"]}
    assert sampled == {"naive", "resilient", "mine"}, "a waterfall per client"
    for journey in journal["journeys"]:
        steps = sum(s["end_s"] - s["start_s"] for s in journey["spans"] if s["kind"] == "step")
        # The gaps between steps are bookkeeping: a fraction of a ms, which a 4 ms journey feels.
        assert steps == pytest.approx(journey["duration_s"], rel=0.05, abs=0.002), journey
    html = (out / "report.html").read_text()
    assert "The journey of a request" in html
    assert "Yours (mine)" in html
    assert "Your client, by the resilient client&#x27;s expectations" in html


def test_up_runs_the_template_and_a_run_on_it_watches_three_clients(tmp_path: Path) -> None:
    state = tmp_path / "state"
    up = cli(
        "up", "--detach", "--base-port", "0", "--no-console", "--no-prometheus",
        "--state-dir", str(state), "--client", "examples/my_client.py:MyClient",
    )  # fmt: skip
    try:
        assert up.returncode == 0, up.stdout + up.stderr
        mesh = running_mesh(state)
        assert mesh is not None
        metrics = mesh.metrics_targets()["workload"]
        deadline = time.monotonic() + 60
        while _journeys(metrics, "mine") < 1:
            assert time.monotonic() < deadline, "the template finished no journey in 60 s"
            time.sleep(0.5)
        out = tmp_path / "run"
        run = cli("run", "2", "--quick", "--state-dir", str(state), "--out", str(out), timeout=300)
        assert run.returncode in (0, 1), run.stdout + run.stderr
        assert re.search(r"naive\s+.*resilient\s+.*mine", run.stdout), run.stdout
        _check_journal(out)
    finally:
        cli("down", "--state-dir", str(state))


def test_ablate_with_client_gives_the_matrix_a_row_of_yours(tmp_path: Path) -> None:
    """The template has no defence yet, so in experiment 4 it fails what the one defence
    there protects: it takes the rogue's forgeries."""
    out = tmp_path / "matrix"
    done = cli(
        "ablate", "4", "--quick", "--jobs", "2", "--state-dir", str(tmp_path / "state"),
        "--client", TEMPLATE, "--out", str(out),
    timeout=600)  # fmt: skip
    assert done.returncode in (0, 1), done.stdout + done.stderr
    matrix = json.loads((out / "matrix.json").read_text())
    assert matrix["yours"] == "mine"
    (row,) = matrix["experiments"]
    defences = [cell["defence"] for cell in row["cells"]]
    assert set(row["yours"]) == set(defences) == {"verify_signatures"}
    assert not any(row["yours"].values()), row["yours"]
    assert "yours (mine)" in (out / "matrix.html").read_text()
    assert "yours (mine), where a defence is needed" in done.stdout
