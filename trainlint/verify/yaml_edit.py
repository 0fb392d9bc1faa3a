"""Edit a YAML spec's text in place — set, insert or null a dotted key — keeping comments and layout.

`fixed.yaml` must read like the user's own file with a few lines changed, so edits are made on the
text, never by dumping the data again. Each edit touches as little text as it can: a scalar or flow
value is replaced where it stands; a block section set to a new value is replaced on its key's line
and its old lines are kept, commented out; a key that is absent is inserted into the deepest
mapping that exists (before the `}` of a flow mapping, or as a new line at the mapping's indentation
after its last entry), with any missing sections written as flow mappings (`args: {standardize: true}`).
An optional trailing comment marks each changed line: ``# trainlint: was 0.5 (TL301)``.

Why compose the node tree again rather than use `LoadedSpec.positions`: positions give a key's
line and column, but an edit needs the exact span of the value (where a flow value ends, where a
block section's last line is), which only the nodes' start and end marks give. The tree is
composed with the spec loader itself, so it is the tree `positions` was built from.

Every result is checked: `edit_text` re-reads the edited text and compares it with the original
data plus the edits, and raises `YamlEditError` on any difference, so a shape of YAML this editor
gets wrong can never produce a spec that silently says something else.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from trainlint.spec.loader import EXPONENT_FLOAT, _SpecLoader

MARK = "# trainlint:"
_MAX_WAS = 48  # characters of an old value quoted in a marker comment


class YamlEditError(Exception):
    """An edit that cannot be made on the text, or whose result would not read back as intended."""


class _SpecDumper(yaml.SafeDumper):
    """PyYAML's safe dumper, quoting what the spec loader would read as a float (``'1e-3'``)."""


_SpecDumper.add_implicit_resolver("tag:yaml.org,2002:float", EXPONENT_FLOAT, list("-+0123456789"))


@dataclass(frozen=True)
class Edit:
    """Set the dotted `key` (``optimizer.lr``, ``dataset.args.standardize``) to `value`.

    `reason` ends the marker comment, e.g. ``TL301`` gives ``# trainlint: was 0.5 (TL301)``.
    """

    key: str
    value: Any
    reason: str = ""


def render_value(value: Any) -> str:
    """A value as one line of YAML (flow style) that the spec loader reads back exactly.

    Floats keep a dot (``7.0e-05``), so YAML 1.1 readers also see a float; strings are quoted
    only where YAML would read them as something else (``'yes'``, ``'1.0'``).
    """
    text = yaml.dump(value, Dumper=_SpecDumper, default_flow_style=True, width=1_000_000, allow_unicode=True,
                     sort_keys=False)
    text = text.removesuffix("\n").removesuffix("\n...")
    return text.strip()


def edit_text(text: str, edits: Sequence[Edit], mark: bool = True) -> str:
    """Apply `edits` in order to a spec's text and check the result.

    Args:
        text: the spec's YAML text.
        edits: the edits; a later edit of the same key wins.
        mark: add a ``# trainlint: ...`` comment to each changed line.

    Raises:
        YamlEditError: an edit cannot be made on this text (e.g. it goes through a value that is not
            a mapping, or an alias shared with another key), or the result does not read back as the
            original data plus the edits.
    """
    original = _load(text, "the original spec")
    result = text
    for edit in edits:
        result = _apply(result, edit, mark)
    check_edited(original, result, edits)
    return result


def expected_data(data: Any, edits: Sequence[Edit]) -> Any:
    """The data a spec holds after `edits`: each dotted key set, missing or null sections created."""
    data = copy.deepcopy(data)
    for edit in edits:
        parts = edit.key.split(".")
        if data is None:
            data = {}
        node = data
        for part in parts[:-1]:
            child = node[int(part)] if isinstance(node, list) else node.get(part)
            if child is None:
                child = {}
                node[part] = child
            node = child
        if isinstance(node, list):
            node[int(parts[-1])] = copy.deepcopy(edit.value)
        else:
            node[parts[-1]] = copy.deepcopy(edit.value)
    return data


def check_edited(original: Any, edited_text: str, edits: Sequence[Edit]) -> None:
    """Raise `YamlEditError` unless `edited_text` reads back as `original` plus `edits`."""
    got = _load(edited_text, "the edited spec")
    want = expected_data(original, edits)
    if got != want:
        raise YamlEditError(f"the edited text reads back as {_diff_paths(want, got)[:3]} changed otherwise "
                            "than the edits say")


# --- one edit --------------------------------------------------------------------------------------


