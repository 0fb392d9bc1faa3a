"""Shared test helpers: run the CLI in-process and read what it wrote."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture(autouse=True, scope="session")
def _one_thread():
    """Tiny models run fastest, and most predictably, on one thread on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


class Cli:
    def __init__(self):
        self.runner = CliRunner()

    def __call__(self, *args: str):
        from trainlint.cli import app

        return self.runner.invoke(app, [str(a) for a in args], catch_exceptions=False)


@pytest.fixture
def cli() -> Cli:
    return Cli()


def read_report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def line_of(module, text: str) -> int:
    """The line of the first occurrence of `text` in a module's source (where a report should point)."""
    from inspect import getsource

    return next(i for i, line in enumerate(getsource(module).splitlines(), 1) if text in line)
