"""The stop flag a Ctrl-C sets during a probe; the training loop polls it once per step.

Why a flag rather than KeyboardInterrupt: an exception raised wherever the signal lands can
tear the run record mid-update (a loss flushed without its gradient row) or skip the report
altogether. While the CLI's `stop_on_interrupt()` (trainlint.cli.errors) is active, the first
SIGINT only sets this flag; the loop finishes the step it is in, stops, and the report of the
steps so far is written and marked `interrupted`. A second SIGINT exits at once.
"""

from __future__ import annotations

_requested = False


def requested() -> bool:
    """True once a stop was requested (the first Ctrl-C)."""
    return _requested


def request() -> None:
    global _requested
    _requested = True


def clear() -> None:
    global _requested
    _requested = False
