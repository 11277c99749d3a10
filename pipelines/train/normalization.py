"""Per-feature normalisation statistics, computed on training frames only."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MIN_STD = 1e-6  # a constant feature keeps unit scale instead of dividing by zero


@dataclass
class Normalizer:
    """z = (x - mean) / std per feature; identity where `enabled` is False."""

    mean: np.ndarray
    std: np.ndarray
    enabled: bool = True

    @classmethod
    def fit(cls, frames: np.ndarray, rows: np.ndarray, enabled: bool = True) -> Normalizer:
        """Statistics of frames[rows] (rows: bool mask or indices of training frames)."""
        x = frames[rows].astype(np.float64)
        if x.shape[0] == 0:
            raise ValueError("no training frames to compute normalisation statistics from")
        mean = x.mean(axis=0)
        std = np.maximum(x.std(axis=0), MIN_STD)
        return cls(mean.astype(np.float32), std.astype(np.float32), enabled)

    @classmethod
    def identity(cls, n_features: int) -> Normalizer:
        return cls(np.zeros(n_features, np.float32), np.ones(n_features, np.float32), False)

    def apply(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.std).astype(np.float32) if self.enabled else x

    def invert(self, z: np.ndarray) -> np.ndarray:
        return (z * self.std + self.mean).astype(np.float32) if self.enabled else z

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "enabled": self.enabled}

    @classmethod
    def from_dict(cls, d: dict) -> Normalizer:
        return cls(np.asarray(d["mean"], np.float32), np.asarray(d["std"], np.float32),
                   bool(d["enabled"]))
