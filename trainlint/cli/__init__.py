"""Command-line interface: one module per command, registered explicitly here."""

from __future__ import annotations

import typer

from trainlint.cli.check import check_command
from trainlint.cli.compare import compare_losses_command, compare_optimizers_command
from trainlint.cli.fix import fix_command
from trainlint.cli.init import init_command
from trainlint.cli.lr_find import lr_find_command
from trainlint.cli.probe import probe_command
from trainlint.cli.rules import explain_command, rules_command

app = typer.Typer(
    name="trainlint",
    help="A linter for training runs: probe a training setup, diagnose it, suggest fixes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("probe")(probe_command)
app.command("check")(check_command)
app.command("fix")(fix_command)
app.command("init")(init_command)
app.command("rules")(rules_command)
app.command("explain")(explain_command)
app.command("lr-find")(lr_find_command)
app.command("compare-losses")(compare_losses_command)
app.command("compare-optimizers")(compare_optimizers_command)


def _version(value: bool) -> None:
    if value:
        from trainlint import __version__

        typer.echo(f"trainlint {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    """A linter for training runs."""


def main() -> None:
    app()
