"""Layer index: which module owns which parameter, so per-parameter norms fold into per-layer norms."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import torch


@dataclass
class LayerIndex:
    """Trainable parameters grouped by the module that owns them.

    Attributes:
        params: trainable parameters, in registration order (a layer's parameters are adjacent).
        param_names: their qualified names.
        layers: owning module names (one entry per layer), in registration order.
        owner: for each parameter, the position of its layer in `layers` (non-decreasing).
        device: where the parameters live (the first one's device; CPU when there are none).
    """

    params: list[torch.nn.Parameter]
    param_names: list[str]
    layers: list[str]
    owner: list[int]
    device: torch.device

    @classmethod
    def of(cls, model: torch.nn.Module) -> LayerIndex:
        params, names, layers, owner = [], [], [], []
        for mod_name, module in model.named_modules():
            own = [(n, p) for n, p in module.named_parameters(recurse=False) if p.requires_grad]
            if not own:
                continue
            layers.append(mod_name or module.__class__.__name__)
            for n, p in own:
                params.append(p)
                names.append(f"{mod_name}.{n}" if mod_name else n)
                owner.append(len(layers) - 1)
        device = params[0].device if params else torch.device("cpu")
        return cls(params, names, layers, owner, device)

    def fold(self, per_param_norms: np.ndarray) -> np.ndarray:
        """Per-layer L2 norms `(..., layers)` from per-parameter L2 norms `(..., params)`, in float64.

        Why on the host: the norms reach it once per flush anyway, and a layer's parameters
        are adjacent, so one `reduceat` folds every step at once, where torch would need four
        small tensor ops.
        """
        squares = np.square(np.asarray(per_param_norms, dtype=np.float64))
        if not self.layers:
            return squares[..., :0]
        return np.sqrt(np.add.reduceat(squares, self._starts, axis=-1))

    @cached_property
    def _starts(self) -> list[int]:
        """The position of each layer's first parameter."""
        return [i for i, o in enumerate(self.owner) if i == 0 or o != self.owner[i - 1]]
