"""MIA (Chiquier & Vondrick, ICCV 2023): local temporal convolution + transformer + linear head.

The convolution spans every input channel and ~1 s of frames (9 frames at 10 fps) with 128
output channels; a 4-layer, 8-head, d=128 transformer without masking mixes the whole window;
a linear head maps each frame to the outputs (muscles, or K x D coordinates when decoding
motion from muscles).
"""

from __future__ import annotations

import torch
from torch import nn

from musclekit.pipelines.train.models.common import (
    ModelOptions,
    ModelShape,
    SubjectConditioning,
    output_activation,
    transformer_encoder,
)

DEFAULTS = ModelOptions(width=128, layers=4, heads=8, kernel_frames=9)


class MIAModel(nn.Module):
    def __init__(self, shape: ModelShape, options: ModelOptions) -> None:
        super().__init__()
        width = options.width or DEFAULTS.width
        kernel = options.kernel_frames or DEFAULTS.kernel_frames
        self.condition = SubjectConditioning(shape.n_subjects)
        self.local = nn.Sequential(
            nn.Conv1d(shape.n_inputs + self.condition.extra_features, width, kernel,
                      padding=kernel // 2),
            nn.GELU(),
        )
        self.glob = transformer_encoder(
            width, options.layers or DEFAULTS.layers, options.heads or DEFAULTS.heads,
            options.dropout,
        )
        self.head = nn.Linear(width, shape.n_outputs)
        self.out = output_activation(shape.bounded_output)

    def forward(self, x: torch.Tensor, subject: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, L, n_inputs) -> (B, L, n_outputs)."""
        h = self.condition(x, subject)
        h = self.local(h.transpose(1, 2)).transpose(1, 2)[:, : x.shape[1]]
        return self.out(self.head(self.glob(h)))
