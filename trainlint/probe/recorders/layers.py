"""Layer index: which module owns which parameter, so per-parameter norms fold into per-layer norms."""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class LayerIndex:
    """Trainable parameters grouped by the module that owns them.

    Attributes:
        params: trainable parameters, in registration order.
        param_names: their qualified names.
        layers: owning module names (one entry per layer), in registration order.
        owner: for each parameter, the position of its layer in `layers` (a long tensor).
    """

    params: list[torch.nn.Parameter]
    param_names: list[str]
    layers: list[str]
    owner: torch.Tensor

    @classmethod
    def of(cls, model: torch.nn.Module, device: torch.device) -> LayerIndex:
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
        return cls(params, names, layers, torch.tensor(owner, dtype=torch.long, device=device))

    def fold(self, per_param_norms: torch.Tensor) -> torch.Tensor:
        """Per-layer L2 norms from per-parameter L2 norms (on device, no sync)."""
        squares = per_param_norms.square()
        out = torch.zeros(len(self.layers), dtype=squares.dtype, device=squares.device)
        return out.index_add_(0, self.owner, squares).sqrt_()
