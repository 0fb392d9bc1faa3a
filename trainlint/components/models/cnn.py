"""`cnn`: a small convolutional classifier/regressor for (C, H, W) images."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlint.components.base import ComponentError, DataInfo
from trainlint.components.models import common
from trainlint.components.models.inputs import image_shape

DEFAULTS: dict[str, Any] = {"channels": [16, 32], "kernel_size": 3}


class CNN(nn.Module):
    """[Conv → norm → activation → 2x2 max-pool → dropout] per stage → global average pool → Linear.

    Pooling stops once the feature map is 1 pixel wide, so small images work with many stages.

    Args:
        info: the data description (image inputs).
        num_outputs: size of the output layer (raw logits or values).
        channels: output channels of each conv stage.
        kernel_size: odd kernel size; padding keeps the spatial size.
        activation, dropout, norm: the shared options (see ``common``).
    """

    def __init__(
        self,
        info: DataInfo,
        num_outputs: int,
        channels: list[int],
        kernel_size: int,
        activation: str,
        dropout: float,
        norm: str,
    ):
        super().__init__()
        in_ch, height, width = image_shape(info, "cnn")
        layers: list[nn.Module] = []
        for out_ch in channels:
            layers.append(
                nn.Conv2d(
                    in_ch, out_ch, kernel_size, padding=kernel_size // 2, bias=norm != "batch"
                )
            )
            if norm != "none":
                layers.append(common.norm(norm, out_ch, "image"))
            layers.append(common.activation(activation))
            if min(height, width) >= 2:
                layers.append(nn.MaxPool2d(2))
                height, width = height // 2, width // 2
            if dropout:
                layers.append(nn.Dropout(dropout))
            in_ch = out_ch
        self.features = nn.Sequential(*layers)
        self.pool = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(in_ch, num_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.pool(self.features(x)))


def build(info: DataInfo, num_outputs: int, args: dict[str, Any]) -> nn.Module:
    """A CNN for ``info`` (see `CNN`); ``args`` are the spec's ``model.args``."""
    a = common.resolve_args("cnn", args, DEFAULTS)
    channels = common.int_list(a, "channels")
    if not channels:
        raise ComponentError(
            "channels needs at least one conv stage, e.g. [16, 32]", "model.args.channels"
        )
    kernel = common.positive_int(a, "kernel_size")
    if kernel % 2 == 0:
        raise ComponentError(
            f"kernel_size must be odd, got {kernel}", "model.args.kernel_size", "1, 3, 5, 7"
        )
    model = CNN(info, num_outputs, channels, kernel, a["activation"], a["dropout"], a["norm"])
    common.apply_init(model, a["init"], a["activation"])
    return model
