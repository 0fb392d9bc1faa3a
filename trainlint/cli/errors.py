"""The error boundary: user errors exit 2 with one paragraph, trainlint's own failures exit 3."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer

from trainlint.spec.errors import SpecError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_INTERNAL, EXIT_INTERRUPTED = 0, 1, 2, 3, 130


@contextmanager
def handle_errors() -> Iterator[None]:
    """Turn exceptions into clean messages and DESIGN §1 exit codes."""
    try:
        yield
    except typer.Exit:
        raise
    except SpecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(EXIT_USAGE) from None
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        raise typer.Exit(EXIT_INTERRUPTED) from None
    except Exception as exc:  # noqa: BLE001 - the boundary
        if os.environ.get("TRAINLINT_DEBUG"):
            traceback.print_exc(file=sys.stderr)
        typer.echo(
            f"trainlint internal error: {type(exc).__name__}: {exc}. This is a bug in trainlint, "
            "not in your setup; rerun with TRAINLINT_DEBUG=1 for the traceback and report it.",
            err=True,
        )
        raise typer.Exit(EXIT_INTERNAL) from None
