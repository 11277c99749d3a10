"""Window index logic, resampling and the torch window dataset on plain arrays."""

import numpy as np
import torch

from musclekit.pipelines.train.loader import WindowDataset
from musclekit.pipelines.train.predict import covering_starts
from musclekit.pipelines.train.windows import (
    common_grid,
    gather_windows,
    longest_run,
    non_overlapping,
    resample_to_grid,
    valid_window_starts,
    with_stride,
)


def test_windows_never_cross_gaps_or_sequences():
    valid = np.ones(20, bool)
    valid[7] = False
    seq = np.array([0] * 12 + [1] * 8)
    starts = valid_window_starts(valid, seq, 4)
    # sequence 0: frames 0..6 (window starts 0..3), 8..11 (start 8); sequence 1: 12..19
    assert starts.tolist() == [0, 1, 2, 3, 8, 12, 13, 14, 15, 16]
    for s in starts:
        assert valid[s:s + 4].all() and seq[s] == seq[s + 3]


def test_windows_on_random_gaps_are_all_clean():
    rng = np.random.default_rng(3)
    valid = rng.uniform(size=5000) > 0.05
    seq = np.sort(rng.integers(0, 20, 5000))
    starts = valid_window_starts(valid, seq, 10)
    assert starts.size > 0
    idx = starts[:, None] + np.arange(10)
    assert valid[idx].all() and (seq[idx] == seq[starts][:, None]).all()
    # and every clean window was found
    brute = [s for s in range(4991) if valid[s:s + 10].all() and seq[s] == seq[s + 9]]
    assert starts.tolist() == brute


def test_no_window_when_longer_than_data():
    assert valid_window_starts(np.ones(5, bool), np.zeros(5, int), 6).size == 0


def test_stride_non_overlapping_and_cover():
    starts = np.array([0, 1, 2, 3, 4, 5, 10, 11, 12])
    assert with_stride(starts, 2).tolist() == [0, 2, 4, 10, 12]
    assert non_overlapping(starts, 3).tolist() == [0, 3, 10]
    valid = np.ones(13, bool)
    valid[8] = False
    cover = covering_starts(valid, np.zeros(13, int), 3)
    # stretch 0..7 covered by 0, 3 and the end-aligned 5; stretch 9..12 by 9 and 10
    assert cover.tolist() == [0, 3, 5, 9, 10]


def test_longest_run_respects_sequences():
    valid = np.array([1, 1, 0, 0, 1, 1, 1, 1], bool)
    assert longest_run(valid, np.zeros(8, int)) == 4
    assert longest_run(valid, np.array([0, 0, 0, 0, 0, 0, 1, 1])) == 2


def test_resample_identity_on_own_grid():
    t = np.arange(10) / 10.0
    v = np.arange(20, dtype=np.float32).reshape(10, 2)
    valid = np.ones(10, bool)
    out, ok = resample_to_grid(t, v, valid, t.copy(), 0.15)
    np.testing.assert_array_equal(out, v)
    assert ok.all()


def test_resample_interpolates_and_never_bridges_gaps():
    t = np.arange(10) / 40.0  # 40 Hz
    v = (t * 100).astype(np.float32)[:, None]
    valid = np.ones(10, bool)
    valid[4] = False
    grid = common_grid([0.0], [t[-1]], 20.0)  # 0, 0.05, ..., 0.2
    out, ok = resample_to_grid(t, v, valid, grid + 0.0125, 1.5 / 40)
    # grid+0.0125 lies between source frames: frames touching index 4 are invalid
    bracket = [(int(np.floor(g * 40)), int(np.floor(g * 40)) + 1) for g in grid + 0.0125]
    expected_ok = [a < 9 and valid[a] and valid[b] for a, b in bracket]
    assert ok.tolist() == expected_ok
    np.testing.assert_allclose(out[ok, 0], ((grid + 0.0125) * 100)[ok], rtol=1e-5)
    assert np.isnan(out[~ok]).all()


def test_resample_refuses_holes_between_rows():
    t = np.array([0.0, 0.1, 0.2, 0.6, 0.7])  # rows missing between 0.2 and 0.6
    v = np.ones((5, 1), np.float32)
    out, ok = resample_to_grid(t, v, np.ones(5, bool), np.array([0.1, 0.4, 0.65]), 0.15)
    assert ok.tolist() == [True, False, True]


def test_window_dataset_batches_match_gather():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 3)).astype(np.float32)
    y = rng.uniform(size=(100, 2)).astype(np.float32)
    subj = np.repeat([0, 1], 50)
    starts = np.array([0, 5, 47, 60, 90])
    ds = WindowDataset(x, y, subj, starts, 10)
    xb, yb, sb = ds.batch(torch.tensor([2, 4, 0]))
    np.testing.assert_array_equal(xb.numpy(), gather_windows(x, starts[[2, 4, 0]], 10))
    np.testing.assert_array_equal(yb.numpy(), gather_windows(y, starts[[2, 4, 0]], 10))
    assert sb.tolist() == [0, 1, 0]
    item = ds[3]
    np.testing.assert_array_equal(item[0].numpy(), x[60:70])
    seen = torch.cat([b[2] for b in ds.batches(2, shuffle=True,
                                               generator=torch.Generator().manual_seed(1))])
    assert len(seen) == 5
    loader = torch.utils.data.DataLoader(ds, batch_size=4, collate_fn=lambda b: b)
    first = next(iter(loader))
    assert first[0].shape == (4, 10, 3)
