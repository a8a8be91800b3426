"""Workload overrides of several experiments and the CLI, as one mapping."""

from __future__ import annotations

from typing import Any

__all__ = ["merge_overrides"]


def merge_overrides(*layers: dict[str, Any] | None) -> dict[str, Any]:
    """Later layers win, section by section (``{"defences": {...}}`` merges, not replaces)."""
    merged: dict[str, Any] = {}
    for layer in layers:
        for section, values in (layer or {}).items():
            if isinstance(values, dict) and isinstance(merged.get(section), dict):
                merged[section] = {**merged[section], **values}
            else:
                merged[section] = values
    return merged
