"""Load a YAML spec safely, keep where each key was written, apply `--set`, validate.

Why a key→line map: findings point at the spec line to change (``spec.yaml:14:7``), and spec
errors must say where they are, so the map is built from the YAML node tree once, here.
Why remember which keys `--set` wrote: an error in a value given on the command line must
point at that `--set`, not at the (overridden) line of the file.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, get_args, get_origin

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from trainlint.spec.errors import SpecError, close_matches, render_validation_errors, show, submodel
from trainlint.spec.schema import Spec


class _SpecLoader(yaml.SafeLoader):
    """PyYAML's safe loader, also reading ``1e-3`` as a float (YAML 1.2; 1.1 wants ``1.0e-3``)."""


MAX_DEPTH = 32  # nesting levels a spec may use (a real one needs 4)
MAX_BYTES = 10 * 2**20  # the largest file read as a spec

EXPONENT_FLOAT = re.compile(r"^[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+$")
_SpecLoader.add_implicit_resolver("tag:yaml.org,2002:float", EXPONENT_FLOAT, list("-+0123456789"))


@dataclass
class LoadedSpec:
    """A validated spec plus where it came from.

    Attributes:
        spec: the validated model.
        path: the spec file.
        text: its original text (kept for `fixed.yaml` edits and reports).
        positions: dotted key (``"optimizer.lr"``) → (line, column), 1-based, of the key.
        overrides: the `--set` expressions (and `--device cuda`-style flags) applied, in order.
        origins: dotted key → the command-line text that last wrote it (``--set a.b=v``, ``--device cuda``).
    """

    spec: Spec
    path: Path
    text: str
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    overrides: list[str] = field(default_factory=list)
    origins: dict[str, str] = field(default_factory=dict)

    @property
    def base_dir(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        return self.spec.name or self.path.stem

    def position(self, key: str) -> tuple[int, int] | None:
        """Line and column of ``key`` or of its nearest written ancestor."""
        return _position(self.positions, key)

    def origin(self, key: str) -> str | None:
        """``"--set a.b=v"`` (or ``"--device cuda"``) when the value at ``key`` came from the command line, else None."""
        return _origin(self.origins, self.positions, key)


def load_spec(path: str | Path, overrides: list[str] | tuple[str, ...] = ()) -> LoadedSpec:
    """Read, parse, override and validate a spec file.

    Raises:
        SpecError: anything wrong with the file or its contents, located.
    """
    path = Path(path)
    text = _read(path)
    try:
        loader = _SpecLoader(text)  # the reader refuses control characters here
    except yaml.YAMLError as exc:
        raise _yaml_error(exc, path) from None
    try:
        try:
            root = loader.get_single_node()
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, path) from None
        except RecursionError:  # PyYAML composes recursively
            raise SpecError(f"lists or mappings are nested too deeply (a spec needs at most {MAX_DEPTH} "
                            "levels)", path=path) from None
        if root is None:
            raise SpecError("the spec is empty", path=path,
                            accepted="a mapping with sections dataset, model, loss, optimizer")
        if not isinstance(root, yaml.MappingNode):
            kind = {"SequenceNode": "list"}.get(type(root).__name__, "single value")
            raise SpecError(
                f"the spec must be a mapping of sections (`dataset:`, `model:`, ...), not a {kind}",
                path=path, line=root.start_mark.line + 1, col=root.start_mark.column + 1,
                accepted="keys " + ", ".join(Spec.model_fields),
            )
        positions: dict[str, tuple[int, int]] = {}
        _walk(root, "", positions, path)
        try:
            data = loader.construct_document(root)
        except yaml.YAMLError as exc:
            raise _yaml_error(exc, path) from None
    finally:
        loader.dispose()
    origins: dict[str, str] = {}
    for expr in overrides:
        _apply_override(data, expr, origins)
    try:
        spec = Spec.model_validate(data)
    except ValidationError as exc:
        raise render_validation_errors(
            exc.errors(include_url=False), data, Spec, path=path,
            locate=lambda key: _position(positions, key),
            origin_of=lambda key: _origin(origins, positions, key),
        ) from None
    return LoadedSpec(spec=spec, path=path, text=text, positions=positions,
                      overrides=list(overrides), origins=origins)


