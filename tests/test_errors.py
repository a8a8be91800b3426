"""One exception root: every error the project defines descends from ``FallaciesError``."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import chaos
import services
from services.common.errors import FallaciesError

CONTROL_FLOW = {
    "chaos.proxy.stub.Interrupted",
    "chaos.runner.method.Stopped",
    "chaos.proxy.http.relay._Raw",
    "chaos.proxy.http.relay._Cut",
}
"""Not errors: a toxic's interruption never leaves its pipeline, an HTTP relay's change of
mode never leaves the relay (see the tree's docstring)."""


def defined_exceptions() -> dict[str, type[BaseException]]:
    found: dict[str, type[BaseException]] = {}
    for package in (chaos, services):
        for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            if module.name.endswith("__main__"):
                continue
            loaded = importlib.import_module(module.name)
            for name, value in vars(loaded).items():
                if (
                    inspect.isclass(value)
                    and issubclass(value, BaseException)
                    and value.__module__ == loaded.__name__
                ):
                    found[f"{loaded.__name__}.{name}"] = value
    return found


def test_every_error_descends_from_the_root() -> None:
    errors = defined_exceptions()
    assert len(errors) > 20, sorted(errors)
    strays = sorted(
        name
        for name, error in errors.items()
        if not issubclass(error, FallaciesError) and name not in CONTROL_FLOW
    )
    assert strays == []


def test_the_tree_in_the_docstring_names_every_public_error() -> None:
    import services.common.errors as tree

    drawn = tree.__doc__ or ""
    missing = sorted(
        name
        for name, error in defined_exceptions().items()
        if not error.__name__.startswith("_")
        and name not in CONTROL_FLOW
        and error.__name__ not in drawn
    )
    assert missing == []
