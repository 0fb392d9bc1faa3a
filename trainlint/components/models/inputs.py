"""Input adapters: what each data kind becomes before a model's body sees it.

Sequence models read ``(batch, time, features)``. Tokens are embedded, sequences are used as
they are (or linearly projected), and tabular rows are read as sequences whose timesteps are
the features, one value each.
"""

from __future__ import annotations

import torch
from torch import nn

from trainlint.components.base import ComponentError, DataInfo
from trainlint.components.models.common import vocab_size


def image_shape(info: DataInfo, model: str) -> tuple[int, int, int]:
    """``(C, H, W)`` of image data; any other input kind is an error naming ``model.name``."""
    if info.input_kind == "image" and len(info.input_shape) == 3:
        return info.input_shape  # type: ignore[return-value]
    shape = "x".join(map(str, info.input_shape))
    if info.input_kind == "tabular":
        hint = f"rows of {shape} flat features have no image layout; use `mlp` for tabular data"
    elif info.input_kind == "image":
        hint = f"images must be (channels, height, width), got shape ({shape})"
    else:
        hint = f"{info.input_kind} inputs of shape ({shape}) are not images; use `rnn` or `transformer`"
    raise ComponentError(
        f"model `{model}` needs image inputs (C, H, W): {hint}",
        "model.name",
        "mlp, rnn, transformer" if info.input_kind != "image" else None,
    )


def sequence_shape(info: DataInfo, model: str) -> tuple[int, int]:
    """``(time, features)`` as a sequence model reads the data (features is 1 for tokens/tabular)."""
    shape = info.input_shape
    if info.input_kind == "image":
        raise ComponentError(
            f"model `{model}` reads sequences, tokens or tabular rows, not images of shape "
            f"({'x'.join(map(str, shape))}); use `cnn`, `resnet` or `mlp`",
            "model.name",
            "cnn, resnet, mlp",
        )
    if info.input_kind == "sequence" and len(shape) == 2:
        return shape[0], shape[1]
    if len(shape) == 1:
        return shape[0], 1
    raise ComponentError(
        f"model `{model}` expected {info.input_kind} inputs of shape "
        f"{'(time, features)' if info.input_kind == 'sequence' else '(length,)'}, got {shape}",
        "model.name",
    )


class SequenceInput(nn.Module):
    """Maps a batch of any non-image input kind to float features ``(batch, time, dim)``.

    Args:
        info: the data description.
        model: the model name, for error messages.
        dim: output feature size; tokens are embedded to it and floats linearly projected to
            it. ``None`` keeps float features as they are (tokens then need ``embed_dim``).
        embed_dim: token embedding size when ``dim`` is None.

    Attributes:
        time: sequence length; ``out_features``: the feature size produced.
    """

    def __init__(self, info: DataInfo, model: str, dim: int | None = None, embed_dim: int = 32):
        super().__init__()
        self.time, features = sequence_shape(info, model)
        self.is_tokens = info.input_kind == "tokens"
        self.is_flat = info.input_kind == "tabular" or len(info.input_shape) == 1
        if self.is_tokens:
            self.out_features = dim or embed_dim
            self.embed: nn.Module = nn.Embedding(vocab_size(info), self.out_features)
        elif dim is not None:
            self.out_features = dim
            self.embed = nn.Linear(features, dim)
        else:
            self.out_features = features
            self.embed = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.is_tokens:
            return self.embed(x.long())
        if self.is_flat:
            x = x.unsqueeze(-1)
        return self.embed(x)
