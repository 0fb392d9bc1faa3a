"""A `target:` file's folder stays importable while its code runs, not only while the file is imported."""

from __future__ import annotations

import sys
import textwrap

from conftest import read_report

from trainlint.spec.targets import resolve_target

SPEC = """\
dataset:
  name: digits
  batch_size: 64
model:
  target: code/factories.py:make
loss:
  name: cross_entropy
optimizer:
  name: adam
probe:
  steps: 3
"""


def _write(tmp_path, sibling: str):
    code = tmp_path / "code"
    code.mkdir()
    # Unique module names: the test process keeps every imported module, as a CLI run would.
    (code / f"{sibling}.py").write_text(textwrap.dedent("""
        import torch.nn as nn

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.layer = nn.Linear(64, 10)

            def forward(self, x):
                return self.layer(x)
    """))
    (code / "factories.py").write_text(textwrap.dedent(f"""
        def make():
            from {sibling} import Net  # imported when the factory runs, after the file was imported
            return Net()
    """))
    (tmp_path / "spec.yaml").write_text(SPEC)
    return tmp_path / "spec.yaml"


def test_import_inside_a_factory_finds_its_sibling(cli, tmp_path):
    spec = _write(tmp_path, "tl_sibling_net_probe")
    result = cli("probe", spec, "--out", tmp_path / "out", "--no-plots")
    assert result.exit_code == 0, result.output
    report = read_report(tmp_path / "out")
    assert report["summary"]["steps_run"] == 3 and report["summary"]["stop_reason"] == "completed"


def test_folder_added_once_and_kept(tmp_path):
    spec = _write(tmp_path, "tl_sibling_net_resolve")
    folder = str((tmp_path / "code").resolve())
    make = resolve_target("code/factories.py:make", spec.parent, "model.target")
    assert sys.path.count(folder) == 1
    resolve_target("code/factories.py:make", spec.parent, "model.target")
    assert sys.path.count(folder) == 1
    assert type(make()).__name__ == "Net"
