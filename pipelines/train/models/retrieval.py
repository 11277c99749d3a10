"""Non-learned baselines: MIA's nearest-neighbour retrieval (Retr.), subject-conditional
retrieval (C-Retr.), and a constant predictor (the training mean of every channel).

Retrieval compares whole input windows (normalised, flattened) by Euclidean distance and
returns the target window of the closest training window.
"""

from __future__ import annotations

import numpy as np
import torch


class RetrievalBaseline:
    """Nearest training window by input distance; with `per_subject`, only among windows of
    the same subject (C-Retr.)."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, subjects: np.ndarray,
                 per_subject: bool = False, chunk: int = 512) -> None:
        """inputs (N, L, F) normalised, targets (N, L, M), subjects (N,) int."""
        self.keys = torch.from_numpy(np.ascontiguousarray(inputs.reshape(len(inputs), -1)))
        self.targets = targets
        self.subjects = np.asarray(subjects)
        self.per_subject = per_subject
        self.chunk = chunk

    @property
    def name(self) -> str:
        return "c-retrieval" if self.per_subject else "retrieval"

    def _nearest(self, queries: torch.Tensor, keys: torch.Tensor) -> np.ndarray:
        out = []
        for i in range(0, len(queries), self.chunk):
            out.append(torch.cdist(queries[i : i + self.chunk], keys).argmin(dim=1))
        return torch.cat(out).numpy() if out else np.zeros(0, dtype=np.int64)

    def predict(self, inputs: np.ndarray, subjects: np.ndarray | None = None) -> np.ndarray:
        """inputs (B, L, F) normalised -> target windows (B, L, M)."""
        q = torch.from_numpy(np.ascontiguousarray(inputs.reshape(len(inputs), -1)))
        if not self.per_subject:
            return self.targets[self._nearest(q, self.keys)]
        if subjects is None:
            raise ValueError("subject-conditional retrieval needs the subject of every window")
        found = np.zeros(len(inputs), dtype=np.int64)
        for s in np.unique(subjects):
            rows = np.flatnonzero(subjects == s)
            pool = np.flatnonzero(self.subjects == s)
            if pool.size == 0:
                raise ValueError(f"subject index {s} has no training windows to retrieve from")
            found[rows] = pool[self._nearest(q[rows], self.keys[pool])]
        return self.targets[found]


class ConstantBaseline:
    """Predicts the training mean of every target channel at every frame."""

    name = "constant"

    def __init__(self, target_mean: np.ndarray) -> None:
        self.mean = np.asarray(target_mean, dtype=np.float32)

    def predict(self, inputs: np.ndarray, subjects: np.ndarray | None = None) -> np.ndarray:
        return np.broadcast_to(self.mean, (inputs.shape[0], inputs.shape[1], self.mean.size)).copy()
