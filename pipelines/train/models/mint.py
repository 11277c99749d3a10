"""MinT (Schneider et al., NeurIPS 2024 D&B) baseline: conv -> positional encoding ->
transformer encoder -> conv.

Defaults are small for CPU work; the paper's best model is width 256, 16 layers, 16 heads
(`--width 256 --layers 16 --heads 16`).
"""

from __future__ import annotations

import torch
from torch import nn

from musclekit.pipelines.train.models.common import (
    ModelOptions,
    ModelShape,
    SubjectConditioning,
    output_activation,
    sinusoidal_positions,
    transformer_encoder,
)

DEFAULTS = ModelOptions(width=64, layers=2, heads=4, kernel_frames=3)


class MinTModel(nn.Module):
    def __init__(self, shape: ModelShape, options: ModelOptions) -> None:
        super().__init__()
        width = options.width or DEFAULTS.width
        kernel = options.kernel_frames or DEFAULTS.kernel_frames
        self.condition = SubjectConditioning(shape.n_subjects)
        self.embed = nn.Conv1d(shape.n_inputs + self.condition.extra_features, width, kernel,
                               padding=kernel // 2)
        self.register_buffer("positions", sinusoidal_positions(shape.window_frames, width),
                             persistent=False)
        self.encoder = transformer_encoder(
            width, options.layers or DEFAULTS.layers, options.heads or DEFAULTS.heads,
            options.dropout,
        )
        self.decode = nn.Conv1d(width, shape.n_outputs, kernel, padding=kernel // 2)
        self.out = output_activation(shape.bounded_output)

    def forward(self, x: torch.Tensor, subject: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, L, n_inputs) -> (B, L, n_outputs); L <= the window length it was built for."""
        length = x.shape[1]
        h = self.embed(self.condition(x, subject).transpose(1, 2)).transpose(1, 2)[:, :length]
        h = self.encoder(h + self.positions[:length].to(h.dtype))
        y = self.decode(h.transpose(1, 2)).transpose(1, 2)[:, :length]
        return self.out(y)
