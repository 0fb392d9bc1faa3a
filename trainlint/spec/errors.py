"""SpecError: one located paragraph telling the user what is wrong with their spec.

Also renders pydantic validation errors in the user's terms: a clean dotted field path (no
union member tags such as ``str`` or ``SchedulerSpec``), "must be a number, got "sixty"" rather
than pydantic's wording, and a did-you-mean for unknown keys.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel


class SpecError(Exception):
    """An invalid spec or command line (exit status 2).

    Rendered as one paragraph: ``file:line:col: field `a.b`: what is wrong. Did you mean `x`?
    Accepted: ...``. When the bad value came from the command line, ``origin`` (e.g.
    ``"--set optimizer.lr=-1"``) replaces the file location.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        col: int | None = None,
        field: str | None = None,
        accepted: str | None = None,
        suggestions: Iterable[str] = (),
        origin: str | None = None,
        more: int = 0,
    ):
        super().__init__(message)
        self.message = message
        self.path = Path(path) if path is not None else None
        self.line = line
        self.col = col
        self.field = field
        self.accepted = accepted
        self.suggestions = list(suggestions)
        self.origin = origin
        self.more = more

    def __str__(self) -> str:
        where = ""
        if self.origin is not None:
            where = f"{self.origin}: "
        elif self.path is not None:
            where = str(self.path)
            if self.line is not None:
                where += f":{self.line}" + (f":{self.col}" if self.col is not None else "")
            where += ": "
        text = where
        if self.field:
            text += f"field `{self.field}`: "
        text += self.message.rstrip(".") + "."
        if self.suggestions:
            text += " Did you mean " + " or ".join(f"`{s}`" for s in self.suggestions) + "?"
        if self.accepted:
            text += f" Accepted: {self.accepted.rstrip('.')}."
        if self.more:
            text += f" ({self.more} more problem{'s' if self.more > 1 else ''} after this one.)"
        return text


def close_matches(word: str, candidates: Iterable[str], n: int = 3) -> list[str]:
    """Candidates that look like ``word`` (case- and separator-insensitive)."""
    candidates = list(candidates)

    def norm(s: str) -> str:
        return s.lower().replace("-", "_")

    by_norm = {norm(c): c for c in candidates}
    hits = difflib.get_close_matches(norm(str(word)), list(by_norm), n=n, cutoff=0.6)
    return [by_norm[h] for h in hits]


