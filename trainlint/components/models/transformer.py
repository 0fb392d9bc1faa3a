"""`transformer`: a small pre-norm transformer encoder over sequences, tokens or tabular rows.

Tabular rows are read as sequences: each feature is one timestep holding one value.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlint.components.base import ComponentError, DataInfo
from trainlint.components.models import common
from trainlint.components.models.inputs import SequenceInput

# Layer norm is part of the standard encoder block, so it is this family's default.
DEFAULTS: dict[str, Any] = {
    "d_model": 64,
    "n_heads": 4,
    "n_layers": 2,
    "ff_dim": 128,
    "norm": "layer",
}


class EncoderBlock(nn.Module):
    """``x + attn(norm(x))`` then ``x + ff(norm(x))``, the feed-forward part using ``activation``.

    Written out rather than using ``nn.TransformerEncoderLayer`` so the activation is a module
    the probe can hook and ``norm: none`` really removes the norms.
    """

    def __init__(
        self, d_model: int, n_heads: int, ff_dim: int, activation: str, dropout: float, norm: str
    ):
        super().__init__()
        self.norm1 = common.norm(norm, d_model, "seq")
        self.attn = nn.MultiheadAttention(d_model, n_heads, dropout=dropout, batch_first=True)
        self.norm2 = common.norm(norm, d_model, "seq")
        self.ff = nn.Sequential(
            nn.Linear(d_model, ff_dim),
            common.activation(activation),
            nn.Dropout(dropout),
            nn.Linear(ff_dim, d_model),
        )
        self.drop = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.norm1(x)
        x = x + self.drop(self.attn(h, h, h, need_weights=False)[0])
        return x + self.drop(self.ff(self.norm2(x)))


class Transformer(nn.Module):
    """Input projection + learned positions → encoder blocks → norm → mean over time → Linear.

    Args:
        info: the data description (sequence, tokens or tabular inputs).
        num_outputs: size of the output layer (raw logits or values).
        d_model: feature size through the encoder.
        n_heads: attention heads (must divide ``d_model``).
        n_layers: encoder blocks.
        ff_dim: hidden width of each block's feed-forward part.
        activation, dropout, norm: the shared options (see ``common``).
    """

    def __init__(
        self,
        info: DataInfo,
        num_outputs: int,
        d_model: int,
        n_heads: int,
        n_layers: int,
        ff_dim: int,
        activation: str,
        dropout: float,
        norm: str,
    ):
        super().__init__()
        self.embed = SequenceInput(info, "transformer", dim=d_model)
        self.position = nn.Embedding(self.embed.time, d_model)
        self.blocks = nn.Sequential(
            *(
                EncoderBlock(d_model, n_heads, ff_dim, activation, dropout, norm)
                for _ in range(n_layers)
            )
        )
        self.norm = common.norm(norm, d_model, "seq")
        self.drop = nn.Dropout(dropout)
        self.head = nn.Linear(d_model, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.embed(x)
        h = h + self.position(torch.arange(h.shape[1], device=h.device))
        h = self.norm(self.blocks(self.drop(h)))
        return self.head(h.mean(dim=1))


def build(info: DataInfo, num_outputs: int, args: dict[str, Any]) -> nn.Module:
    """A transformer encoder for ``info`` (see `Transformer`); ``args`` are the spec's ``model.args``."""
    a = common.resolve_args("transformer", args, DEFAULTS)
    d_model, n_heads = common.positive_int(a, "d_model"), common.positive_int(a, "n_heads")
    if d_model % n_heads:
        raise ComponentError(
            f"n_heads ({n_heads}) must divide d_model ({d_model})",
            "model.args.n_heads",
            ", ".join(str(h) for h in range(1, d_model + 1) if d_model % h == 0),
        )
    model = Transformer(
        info,
        num_outputs,
        d_model,
        n_heads,
        common.positive_int(a, "n_layers"),
        common.positive_int(a, "ff_dim"),
        a["activation"],
        a["dropout"],
        a["norm"],
    )
    common.apply_init(model, a["init"], a["activation"])
    return model
