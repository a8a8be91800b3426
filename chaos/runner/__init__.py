"""Runs experiments against a mesh: steady state, faults with TTLs, sampling, verdicts.

Runner.run(experiments) ──▶ per experiment:
    warm-up (sample, check steady state "before")
    method  (apply each FaultStep at its offset, always with a TTL; revert at its end)
    observe (sample; check "after")
    finally rollbacks (always: success, failure, Ctrl-C)
──▶ Journal per experiment (chaos.journal), events to handlers (terminal, tests)
"""

from chaos.runner.engine import Runner, RunResult
from chaos.runner.events import Handler, NullHandler

__all__ = ["Handler", "NullHandler", "RunResult", "Runner"]
