"""Name matching for registries: `cross_entropy`, `CrossEntropyLoss` and `cross-entropy` are one name."""

from __future__ import annotations

import re

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")


def normalize(name: str, suffix: str = "") -> str:
    """Lower-case, separator-free key; drops a trailing ``suffix`` such as ``loss``."""
    key = re.sub(r"[\s_\-]", "", name).lower()
    if suffix and key.endswith(suffix) and key != suffix:
        key = key[: -len(suffix)]
    return key


def snake(class_name: str, suffix: str = "") -> str:
    """``BCEWithLogitsLoss`` -> ``bce_with_logits`` (with ``suffix="Loss"``)."""
    if suffix and class_name.endswith(suffix) and class_name != suffix:
        class_name = class_name[: -len(suffix)]
    return _CAMEL.sub("_", class_name).lower()