def show(value: Any) -> str:
    """A value as the user wrote it in YAML, short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    text = f'"{value}"' if isinstance(value, str) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# pydantic error type -> what the value must be, in plain words.
_MUST_BE = {
    "int_type": "a whole number", "int_parsing": "a whole number", "int_from_float": "a whole number",
    "float_type": "a number", "float_parsing": "a number", "bool_type": "true or false",
    "bool_parsing": "true or false", "string_type": "text", "list_type": "a list",
    "dict_type": "a mapping (indented `key: value` lines)", "model_type": "a mapping (indented `key: value` lines)",
    "model_attributes_type": "a mapping (indented `key: value` lines)", "finite_number": "a finite number",
}


def render_validation_errors(
    errors: list[dict],
    data: Any,
    root: type[BaseModel],
    *,
    path: Path | None,
    locate: Callable[[str], tuple[int, int] | None],
    origin_of: Callable[[str], str | None],
) -> SpecError:
    """The most useful of pydantic's ``errors`` as one SpecError (the rest are counted).

    Args:
        errors: ``ValidationError.errors()`` with locations relative to ``data``.
        data: the validated input (used to tell real keys from union member tags in locations).
        root: the model ``data`` was validated against.
        path: the spec file.
        locate: dotted field -> (line, col) in the file, or None.
        origin_of: dotted field -> the `--set` expression that wrote it, or None.
    """
    groups: dict[tuple[str, ...], list[dict]] = {}
    for err in errors:
        groups.setdefault(_clean_loc(err["loc"], data, err["type"]), []).append(err)
    # An unknown key first: a typo (`optimzer:`) also makes a required section missing.
    rank = {"extra_forbidden": 0, "missing": 2}
    loc, group = min(groups.items(), key=lambda item: rank.get(item[1][0]["type"], 1))
    dotted = ".".join(loc)
    message, accepted, suggestions = _describe(loc, group, root)
    # A typo's other half (`optimizer` missing when `optimzer` is unknown) is not another problem.
    others = [k for k in groups if k != loc and not (len(k) == len(loc) and k[:-1] == loc[:-1]
                                                     and k[-1] in suggestions)]
    origin = origin_of(dotted) if dotted else None
    line, col = (locate(dotted) or (None, None)) if origin is None and dotted else (None, None)
    return SpecError(message, path=path, line=line, col=col, field=dotted or None, accepted=accepted,
                     suggestions=suggestions, origin=origin, more=len(others))


def _clean_loc(loc: tuple, data: Any, kind: str) -> tuple[str, ...]:
    """Keep the parts of a pydantic location that index the data; drop union member tags."""
    out: list[str] = []
    node = data
    for i, part in enumerate(loc):
        indexes = (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node))
        if indexes:
            node = node[part]
        elif not (kind == "missing" and i == len(loc) - 1):
            continue  # a tag such as `str`, `dict[str,any]` or `SchedulerSpec`, not a key
        out.append(str(part))
    return tuple(out)


def _describe(loc: tuple[str, ...], group: list[dict], root: type[BaseModel]) -> tuple[str, str | None, list[str]]:
    """Message, accepted values and suggestions for the errors at one location."""
    err = group[0]
    kind = err["type"]
    parent = model_at(root, loc[:-1])
    here = model_at(root, loc)
    if kind == "extra_forbidden" and parent is not None:
        fields = list(parent.model_fields)
        return f"unknown key `{loc[-1]}`", ", ".join(fields), close_matches(loc[-1], fields)
    if kind == "missing":
        what = "section" if here is not None else "field"
        return f"required {what} `{loc[-1]}` is missing", None, []
    value = err.get("input")
    if kind == "invalid_key":
        return f"key `{loc[-1]}` must be text", None, []
    if kind == "value_error" and here is not None and {"name", "target"} <= set(here.model_fields):
        # The name-xor-target validator of a component section.
        if isinstance(value, dict) and value.get("from_model") not in (None, False):
            return "give `from_model` alone: the model computes the loss, so no `name` or `target`", None, []
        given = isinstance(value, dict) and value.get("name") is not None and value.get("target") is not None
        if given:
            return "give either `name` or `target`, not both", None, []
        return ("needs `name:` (a built-in) or `target:` (your own code, `file.py:attr` or "
                "`package.module:attr`)"), None, []
    musts = [_MUST_BE[e["type"]] for e in group if e["type"] in _MUST_BE]
    if len(musts) == len(group):
        musts = list(dict.fromkeys(musts))
        message = "must be " + " or ".join(musts)
    else:
        message = err["msg"].removeprefix("Value error, ")
        message = message.replace("Input should be", "must be").replace("String should", "must")
    accepted = None
    if kind == "string_pattern_mismatch":
        message = "is not an accepted value"
        field_info = parent.model_fields.get(loc[-1]) if parent is not None and loc else None
        accepted = field_info.description if field_info is not None else None
    elif kind == "literal_error":
        message = "is not an accepted value"
        accepted = err.get("ctx", {}).get("expected")
    if accepted is None and len(group) > 1 and parent is not None and loc:  # a union: say every form
        field_info = parent.model_fields.get(loc[-1])
        accepted = field_info.description if field_info is not None else None
    if "input" in err and kind != "value_error":
        message += f", got {show(value)}"
    return message, accepted, []


def model_at(root: type[BaseModel], loc: Iterable[str]) -> type[BaseModel] | None:
    """The pydantic model of the section at ``loc`` (None for values and free-form mappings)."""
    model: type[BaseModel] | None = root
    for part in loc:
        if model is None or part not in model.model_fields:
            return None
        model = submodel(model, part)
    return model


def submodel(model: type[BaseModel], name: str) -> type[BaseModel] | None:
    """The pydantic model of field ``name`` if it is a section (None for free-form dicts)."""
    annotation = model.model_fields[name].annotation
    for candidate in (annotation, *getattr(annotation, "__args__", ())):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None
