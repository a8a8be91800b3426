"""The step mode's pace, keys and counts, with the keys handed in."""

from __future__ import annotations

import asyncio
import io
from collections.abc import Awaitable, Callable, Iterator

import pytest
from rich.console import Console

from chaos.cli import room as room_module
from chaos.cli.room import Room
from chaos.experiment import Experiment
from chaos.loader import load_all


def _keys(*keys: str) -> Callable[[], Awaitable[str]]:
    given: Iterator[str] = iter(keys)

    async def read() -> str:
        return next(given)

    return read


def _room(*keys: str) -> tuple[Room, io.StringIO]:
    out = io.StringIO()
    console = Console(file=out, width=100, force_terminal=False)
    return Room(console, total=8, read=_keys(*keys)), out


@pytest.fixture(scope="module")
def shipped() -> list[Experiment]:
    return load_all()


def test_the_whole_narration_is_shown_before_the_run(shipped: list[Experiment]) -> None:
    room, out = _room("")
    assert asyncio.run(room.before(shipped[0], 1)) == "go"
    text = out.getvalue()
    for heading in ("The fallacy", "What we inject", "What to watch", "The pattern"):
        assert heading in text
    assert "api-1" in text and "`" not in text  # Markdown rendered, names whole
    assert "Ask the room" not in text  # the question waits for the result


def test_wrong_keys_are_named_and_asked_again(shipped: list[Experiment]) -> None:
    room, out = _room("x", "s")
    assert asyncio.run(room.before(shipped[1], 2)) == "skip"
    assert "'x' is not one of the keys" in out.getvalue()
    assert room.skipped == [shipped[1].name]


def test_after_a_run_the_room_gets_the_question(shipped: list[Experiment]) -> None:
    room, out = _room("q")
    rest = [e.name for e in shipped[3:]]
    assert asyncio.run(room.after(shipped[2], rest)) == "stop"
    assert "Ask the room" in out.getvalue()
    assert shipped[2].narration.ask.split()[0] in out.getvalue()
    assert room.left == rest


def test_the_summary_counts_what_was_not_run() -> None:
    room, _ = _room()
    room.skipped.append("network-is-reliable")
    room.stopped_before(["bandwidth-is-infinite", "network-is-secure"])
    assert room.summary(1) == (
        "1 run, 3 not run (1 skipped: network-is-reliable; "
        "stopped before: bandwidth-is-infinite, network-is-secure)"
    )
    assert Room(room.console, total=1).summary(1) == "1 run"


def test_every_shipped_experiment_asks_the_room_something(shipped: list[Experiment]) -> None:
    assert all(e.narration.ask.rstrip().endswith("?") for e in shipped)


def test_a_pipe_is_read_line_by_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(room_module.sys, "stdin", io.StringIO("s\n\nq\n"))

    async def four() -> list[str]:
        return [await room_module.read_key() for _ in range(4)]

    assert asyncio.run(four()) == ["s", "", "q", "q"]
