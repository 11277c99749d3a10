"""The torch Dataset of fixed-length windows, served from pre-stacked frame tensors.

Frames are normalised once and kept as two contiguous tensors; a batch of windows is one
gather through a strided (unfolded) view, so no per-window Python work or pandas is involved.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch.utils.data import Dataset


def _finite(frames: np.ndarray) -> np.ndarray:
    """float32 frames with NaN replaced by 0, copied only when there is NaN to replace."""
    frames = frames.astype(np.float32, copy=False)
    return np.nan_to_num(frames) if np.isnan(frames).any() else frames


class WindowDataset(Dataset):
    """Windows of `window_frames` frames starting at `starts` (global frame indices).

    inputs (N, F) and targets (N, M) are normalised float32 frames; subjects (N,) int64 is
    the subject index of each frame's sequence. Item i is (x (L, F), y (L, M), subject ()).
    """

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, subjects: np.ndarray,
                 starts: np.ndarray, window_frames: int) -> None:
        self.window_frames = window_frames
        # NaN frames are never inside a window; zero them so a stray gather cannot poison
        # a batch with NaN.
        self.inputs = torch.from_numpy(_finite(inputs))
        self.targets = torch.from_numpy(_finite(targets))
        self.subjects = torch.from_numpy(np.asarray(subjects, dtype=np.int64))
        self.starts = torch.from_numpy(np.asarray(starts, dtype=np.int64))
        # (N - L + 1, F, L) views: row s is the window starting at frame s.
        self._x_windows = self.inputs.unfold(0, window_frames, 1)
        self._y_windows = self.targets.unfold(0, window_frames, 1)

    def to(self, device: torch.device) -> WindowDataset:
        """Move the frames to `device` (e.g. the GPU, so batches are gathered there)."""
        for name in ("inputs", "targets", "subjects", "starts"):
            setattr(self, name, getattr(self, name).to(device))
        self._x_windows = self.inputs.unfold(0, self.window_frames, 1)
        self._y_windows = self.targets.unfold(0, self.window_frames, 1)
        return self

    def __len__(self) -> int:
        return int(self.starts.numel())

    def batch(self, index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Windows number `index` (B,) -> x (B, L, F), y (B, L, M), subject (B,)."""
        s = self.starts[index.to(self.starts.device)]
        x = self._x_windows[s].transpose(1, 2)
        y = self._y_windows[s].transpose(1, 2)
        return x.contiguous(), y.contiguous(), self.subjects[s]

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        x, y, subj = self.batch(torch.tensor([i]))
        return x[0], y[0], subj[0]

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # torch's DataLoader calls this with a whole batch of indices when it exists.
        return self.batch(torch.as_tensor(indices, dtype=torch.int64))

    def batches(self, batch_size: int, shuffle: bool, generator: torch.Generator | None = None,
                drop_last: bool = False) -> Iterator[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """One pass over the windows in batches (seeded shuffling through `generator`)."""
        n = len(self)
        order = torch.randperm(n, generator=generator) if shuffle else torch.arange(n)
        stop = n - (n % batch_size) if drop_last else n
        for i in range(0, stop, batch_size):
            yield self.batch(order[i : i + batch_size])
