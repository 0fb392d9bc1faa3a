"""GitHub Actions workflow commands: format and escaping per the workflow-command spec."""

from __future__ import annotations

import re

from report_factory import fabricated_report

from trainlint.report.github import escape_data, escape_property, render_github, repo_path

PROPERTY = r"[^,:\r\n]+"  # an escaped property value: no raw `,` `:` or newline
COMMAND = re.compile(rf"^::(error|warning|notice) file={PROPERTY}(,line=\d+(,col=\d+)?)?,title={PROPERTY}::[^\r\n]*$")


def test_every_finding_is_one_workflow_command():
    lines = render_github(fabricated_report()).splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == 4
    for line in commands:
        assert COMMAND.match(line), line
    assert [c.split(" ", 1)[0] for c in commands] == ["::error", "::error", "::warning", "::notice"]


def test_location_properties():
    lines = render_github(fabricated_report()).splitlines()
    assert lines[0].startswith("::error file=configs/example.yaml,line=14,col=7,title=TL301 lr-too-high::")
    assert lines[1].startswith("::error file=configs/example.yaml,line=14,title=TL204 loss-diverging::")
    assert lines[2].startswith("::warning file=configs/example.yaml,title=TL403 dead-relu::")  # no field blamed


def test_message_escaping():
    line = render_github(fabricated_report()).splitlines()[1]
    message = line.split("::", 2)[2]
    assert "100%25 worse: a, b: c" in message  # `%` escaped; `:` and `,` allowed in the message
    assert "%0Aand stayed there%0Afix: lower optimizer.lr" in message  # newlines escaped, top fix appended


def test_escape_functions():
    assert escape_data("50% done\r\nnext") == "50%25 done%0D%0Anext"
    assert escape_property("a:b,c%\n") == "a%3Ab%2Cc%25%0A"


def test_paths_are_repository_relative():
    assert repo_path("./configs/x.yaml") == "configs/x.yaml"
    assert repo_path("configs\\x.yaml") == "configs/x.yaml"
    report = fabricated_report()
    report.config_path = "./odd,name:1.yaml"
    assert render_github(report).startswith("::error file=odd%2Cname%3A1.yaml,")
