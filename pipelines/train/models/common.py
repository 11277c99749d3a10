"""Pieces every model shares: options, subject conditioning and the output head."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class ModelShape:
    """What a model must map: (B, L, n_inputs) windows to (B, L, n_outputs)."""

    n_inputs: int
    n_outputs: int
    window_frames: int
    n_subjects: int = 0  # > 0 turns on subject conditioning
    bounded_output: bool = False  # sigmoid output in [0, 1] (muscle activations)


@dataclass(frozen=True)
class ModelOptions:
    """Size knobs; None means the model's own default (see each model file)."""

    width: int | None = None
    layers: int | None = None
    heads: int | None = None
    kernel_frames: int | None = None
    dropout: float = 0.1


class SubjectConditioning(nn.Module):
    """MIA's conditional variant: a learned 2-vector per subject appended to every frame.

    Appending at the model input keeps the rest of each architecture unchanged.
    """

    SUBJECT_DIM = 2

    def __init__(self, n_subjects: int) -> None:
        super().__init__()
        self.enabled = n_subjects > 0
        self.table = nn.Embedding(max(n_subjects, 1), self.SUBJECT_DIM) if self.enabled else None

    @property
    def extra_features(self) -> int:
        return self.SUBJECT_DIM if self.enabled else 0

    def forward(self, x: torch.Tensor, subject: torch.Tensor | None) -> torch.Tensor:
        if not self.enabled:
            return x
        if subject is None:
            raise ValueError("this model is subject-conditioned: pass subject indices")
        vec = self.table(subject)[:, None, :].expand(-1, x.shape[1], -1).to(x.dtype)
        return torch.cat([x, vec], dim=-1)


def output_activation(bounded: bool) -> nn.Module:
    """Sigmoid for activations (targets in [0, 1]); identity for unbounded targets."""
    return nn.Sigmoid() if bounded else nn.Identity()


def sinusoidal_positions(length: int, width: int) -> torch.Tensor:
    """(length, width) fixed sine/cosine position codes (Vaswani et al.)."""
    pos = torch.arange(length, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, width, 2, dtype=torch.float32) * (-math.log(1e4) / width))
    codes = torch.zeros(length, width)
    codes[:, 0::2] = torch.sin(pos * freq)
    codes[:, 1::2] = torch.cos(pos * freq[: width // 2])
    return codes


def transformer_encoder(width: int, layers: int, heads: int, dropout: float) -> nn.Module:
    """A stack of standard pre-norm encoder layers over (B, L, width), no masking."""
    if width % heads:
        from musclekit.errors import InputError

        fits = [h for h in range(1, min(width, 32) + 1) if width % h == 0 and h <= heads * 2]
        raise InputError(f"--width {width} is not divisible by --heads {heads} (each head gets "
                         f"width/heads channels): give --heads {fits[-1]} (heads dividing "
                         f"{width}: {', '.join(map(str, fits))}) or a --width that "
                         f"{heads} divides, e.g. --width {heads * max(1, width // heads)}")
    layer = nn.TransformerEncoderLayer(
        d_model=width, nhead=heads, dim_feedforward=2 * width, dropout=dropout,
        batch_first=True, norm_first=True,
    )
    return nn.TransformerEncoder(layer, num_layers=layers, enable_nested_tensor=False)
