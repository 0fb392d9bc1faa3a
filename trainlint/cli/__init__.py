"""Command-line interface: one module per command, registered explicitly here."""

from __future__ import annotations

import typer
from typer.core import TyperCommand, TyperGroup, TyperOption

from trainlint.cli.check import check_command
from trainlint.cli.compare import compare_losses_command, compare_optimizers_command
from trainlint.cli.diagnose import diagnose_command
from trainlint.cli.fix import fix_command
from trainlint.cli.init import init_command
from trainlint.cli.lr_find import lr_find_command
from trainlint.cli.probe import probe_command
from trainlint.cli.rules import explain_command, rules_command


def _no_flag_types(params: list) -> list:
    """On/off flags show no `<bool>` value column in --help: they take no value."""
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag and param.metavar is None:
            param.metavar = ""
    return params


class _Command(TyperCommand):
    def get_params(self, ctx) -> list:
        return _no_flag_types(super().get_params(ctx))


class _Group(TyperGroup):
    def get_params(self, ctx) -> list:
        return _no_flag_types(super().get_params(ctx))


app = typer.Typer(
    cls=_Group,
    name="trainlint",
    help="A linter for training runs: probe a training setup, diagnose it, suggest fixes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command("probe", cls=_Command)(probe_command)
app.command("check", cls=_Command)(check_command)
app.command("diagnose", cls=_Command)(diagnose_command)
app.command("fix", cls=_Command)(fix_command)
app.command("init", cls=_Command)(init_command)
app.command("rules", cls=_Command)(rules_command)
app.command("explain", cls=_Command)(explain_command)
app.command("lr-find", cls=_Command)(lr_find_command)
app.command("compare-losses", cls=_Command)(compare_losses_command)
app.command("compare-optimizers", cls=_Command)(compare_optimizers_command)


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
