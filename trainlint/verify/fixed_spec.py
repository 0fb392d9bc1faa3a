"""Write the user's spec with the verified fixes applied, by editing its text, and the diff from the original.

The text editor (`yaml_edit`) keeps comments and layout and marks each changed line. A spec written
to another folder (`trainlint-out/<name>/fixed.yaml`) also gets its relative file paths (a
`target: ./model.py:Net`, a CSV's `dataset.args.path`) rewritten to point at the same files from
there, so the fixed spec runs where it lies. The result is re-loaded with `load_spec`: a spec that
would not validate is never written. When the text cannot be edited (an alias shared between keys,
a YAML shape the editor cannot place a key in), the spec's data is written out afresh, with a note.
"""

from __future__ import annotations

import difflib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from trainlint.report.model import write_atomic
from trainlint.spec.loader import LoadedSpec, _SpecLoader, load_spec
from trainlint.verify.yaml_edit import Edit, YamlEditError, edit_text, expected_data

RELOCATED = "path relative to this file"
FILE_DATASETS = ("csv", "npz")


@dataclass
class Written:
    text: str
    diff: str
    note: str | None = None


def fixed_text(loaded: LoadedSpec, edits: list[Edit], target: Path) -> tuple[str, str | None]:
    """The spec's text with `edits` (plus path relocations for `target`'s folder), and a note when the
    comments could not be kept.

    Raises:
        YamlEditError: the spec's own text is not readable YAML (it loaded once, so this is a bug).
    """
    edits = [*edits, *relocations(loaded, target.parent)]
    for mark in (True, False):
        try:
            return edit_text(loaded.text, edits, mark=mark), None
        except YamlEditError as exc:
            reason = str(exc)
    original = yaml.load(loaded.text, Loader=_SpecLoader)
    data = expected_data(original, edits)
    header = ("# Written by trainlint with its fixes applied; the original's comments and layout could not be "
              f"kept ({reason}).\n")
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True), (
        f"comments and layout could not be kept ({reason}); the spec was written out afresh")


def write_fixed(loaded: LoadedSpec, edits: list[Edit], path: Path, backup: Path | None = None) -> Written:
    """Write the fixed spec to `path` after checking that it loads; return its text and the diff.

    Args:
        backup: copy the file at `path` there first (fixing a spec in place).

    Raises:
        SpecError: the fixed spec does not validate (nothing is written then).
    """
    text, note = fixed_text(loaded, edits, path)
    tmp = path.with_name(f".{path.name}.check.yaml")
    try:
        tmp.write_text(text, encoding="utf-8")
        load_spec(tmp)
    finally:
        tmp.unlink(missing_ok=True)
    if backup is not None:
        shutil.copy2(path, backup)
    write_atomic(path, text)
    return Written(text, unified_diff(loaded.text, text, str(loaded.path), str(path)), note)


def unified_diff(before: str, after: str, before_name: str, after_name: str) -> str:
    lines = difflib.unified_diff(before.splitlines(keepends=True), after.splitlines(keepends=True),
                                 fromfile=before_name, tofile=after_name)
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def relocations(loaded: LoadedSpec, new_dir: Path) -> list[Edit]:
    """Edits that keep the spec's relative file paths pointing at the same files from `new_dir`."""
    base = loaded.base_dir.resolve()
    new_dir = new_dir.resolve()
    if base == new_dir:
        return []
    spec = loaded.spec
    out = []
    for section in ("dataset", "model", "loss", "optimizer", "scheduler"):
        component = getattr(spec, section)
        key = f"{section}.target"
        if component is None or component.target is None or key not in loaded.positions:
            continue
        module, sep, attr = component.target.rpartition(":")
        if sep and _is_relative_file(module):
            out.append(Edit(key, f"{_moved(module, base, new_dir)}:{attr}", RELOCATED))
    path = spec.dataset.args.get("path")
    if spec.dataset.name in FILE_DATASETS and isinstance(path, str) and "dataset.args.path" in loaded.positions \
            and not Path(path).is_absolute():
        out.append(Edit("dataset.args.path", _moved(path, base, new_dir), RELOCATED))
    return out


def _is_relative_file(module: str) -> bool:
    return (module.endswith(".py") or "/" in module or "\\" in module) and not Path(module).is_absolute()


def _moved(path: str, base: Path, new_dir: Path) -> str:
    return Path(os.path.relpath(base / path, new_dir)).as_posix()


def as_edits(edits: dict[str, Any], sources: dict[str, list[str]]) -> list[Edit]:
    return [Edit(key, value, ", ".join(sources.get(key, []))) for key, value in edits.items()]
