"""`rnn`: an LSTM or GRU reader of sequences, tokens or tabular rows, with an MLP head.

Tabular rows are read as sequences: each feature is one timestep holding one value.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlint.components.base import DataInfo
from trainlint.components.models import common
from trainlint.components.models.inputs import SequenceInput

DEFAULTS: dict[str, Any] = {"cell": "lstm", "hidden": 64, "layers": 1, "embed_dim": 32}
CELLS = {"lstm": nn.LSTM, "gru": nn.GRU}


class RNN(nn.Module):
    """Input adapter → LSTM/GRU → last timestep's state → norm → Linear → activation → dropout → Linear.

    The recurrent cell keeps its built-in tanh/sigmoid gates; ``activation`` is the head's.

    Args:
        info: the data description (sequence, tokens or tabular inputs).
        num_outputs: size of the output layer (raw logits or values).
        cell: ``lstm`` or ``gru``.
        hidden: recurrent state size (also the head's width).
        layers: stacked recurrent layers (dropout applies between them too).
        embed_dim: token embedding size, used only for ``tokens`` inputs.
        activation, dropout, norm: the shared options (see ``common``).
    """

    def __init__(
        self,
        info: DataInfo,
        num_outputs: int,
        cell: str,
        hidden: int,
        layers: int,
        embed_dim: int,
        activation: str,
        dropout: float,
        norm: str,
    ):
        super().__init__()
        self.embed = SequenceInput(info, "rnn", embed_dim=embed_dim)
        self.rnn = CELLS[cell](
            self.embed.out_features,
            hidden,
            num_layers=layers,
            batch_first=True,
            dropout=dropout if layers > 1 else 0.0,
        )
        head: list[nn.Module] = [common.norm(norm, hidden)] if norm != "none" else []
        head += [nn.Linear(hidden, hidden), common.activation(activation)]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(hidden, num_outputs))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(self.embed(x))
        return self.head(out[:, -1])


def build(info: DataInfo, num_outputs: int, args: dict[str, Any]) -> nn.Module:
    """An RNN for ``info`` (see `RNN`); ``args`` are the spec's ``model.args``."""
    a = common.resolve_args("rnn", args, DEFAULTS)
    model = RNN(
        info,
        num_outputs,
        common.choice(a, "cell", list(CELLS)),
        common.positive_int(a, "hidden"),
        common.positive_int(a, "layers"),
        common.positive_int(a, "embed_dim"),
        a["activation"],
        a["dropout"],
        a["norm"],
    )
    common.apply_init(model, a["init"], a["activation"])
    return model
