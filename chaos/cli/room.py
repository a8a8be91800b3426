"""``run --step``: experiments paced by a facilitator in front of a room.

Before each experiment the whole narration (the fallacy, what we inject, what
to watch, the pattern), so it can be read aloud; after it, the result and the
question to discuss, and the room goes on only when the facilitator says so.
Keys act at once (Enter, s, q) on a terminal; on a pipe a line is read, so a
script can drive it. Whatever is skipped or left when the facilitator stops is
counted, never passed over in silence.
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Literal

from rich.console import Console
from rich.markdown import Markdown
from rich.text import Text

from chaos.experiment.model import NARRATION_LABELS, Experiment

__all__ = ["Room", "read_key"]

Choice = Literal["go", "skip", "stop"]

_BEFORE = "Enter: run it · s: skip it · q: stop here"
_AFTER = "Enter: next experiment · q: stop here"


async def read_key() -> str:
    """One key, without waiting for Enter when stdin is a terminal; a line's first
    character otherwise (``""`` for Enter, and at the end of the input ``"q"``).

    The terminal is watched by the event loop rather than read in a thread, so
    Ctrl-C while the room is paused ends the run at once (a thread blocked in
    ``read`` would hold the interpreter's exit until a key came)."""
    stream = sys.stdin
    if not stream.isatty():
        line = await asyncio.to_thread(stream.readline)
        return line.strip()[:1].lower() if line else "q"
    import termios
    import tty

    fd = stream.fileno()
    loop = asyncio.get_running_loop()
    pressed: asyncio.Future[bytes] = loop.create_future()

    def readable() -> None:
        if not pressed.done():
            pressed.set_result(os.read(fd, 1))

    saved = termios.tcgetattr(fd)
    tty.setcbreak(fd, termios.TCSANOW)  # a key pressed before this moment is kept
    loop.add_reader(fd, readable)
    try:
        key = (await pressed).decode(errors="replace")
    finally:
        loop.remove_reader(fd)
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    if key in ("\r", "\n"):
        return ""
    if key == "\x04":  # Ctrl-D
        return "q"
    return key.lower()


@dataclass
class Room:
    """The facilitator's pace, and what was run, skipped and left."""

    console: Console
    total: int
    read: Callable[[], Awaitable[str]] = read_key
    skipped: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)

    async def before(self, experiment: Experiment, index: int) -> Choice:
        self.console.rule(f"[bold]{index}/{self.total} · {_which(experiment)}")
        self.console.print(Text(experiment.title, style="bold"), highlight=False)
        for key, label in NARRATION_LABELS:
            text = getattr(experiment.narration, key)
            if text and key != "ask":
                self.console.print(Text(label, style="bold cyan"))
                self.console.print(Markdown(text))
        choice = await self._ask(_BEFORE, {"": "go", "s": "skip", "q": "stop"})
        if choice == "skip":
            self.skipped.append(experiment.name)
        return choice

    async def after(self, experiment: Experiment, rest: list[str]) -> Choice:
        """The result is on screen already (the live display prints it); the question
        is asked, and the room moves on when the facilitator says so."""
        if experiment.narration.ask:
            self.console.print(Text("Ask the room", style="bold cyan"))
            self.console.print(Markdown(experiment.narration.ask))
        if not rest:
            return "go"
        choice = await self._ask(_AFTER, {"": "go", "q": "stop"})
        if choice == "stop":
            self.left.extend(rest)
        return choice

    def stopped_before(self, rest: list[str]) -> None:
        self.left.extend(rest)

    def summary(self, ran: int) -> str:
        """``2 run, 6 not run (1 skipped: …; stopped before: …)``, or ``8 run``."""
        not_run = len(self.skipped) + len(self.left)
        if not not_run:
            return f"{ran} run"
        parts = []
        if self.skipped:
            parts.append(f"{len(self.skipped)} skipped: {', '.join(self.skipped)}")
        if self.left:
            parts.append(f"stopped before: {', '.join(self.left)}")
        return f"{ran} run, {not_run} not run ({'; '.join(parts)})"

    async def _ask(self, prompt: str, keys: dict[str, Choice]) -> Choice:
        self.console.print(Text(prompt, style="bold"), highlight=False)
        while True:
            key = await self.read()
            if key in keys:
                return keys[key]
            self.console.print(
                Text(f"{key!r} is not one of the keys: {prompt}", style="yellow"), highlight=False
            )


def _which(experiment: Experiment) -> str:
    return f"fallacy {experiment.fallacy}" if experiment.fallacy else experiment.name
