"""The error boundary: user errors exit 2 with one paragraph, trainlint's own failures exit 3."""

from __future__ import annotations

import os
import signal
import sys
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from trainlint.probe import interrupt
from trainlint.spec.errors import SpecError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130

# Every character str.splitlines() breaks on, shown escaped: a message stays one paragraph even
# when it quotes a user's key, value or exception text that holds a line break.
_LINE_BREAKS = {ord(c): repr(c)[1:-1] for c in "\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029"}


def _first_line(exc: BaseException, limit: int = 300) -> str:
    """The exception's first line (torch appends pages of C++ frames), cut at `limit` characters."""
    lines = str(exc).strip().splitlines() or [""]
    text = lines[0] + (" …" if len(lines) > 1 else "")
    return one_line(text if len(text) <= limit else text[: limit - 1] + "…")


def one_line(text: str) -> str:
    """``text`` with its line breaks escaped (``\\n``), so it prints as one line."""
    return text.strip().translate(_LINE_BREAKS)


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn exceptions into clean messages and DESIGN §1 exit codes."""
    try:
        yield
    except typer.Exit:
        raise
    except SpecError as exc:
        typer.echo(f"error: {one_line(str(exc))}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # noqa: BLE001 - the boundary
        if os.environ.get("TRAINLINT_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        typer.echo(
            f"trainlint internal error: {type(exc).__name__}: {_first_line(exc)}. This is a bug in trainlint, "
            "not in your setup; rerun with TRAINLINT_DEBUG=1 for the traceback and report it.",
            err=True,
        )
        raise typer.Exit(EXIT_INTERNAL) from None


_owner_pid: int | None = None  # the process that installed the handlers (forked DataLoader workers inherit them)


def _second_press(signum, frame) -> None:
    if os.getpid() != _owner_pid:
        return  # a forked data worker: the main process decides
    os.write(2, b"\ninterrupted again: exiting now, without finishing the report\n")
    os._exit(EXIT_INTERRUPTED)


def _first_press(signum, frame) -> None:
    if os.getpid() != _owner_pid:
        return  # a forked data worker: keep serving batches until the main process stops
    interrupt.request()
    signal.signal(signal.SIGINT, _second_press)
    os.write(2, b"\ninterrupted: stopping after this step and writing a partial report "
                b"(Ctrl-C again to exit at once)\n")


@contextmanager
def stop_on_interrupt() -> Iterator[None]:
    """Ctrl-C stops the probe cleanly; a second Ctrl-C exits at once (status 130).

    Inside the block, the first SIGINT sets `trainlint.probe.interrupt`'s flag instead of
    raising: the training loop stops after its current step and the partial report is written
    (the command then exits 130; see `interrupted_exit`). A second SIGINT ends the process
    immediately; report files are written atomically, so none is left half-written. Outside the
    main thread (where signals cannot be handled) this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    global _owner_pid
    interrupt.clear()
    _owner_pid = os.getpid()
    previous = signal.signal(signal.SIGINT, _first_press)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        interrupt.clear()


def interrupted_exit(code: int, outcome) -> int:
    """`code`, or 130 with a note on stderr when Ctrl-C stopped the run (`outcome`: a workflow Outcome)."""
    if not interrupt.requested() and outcome.record.stop_reason != "interrupted":
        return code
    typer.echo(f"interrupted: partial report written to {outcome.out_dir}", err=True)
    return EXIT_INTERRUPTED
