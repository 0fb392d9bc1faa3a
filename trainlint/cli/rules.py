"""`trainlint rules` and `trainlint explain CODE-or-NAME`: the rule catalog and one rule's documentation."""

from __future__ import annotations

from typing import Annotated

import typer

from trainlint.cli.errors import handle_errors
from trainlint.cli.output import console
from trainlint.rules.catalog import all_rules, find
from trainlint.rules.docs import render_doc
from trainlint.spec.errors import SpecError, close_matches


def rules_command() -> None:
    """List the rule catalog: code, name, default severity, stage and summary."""
    with handle_errors():
        out = console()
        width = max(len(r.name) for r in all_rules())
        out.print(f"[bold]{'code':<6} {'name':<{width}}  {'severity':<8} {'stage':<11} checks[/]")
        for r in all_rules():
            out.print(f"{r.code:<6} {r.name:<{width}}  {r.severity.value:<8} {r.stage.value:<11} {r.summary}")


def explain_command(
    rule: Annotated[str, typer.Argument(help="A rule code (TL301) or name (lr-too-high).", show_default=False)],
) -> None:
    """Print one rule's documentation and its thresholds with their defaults."""
    with handle_errors():
        found = find(rule)
        if found is None:
            known = [r.code for r in all_rules()] + [r.name for r in all_rules()]
            raise SpecError(f"no rule `{rule}`", field="RULE", suggestions=close_matches(rule, known),
                            accepted="a code or name listed by `trainlint rules`")
        console().print(render_doc(found), markup=False)
