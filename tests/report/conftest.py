"""One rendered report of a synthetic eight-experiment run, shared by the tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from chaos.journal import Journal
from chaos.report import ReportPaths, write_report
from tests.report import factory


@pytest.fixture(scope="session")
def run() -> list[Journal]:
    return factory.run()


@pytest.fixture(scope="session")
def report(run: list[Journal], tmp_path_factory: pytest.TempPathFactory) -> ReportPaths:
    return write_report(run, tmp_path_factory.mktemp("report"), title="Synthetic run")


@pytest.fixture(scope="session")
def page(report: ReportPaths) -> str:
    return report.html.read_text(encoding="utf-8")


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from the IHDR chunk, which always follows the signature."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


def read_png(path: Path) -> bytes:
    return path.read_bytes()
