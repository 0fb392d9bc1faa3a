"""The experiment spec: schema, YAML loading with positions, overrides, targets, errors."""

from trainlint.spec.errors import SpecError
from trainlint.spec.loader import LoadedSpec, load_spec
from trainlint.spec.schema import Spec

__all__ = ["LoadedSpec", "Spec", "SpecError", "load_spec"]
