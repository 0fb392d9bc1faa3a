"""Resolve a spec's `target:` (``pkg.mod:attr`` or ``path/to/file.py:attr``) to a Python object.

This is the only place where a spec causes user code to run, and only the code it names.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from trainlint.components.base import ComponentError
from trainlint.spec.errors import close_matches


def resolve_target(target: str, base_dir: Path, field: str) -> Any:
    """Import what ``target`` names.

    Args:
        target: ``package.module:attr`` or ``relative/or/absolute/file.py:attr``.
        base_dir: directory of the spec file; relative file paths resolve against it.
        field: spec path used in error messages (e.g. ``"model.target"``).

    Raises:
        ComponentError: the module/file or the attribute does not exist, or importing failed.
    """
    module_part, sep, attr_path = target.rpartition(":")
    if not sep or not module_part or not attr_path:
        raise ComponentError(
            f"`{target}` is not a target",
            field,
            "`package.module:attr` or `path/to/file.py:attr` (relative to the spec file)",
        )
    if module_part.endswith(".py") or "/" in module_part or "\\" in module_part:
        module = _load_file(Path(module_part), base_dir, field)
    else:
        try:
            module = importlib.import_module(module_part)
        except ModuleNotFoundError as exc:
            local = base_dir / (module_part.replace(".", "/") + ".py")
            hint = f"; for the file next to the spec write `{local.name}:{attr_path}`" if local.is_file() else ""
            raise ComponentError(f"cannot import module `{module_part}` ({exc}){hint}", field) from None
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code raising at import time
            raise ComponentError(
                f"importing `{module_part}` raised {type(exc).__name__}: {exc}", field
            ) from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            callables = sorted(n for n, v in getattr(obj, "__dict__", {}).items()
                               if not n.startswith("_") and callable(v) and not inspect.ismodule(v))
            raise ComponentError(
                f"`{module_part}` has no attribute `{attr_path}`",
                field,
                "callables defined there: " + (", ".join(callables[:20]) or "none"),
                close_matches(part, callables),
            )
        obj = getattr(obj, part)
    if not callable(obj):
        raise ComponentError(f"`{target}` is not callable (a class or factory is expected)", field)
    return obj


def _load_file(rel: Path, base_dir: Path, field: str) -> Any:
    path = rel if rel.is_absolute() else (base_dir / rel)
    path = path.resolve()
    if not path.is_file():
        where = "" if rel.is_absolute() else f" (relative to the spec's folder, {base_dir.resolve()})"
        raise ComponentError(f"file `{rel}` does not exist{where}", field)
    name = f"trainlint_user_{abs(hash(str(path)))}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ComponentError(f"`{path}` cannot be imported as Python", field)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    keep_on_path(path.parent)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as exc:  # noqa: BLE001 - user code raising at import time
        del sys.modules[name]
        raise ComponentError(
            f"importing `{path.name}` raised {type(exc).__name__}: {exc}", field
        ) from None
    return module


def keep_on_path(folder: Path) -> None:
    """Put ``folder`` first on ``sys.path`` for the rest of the process (once).

    Why for the whole process, not just while the file is imported: a factory, a `forward` or
    a dataset's `__getitem__` may import a sibling module when it runs (``def make(): from net
    import Net``), long after the import. The user's file then finds its siblings whenever its
    code runs, as it would when run from its own folder (``python train.py`` puts the script's
    folder first too). trainlint is a command-line process, so nothing outlives the run.
    """
    entry = str(folder)
    if entry not in sys.path:
        sys.path.insert(0, entry)
