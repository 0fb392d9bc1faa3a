"""trainlint: a linter for training runs.

`trainlint.watch(model, optimizer, ...)` lints a training loop you already have (see trainlint/api.py);
the command line (`trainlint probe spec.yaml`, ...) probes a setup described in YAML.
"""

from typing import TYPE_CHECKING

__version__ = "0.1.0"
__all__ = ["Watch", "watch"]

if TYPE_CHECKING:
    from trainlint.api import Watch, watch


def __getattr__(name: str):
    """`watch` and `Watch` are imported on first use: `import trainlint` stays free of torch."""
    if name in ("watch", "Watch"):
        from trainlint import api

        return getattr(api, name)
    raise AttributeError(f"module 'trainlint' has no attribute {name!r}")
