"""MIA clips: cut the aligned grid into fixed windows and split them 80/20, seeded.

Muscles in Action uses 30-frame (3 s at 10 fps) windows and puts a random 20% of each
subject's and exercise's windows in the test split. Windows are consecutive and do not
overlap; a window with more than `max_missing` incomplete rows (no video frame or no sEMG) is
left out. The split is drawn from a generator seeded by (seed, subject, exercise, sequence), so
it is the same on every run and on every worker, whatever the order units finish in.
"""

from __future__ import annotations

import hashlib

import numpy as np


def cut_clips(
    complete: np.ndarray,
    clip_frames: int,
    *,
    subject: str,
    exercise: str,
    sequence_id: str,
    seed: int = 0,
    test_fraction: float = 0.2,
    max_missing: int = 0,
) -> tuple[list[dict], int]:
    """Windows over the grid rows.

    Args:
        complete: (T,) bool, True where the row has a video frame and sEMG.

    Returns:
        (clips, n_left_out): clips as {"start_frame", "n_frames", "split"} dicts in time
        order, and the number of windows left out for missing rows.
    """
    n_windows = complete.size // clip_frames
    kept, left_out = [], 0
    for w in range(n_windows):
        start = w * clip_frames
        missing = int((~complete[start : start + clip_frames]).sum())
        if missing > max_missing:
            left_out += 1
            continue
        kept.append(start)
    key = f"{seed}:{subject}:{exercise}:{sequence_id}".encode()
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(key).digest()[:8], "little"))
    n_test = int(round(test_fraction * len(kept)))
    test = set(rng.choice(len(kept), size=n_test, replace=False).tolist()) if n_test else set()
    clips = [
        {"start_frame": int(start), "n_frames": int(clip_frames), "split": "test" if i in test else "train"}
        for i, start in enumerate(kept)
    ]
    return clips, left_out
