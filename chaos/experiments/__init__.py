"""The packaged experiments: one YAML document per experiment (format: FORMAT.md)."""

from __future__ import annotations

from pathlib import Path

EXPERIMENTS_DIR = Path(__file__).resolve().parent
