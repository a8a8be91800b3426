"""Shared fixtures.

Tests that need an outside tool call ``require_tool``: on a laptop without it they
skip, but with ``FALLACIES_REQUIRE_TOOLS=1`` (set by ``.ci/run``) the skip becomes a
failure, so CI can never go green by skipping.
"""

from __future__ import annotations

import os
import shutil

import pytest

REQUIRE_TOOLS = os.environ.get("FALLACIES_REQUIRE_TOOLS", "") not in ("", "0", "false", "no")


def require_tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        message = f"outside tool {name!r} is not on PATH"
        if REQUIRE_TOOLS:
            pytest.fail(f"{message} (FALLACIES_REQUIRE_TOOLS is set, skips are failures)")
        pytest.skip(message)
    return path
