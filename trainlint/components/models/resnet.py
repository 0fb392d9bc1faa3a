"""`resnet`: a small residual network for (C, H, W) images."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from trainlint.components.base import DataInfo
from trainlint.components.models import common
from trainlint.components.models.inputs import image_shape

# Batch norm is what residual nets are designed around, so it is this family's default.
DEFAULTS: dict[str, Any] = {"width": 16, "blocks": 2, "norm": "batch"}


class BasicBlock(nn.Module):
    """Two 3x3 convs with a skip connection: ``act(x + norm(conv(act(norm(conv(x))))))``.

    A stride-2 block halves the spatial size and projects the skip with a 1x1 conv.
    """

    def __init__(self, in_ch: int, out_ch: int, stride: int, activation: str, norm: str):
        super().__init__()
        bias = norm != "batch"
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=bias)
        self.norm1 = common.norm(norm, out_ch, "image")
        self.act1 = common.activation(activation)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=bias)
        self.norm2 = common.norm(norm, out_ch, "image")
        self.act2 = common.activation(activation)
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.skip = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=bias),
                common.norm(norm, out_ch, "image"),
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.act1(self.norm1(self.conv1(x)))
        return self.act2(self.skip(x) + self.norm2(self.conv2(out)))


class ResNet(nn.Module):
    """Stem conv → ``blocks`` residual blocks → global average pool → dropout → Linear.

    Each block after the first halves the feature map and doubles the channels, like the
    stages of a ResNet with one block per stage; once the map is 1 pixel wide, blocks keep
    their size, so the width stays bounded however many blocks are asked for.

    Args:
        info: the data description (image inputs).
        num_outputs: size of the output layer (raw logits or values).
        width: channels of the stem and the first block.
        blocks: number of residual blocks.
        activation, dropout, norm: the shared options (see ``common``).
    """

    def __init__(
        self,
        info: DataInfo,
        num_outputs: int,
        width: int,
        blocks: int,
        activation: str,
        dropout: float,
        norm: str,
    ):
        super().__init__()
        in_ch, height, wide = image_shape(info, "resnet")
        self.stem = nn.Sequential(
            nn.Conv2d(in_ch, width, 3, padding=1, bias=norm != "batch"),
            common.norm(norm, width, "image"),
            common.activation(activation),
        )
        layers, ch = [], width
        for i in range(blocks):
            stride = 2 if i > 0 and min(height, wide) >= 2 else 1
            out_ch = ch * stride
            layers.append(BasicBlock(ch, out_ch, stride, activation, norm))
            height, wide, ch = height // stride, wide // stride, out_ch
        self.blocks = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(ch, num_outputs))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def build(info: DataInfo, num_outputs: int, args: dict[str, Any]) -> nn.Module:
    """A ResNet for ``info`` (see `ResNet`); ``args`` are the spec's ``model.args``."""
    a = common.resolve_args("resnet", args, DEFAULTS)
    model = ResNet(
        info,
        num_outputs,
        common.positive_int(a, "width"),
        common.positive_int(a, "blocks"),
        a["activation"],
        a["dropout"],
        a["norm"],
    )
    common.apply_init(model, a["init"], a["activation"])
    return model
