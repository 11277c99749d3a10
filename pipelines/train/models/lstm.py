"""Recurrent baseline: a bidirectional LSTM over the window, then a linear head per frame."""

from __future__ import annotations

import torch
from torch import nn

from musclekit.pipelines.train.models.common import (
    ModelOptions,
    ModelShape,
    SubjectConditioning,
    output_activation,
)

DEFAULTS = ModelOptions(width=128, layers=2)


class LSTMModel(nn.Module):
    def __init__(self, shape: ModelShape, options: ModelOptions) -> None:
        super().__init__()
        width = options.width or DEFAULTS.width
        layers = options.layers or DEFAULTS.layers
        self.condition = SubjectConditioning(shape.n_subjects)
        self.rnn = nn.LSTM(shape.n_inputs + self.condition.extra_features, width,
                           num_layers=layers, batch_first=True, bidirectional=True,
                           dropout=options.dropout if layers > 1 else 0.0)
        self.head = nn.Linear(2 * width, shape.n_outputs)
        self.out = output_activation(shape.bounded_output)

    def forward(self, x: torch.Tensor, subject: torch.Tensor | None = None) -> torch.Tensor:
        """x: (B, L, n_inputs) -> (B, L, n_outputs)."""
        h, _ = self.rnn(self.condition(x, subject))
        return self.out(self.head(h))
