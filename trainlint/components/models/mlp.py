"""`mlp`: a multilayer perceptron over flattened inputs (token ids are embedded first)."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from trainlint.components.base import DataInfo
from trainlint.components.models import common
from trainlint.components.models.inputs import SequenceInput

DEFAULTS: dict[str, Any] = {"hidden": [128, 64], "embed_dim": 16}


class MLP(nn.Module):
    """Flatten → [Linear → norm → activation → dropout] per hidden layer → Linear head.

    Args:
        info: the data description.
        num_outputs: size of the output layer (raw logits or values).
        hidden: widths of the hidden layers (empty: a linear model).
        activation, dropout, norm: the shared options (see ``common``).
        embed_dim: token embedding size, used only for ``tokens`` inputs.
    """

    def __init__(
        self,
        info: DataInfo,
        num_outputs: int,
        hidden: list[int],
        activation: str,
        dropout: float,
        norm: str,
        embed_dim: int,
    ):
        super().__init__()
        if info.input_kind == "tokens":
            self.embed: nn.Module = SequenceInput(info, "mlp", embed_dim=embed_dim)
            width = self.embed.time * embed_dim
        else:
            self.embed = nn.Identity()
            width = math.prod(info.input_shape)
        layers: list[nn.Module] = [nn.Flatten()]
        for size in hidden:
            layers.append(nn.Linear(width, size))
            if norm != "none":
                layers.append(common.norm(norm, size))
            layers.append(common.activation(activation))
            if dropout:
                layers.append(nn.Dropout(dropout))
            width = size
        layers.append(nn.Linear(width, num_outputs))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(self.embed(x))


def build(info: DataInfo, num_outputs: int, args: dict[str, Any]) -> nn.Module:
    """An MLP for ``info`` (see `MLP`); ``args`` are the spec's ``model.args``."""
    a = common.resolve_args("mlp", args, DEFAULTS)
    model = MLP(
        info,
        num_outputs,
        common.int_list(a, "hidden"),
        a["activation"],
        a["dropout"],
        a["norm"],
        common.positive_int(a, "embed_dim"),
    )
    common.apply_init(model, a["init"], a["activation"])
    return model