def _read(path: Path) -> str:
    if not path.exists():
        raise SpecError("the spec file does not exist", path=path, accepted="a path to a YAML file")
    if path.is_dir():
        raise SpecError("the spec path is a directory", path=path, accepted="a path to a YAML file")
    if path.is_char_device() or path.is_block_device():
        raise SpecError("the spec path is a device, not a file", path=path, accepted="a path to a YAML file")
    if path.is_file() and path.stat().st_size > MAX_BYTES:
        raise SpecError(f"the spec is {path.stat().st_size / 2**20:.0f} MiB; a spec is a few kB of YAML "
                        f"(at most {MAX_BYTES // 2**20} MiB)", path=path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SpecError(f"cannot read the spec ({exc.strerror})", path=path) from None
    if b"\x00" in raw[:8192]:
        raise SpecError("the spec is a binary file, not YAML text", path=path)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(f"the spec is not UTF-8 text (byte {exc.start})", path=path, line=line) from None


def _yaml_error(exc: yaml.YAMLError, path: Path) -> SpecError:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    tag = re.search(r"constructor for the tag '([^']+)'", problem)
    if isinstance(exc, yaml.constructor.ConstructorError) and tag:
        name = tag.group(1).replace("tag:yaml.org,2002:", "!!")
        message = (f"the YAML tag `{name}` is not allowed: specs are plain data and never run code "
                   "(bring your own code with `target:`)")
    else:
        message = f"YAML syntax error: {problem}"
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        if context and context_mark is not None and context_mark is not mark:
            message += f" ({context} that starts at line {context_mark.line + 1})"
        if "'\\t'" in problem:
            message += "; indent with spaces, not tabs"
    return SpecError(message, path=path, line=mark.line + 1 if mark else None,
                     col=mark.column + 1 if mark else None)


def _walk(node: yaml.Node, prefix: str, out: dict[str, tuple[int, int]], path: Path,
          ancestors: frozenset[int] = frozenset()) -> None:
    if id(node) in ancestors:
        raise SpecError("an alias (`*name`) refers to a mapping or list that contains it",
                        path=path, line=node.start_mark.line + 1, col=node.start_mark.column + 1,
                        field=prefix or None)
    if len(ancestors) > MAX_DEPTH:  # validation, reports and JSON would recurse as deep
        raise SpecError(f"lists or mappings are nested more than {MAX_DEPTH} levels deep",
                        path=path, line=node.start_mark.line + 1, col=node.start_mark.column + 1,
                        field=prefix or None)
    ancestors = ancestors | {id(node)}
    if isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            line, col = key_node.start_mark.line + 1, key_node.start_mark.column + 1
            if not isinstance(key_node, yaml.ScalarNode):
                raise SpecError("a key must be a plain name, not a list or mapping", path=path,
                                line=line, col=col, field=prefix or None)
            key = str(key_node.value)
            dotted = f"{prefix}.{key}" if prefix else key
            if key in seen:
                raise SpecError(f"key `{key}` is given twice (first at line {seen[key]})",
                                path=path, line=line, col=col, field=dotted)
            seen[key] = line
            out[dotted] = (line, col)
            _walk(value_node, dotted, out, path, ancestors)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            dotted = f"{prefix}.{i}"
            out[dotted] = (item.start_mark.line + 1, item.start_mark.column + 1)
            _walk(item, dotted, out, path, ancestors)


def _position(positions: dict[str, tuple[int, int]], key: str) -> tuple[int, int] | None:
    parts = key.split(".")
    while parts:
        pos = positions.get(".".join(parts))
        if pos is not None:
            return pos
        parts.pop()
    return None


def _origin(origins: dict[str, str], positions: dict[str, tuple[int, int]], key: str) -> str | None:
    """The command-line text (`--set ...`, `--device ...`) that wrote ``key`` or a section holding it, or that
    created the section ``key``."""
    parts = key.split(".")
    for i in range(len(parts), 0, -1):
        where = origins.get(".".join(parts[:i]))
        if where is not None:
            return where
    if key not in positions:
        for written, where in origins.items():
            if written.startswith(key + "."):
                return where
    return None


def parse_value(raw: str) -> Any:
    """A `--set` value: YAML (so `3` is an int, `[64, 32]` a list, `null` None), never code."""
    if not raw.strip():
        return None
    try:
        return yaml.load(raw, Loader=_SpecLoader)  # a safe loader: plain data only
    except yaml.YAMLError:
        return raw


# Command-line shortcuts for spec fields. An override written `--device cuda` (as
# cli.options.overrides writes them) is applied like `--set device=cuda` but reported as typed.
FLAG_FIELDS = {"--steps": "probe.steps", "--seed": "seed", "--device": "device", "--threads": "probe.threads",
               "--max-seconds": "probe.max_seconds"}


def _apply_override(data: dict, expr: str, origins: dict[str, str]) -> None:
    """Apply one ``key.path=value`` (or ``--flag value``) to ``data``, checking the path (and a typed value) first."""
    flag, _, flag_value = expr.partition(" ")
    if flag in FLAG_FIELDS:
        where, key, sep, raw = expr, FLAG_FIELDS[flag], "=", flag_value
    else:
        where = f"--set {expr}"
        key, sep, raw = expr.partition("=")
    key = key.strip()
    if not sep or not key:
        raise SpecError("expected the form key.path=value", origin=where,
                        accepted="e.g. --set optimizer.lr=0.01")
    value = parse_value(raw)
    parts = key.split(".")
    if "" in parts:
        raise SpecError(f"the key path `{key}` has an empty part", origin=where,
                        accepted="dotted names such as optimizer.lr or model.args.hidden")
    model: type[BaseModel] | None = Spec
    node: Any = data
    for i, part in enumerate(parts):
        here, last = ".".join(parts[: i + 1]), i == len(parts) - 1
        new_child: Any = {}
        if model is not None:
            fields = model.model_fields
            if part not in fields:
                raise SpecError(f"unknown key `{part}`", origin=where, field=here,
                                suggestions=close_matches(part, fields), accepted=", ".join(fields))
            if last:
                _check_value(model, parts, value, where)
            elif not _is_container(fields[part].annotation):
                raise SpecError("is a single value, not a section", origin=where, field=here,
                                accepted=f"--set {here}=VALUE")
            if get_origin(fields[part].annotation) is list:
                new_child = []
            model = submodel(model, part)
        slot: Any = part
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise SpecError(f"not an index of the list at `{'.'.join(parts[:i])}` ({len(node)} items)",
                                origin=where, field=here)
            slot = int(part)
        if last:
            node[slot] = value
            break
        child = node[slot] if isinstance(node, list) else node.get(slot)
        if model is not None and not isinstance(child, dict | None):
            return  # the file's section is not a mapping: validation reports it at its line
        if child is None:
            child = node[slot] = new_child
        elif not isinstance(child, dict | list):
            raise SpecError(f"holds {show(child)}, not a mapping, so it has no `{parts[i + 1]}`",
                            origin=where, field=here)
        node = child
    origins[key] = where


def _check_value(model: type[BaseModel], parts: list[str], value: Any, where: str) -> None:
    """Validate a typed `--set` value now, so it is reported even if a later flag overrides it."""
    info = model.model_fields[parts[-1]]
    try:
        TypeAdapter(Annotated[info.annotation, info]).validate_python(value)
    except ValidationError as exc:
        nested: Any = value
        for part in reversed(parts):
            nested = {part: nested}
        errors = [{**e, "loc": (*parts, *e["loc"])} for e in exc.errors(include_url=False)]
        raise render_validation_errors(errors, nested, Spec, path=None, locate=lambda _: None,
                                       origin_of=lambda _: where) from None


def _is_container(annotation: Any) -> bool:
    """True for sections and free-form mappings/lists (fields that can take `a.b.c` paths)."""
    for candidate in (annotation, *get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return True
        if get_origin(candidate) in (dict, list) or candidate in (dict, list):
            return True
    return False