def _apply(text: str, edit: Edit, mark: bool) -> str:
    root = _compose(text)
    parts = edit.key.split(".")
    if not edit.key or "" in parts:
        raise YamlEditError(f"`{edit.key}` is not a dotted key")
    shared = _shared_nodes(root)
    rendered = render_value(edit.value)
    if root is None or _is_null(root):  # an empty document (comments only)
        nl = _newline(text)
        body = text if not text or text.endswith("\n") else text + nl
        return _with_mark(body + _nest(parts, rendered) + nl, body.count("\n"), f"{edit.key} added", edit.reason,
                          mark)
    node, depth, key_node = root, 0, None
    while depth < len(parts):
        if id(node) in shared:
            raise YamlEditError(f"`{'.'.join(parts[:depth]) or 'the spec'}` is an alias shared with another "
                                "key: editing it would change both")
        found = _child(node, parts[depth])
        if found is None:
            break
        key_node, node = found
        depth += 1
    if id(node) in shared:
        raise YamlEditError(f"`{'.'.join(parts[:depth])}` is an alias shared with another key")
    if depth == len(parts):  # the key exists: replace its value
        return _replace(text, key_node, node, parts, edit, rendered, mark)
    rest = parts[depth:]
    if isinstance(node, yaml.MappingNode):
        return _insert(text, node, rest, edit, rendered, mark)
    if _is_null(node) and key_node is not None:  # `args:` or `scheduler: null`: becomes a mapping
        return _replace(text, key_node, node, parts[:depth], edit, _nest_flow(rest, rendered), mark)
    where = ".".join(parts[:depth])
    raise YamlEditError(f"`{where}` holds {_source(text, node)!r}, not a mapping, so `{edit.key}` cannot be set")


def _child(node: yaml.Node, part: str) -> tuple[yaml.Node, yaml.Node] | None:
    """(key node, value node) of `part` in a mapping, or (item, item) of an index in a sequence."""
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and str(key_node.value) == part:
                return key_node, value_node
        return None
    if isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
        item = node.value[int(part)]
        return item, item
    return None


def _replace(text: str, key_node: yaml.Node, value_node: yaml.Node, parts: list[str], edit: Edit,
             rendered: str, mark: bool) -> str:
    """Replace an existing value: in place when it is a scalar or flow value; for a block section,
    on the key's line, with the section's old lines commented out below it."""
    dotted = ".".join(parts)
    if _is_block(value_node):
        colon = _colon_after(text, key_node)
        first = _line_start(text, value_node.start_mark.index)
        last = _line_end(text, _content_end(text, value_node))
        key_line_end = _line_end(text, colon + 1)
        head = text[:colon + 1] + " " + rendered + text[colon + 1:key_line_end].rstrip("\r\n")
        nl = _newline(text)
        commented = "".join(f"#{line}{nl}" if line.strip() else nl for line in text[first:last].splitlines())
        line = text.count("\n", 0, colon)
        new = head + nl + text[key_line_end:first] + commented + text[last:]
        return _with_mark(new, line, "was the section commented out below", edit.reason, mark)
    start, end = value_node.start_mark.index, value_node.end_mark.index
    was = _source(text, value_node)
    if start == end and start > 0 and text[start - 1] == ":":  # an empty value right after `key:`
        rendered = " " + rendered
    new = text[:start] + rendered + text[end:]
    line = text.count("\n", 0, start)
    note = f"was {_short(was) if was else 'empty'}"
    if not _owns_line(text, key_node, value_node):
        note = f"{dotted} {note}"
    return _with_mark(new, line, note, edit.reason, mark)


def _insert(text: str, mapping: yaml.MappingNode, rest: list[str], edit: Edit, rendered: str, mark: bool) -> str:
    """Insert `rest[0]: ...` into an existing mapping that lacks it."""
    entry = _nest(rest, rendered)
    if mapping.flow_style:
        if mapping.value:
            at = mapping.value[-1][1].end_mark.index
            new = text[:at] + ", " + entry + text[at:]
        else:
            close = text.rfind("}", mapping.start_mark.index, mapping.end_mark.index)
            if close < 0:
                raise YamlEditError(f"cannot find the end of the mapping that should hold `{edit.key}`")
            new = text[:close] + entry + text[close:]
            at = close
        return _with_mark(new, text.count("\n", 0, at), f"{edit.key} added", edit.reason, mark)
    if not mapping.value:  # a block mapping always has an entry; guard anyway
        raise YamlEditError(f"cannot insert `{edit.key}` into an empty block mapping")
    indent = mapping.value[0][0].start_mark.column
    after = _line_end(text, _content_end(text, mapping))
    nl = _newline(text)
    prefix = "" if after == 0 or text[after - 1] == "\n" else nl
    line_text = " " * indent + entry + nl
    new = text[:after] + prefix + line_text + text[after:]
    line = text.count("\n", 0, after) + (1 if prefix else 0)
    note = "added" if len(rest) == 1 else f"{'.'.join(rest)} added"
    return _with_mark(new, line, note, edit.reason, mark)


# --- marker comments ---------------------------------------------------------------------------------


def _owns_line(text: str, key_node: yaml.Node, value_node: yaml.Node) -> bool:
    """Whether `key: value` is alone on its line (a block mapping entry), so its marker needs no key."""
    if key_node is value_node:  # a sequence item
        return False
    before = text[_line_start(text, key_node.start_mark.index):key_node.start_mark.index]
    after = text[value_node.end_mark.index:_line_end(text, value_node.end_mark.index)].strip()
    return before.strip() == "" and (after == "" or after.startswith("#"))


def _with_mark(text: str, line: int, note: str, reason: str, mark: bool) -> str:
    """Append ``# trainlint: <note> (<reason>)`` to `line` (0-based), after any comment already there;
    a line that already carries a trainlint marker gets the note added to it."""
    if not mark:
        return text
    lines = text.splitlines(keepends=True)
    if line >= len(lines):
        return text
    body = lines[line].rstrip("\r\n")
    ending = lines[line][len(body):]
    note = f"{note} ({reason})" if reason else note
    body = body.rstrip() + (f"; {note}" if MARK in body else f"  {MARK} {note}")
    lines[line] = body + ending
    marked = "".join(lines)
    try:
        _compose(marked)
    except YamlEditError:  # a line that cannot end in a comment (inside a quoted scalar): leave it unmarked
        return text
    return marked


# --- text and node helpers ---------------------------------------------------------------------------


def _compose(text: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=_SpecLoader)
    except yaml.YAMLError as exc:
        raise YamlEditError(f"not valid YAML: {str(exc).splitlines()[0]}") from None


def _load(text: str, what: str) -> Any:
    try:
        return yaml.load(text, Loader=_SpecLoader)
    except yaml.YAMLError as exc:
        raise YamlEditError(f"{what} is not valid YAML: {' '.join(str(exc).split())}") from None


def _shared_nodes(root: yaml.Node | None) -> set[int]:
    """Ids of nodes reached more than once (anchors used through aliases)."""
    seen: set[int] = set()
    shared: set[int] = set()

    def walk(node: yaml.Node) -> None:
        if id(node) in seen:
            shared.add(id(node))
            return
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                walk(k)
                walk(v)
        elif isinstance(node, yaml.SequenceNode):
            for v in node.value:
                walk(v)

    if root is not None:
        walk(root)
    return shared


def _is_null(node: yaml.Node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null"


def _is_block(node: yaml.Node) -> bool:
    return isinstance(node, yaml.MappingNode | yaml.SequenceNode) and not node.flow_style


def _content_end(text: str, node: yaml.Node) -> int:
    """Index just past the last character that belongs to `node` (a block collection's end mark lies
    after trailing comments and blank lines, which belong to whatever follows)."""
    if _is_block(node) and node.value:
        last = node.value[-1]
        return _content_end(text, last[1] if isinstance(node, yaml.MappingNode) else last)
    end = node.end_mark.index
    while end > node.start_mark.index and text[end - 1] in " \t\r\n":
        end -= 1
    return end


def _colon_after(text: str, key_node: yaml.Node) -> int:
    i = key_node.end_mark.index
    while i < len(text) and text[i] in " \t":
        i += 1
    if i >= len(text) or text[i] != ":":
        raise YamlEditError(f"cannot find the `:` after the key `{key_node.value}`")
    return i


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _line_end(text: str, index: int) -> int:
    """Index just past the newline ending the line that holds `index - 1` (or the text's end)."""
    nl = text.find("\n", max(index - 1, 0))
    return len(text) if nl < 0 else nl + 1


def _newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def _source(text: str, node: yaml.Node) -> str:
    return " ".join(text[node.start_mark.index:node.end_mark.index].split())


def _short(text: str) -> str:
    return text if len(text) <= _MAX_WAS else text[:_MAX_WAS - 1] + "…"


def _nest(parts: list[str], rendered: str) -> str:
    """``a: {b: {c: value}}`` for parts [a, b, c]."""
    return f"{_key(parts[0])}: {_nest_flow(parts[1:], rendered)}" if len(parts) > 1 else f"{_key(parts[0])}: {rendered}"


def _nest_flow(parts: list[str], rendered: str) -> str:
    out = rendered
    for part in reversed(parts):
        out = f"{{{_key(part)}: {out}}}"
    return out


def _key(part: str) -> str:
    return part if re.fullmatch(r"[A-Za-z_][\w-]*", part) else render_value(part)


def _diff_paths(want: Any, got: Any, prefix: str = "") -> list[str]:
    """Dotted paths where two data trees differ (for the error message)."""
    if isinstance(want, dict) and isinstance(got, dict):
        out = []
        for key in list(want) + [k for k in got if k not in want]:
            out += _diff_paths(want.get(key, "<absent>"), got.get(key, "<absent>"), f"{prefix}{key}.")
        return out
    return [] if want == got else [prefix.rstrip(".") or "the document"]
