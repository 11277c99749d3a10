"""Metrics against values computed by hand on tiny arrays."""

import math

import numpy as np
import pytest

from musclekit.pipelines.train import metrics


def test_rmse_over_everything():
    pred = np.array([[[1.0, 2.0], [3.0, 4.0]]])  # (1 sample, 2 frames, 2 channels)
    true = np.array([[[0.0, 2.0], [3.0, 2.0]]])
    # squared errors 1, 0, 0, 4 -> mean 5/4
    assert metrics.rmse(pred, true) == pytest.approx(math.sqrt(1.25))


def test_pcc_per_sample_and_channel_then_averaged():
    t = np.array([1.0, 2.0, 3.0])
    true = np.stack([np.stack([t, t], -1), np.stack([t, t], -1)])  # (2, 3, 2)
    pred = true.copy()
    pred[0, :, 1] = -t  # r = -1
    pred[1, :, 0] = [1.0, 3.0, 2.0]  # r = 0.5 by hand: dx=(-1,1,0), dy=(-1,0,1) -> 1/2
    r = metrics.pcc_per_sample_channel(pred, true)
    np.testing.assert_allclose(r, [[1.0, -1.0], [0.5, 1.0]])
    assert metrics.pcc(pred, true) == pytest.approx((1 - 1 + 0.5 + 1) / 4)


def test_pcc_ignores_constant_curves():
    true = np.array([[[1.0], [1.0], [1.0]], [[1.0], [2.0], [3.0]]])
    pred = np.array([[[0.0], [1.0], [2.0]], [[2.0], [4.0], [6.0]]])
    r = metrics.pcc_per_sample_channel(pred, true)
    assert math.isnan(r[0, 0]) and r[1, 0] == pytest.approx(1.0)
    assert metrics.pcc(pred, true) == pytest.approx(1.0)


def test_smape_per_channel_with_epsilon():
    pred = np.array([[[1.0, 0.0], [3.0, 0.0]]])
    true = np.array([[[3.0, 0.0], [3.0, 2.0]]])
    # channel 0: |1-3|/2 = 1, 0 -> mean 0.5 -> 50 %
    # channel 1: 0/(0+1e-8) = 0, |0-2|/(1) = 2 -> mean 1 -> 100 %
    np.testing.assert_allclose(metrics.smape_per_channel(pred, true), [50.0, 100.0])
    assert metrics.smape(pred, true) == pytest.approx(75.0)


def test_shape_mismatch_is_refused():
    with pytest.raises(ValueError, match=r"\(S, L, C\)"):
        metrics.rmse(np.zeros((2, 3, 1)), np.zeros((2, 3, 2)))


def test_lai_arnold_subsets():
    assert len(metrics.LAI_ARNOLD_LOWER_BODY_8) == 8
    assert len(metrics.LAI_ARNOLD_LOWER_BODY_16) == 16
    assert "glmed1_l" in metrics.LAI_ARNOLD_LOWER_BODY_8
    assert "tibant_r" in metrics.LAI_ARNOLD_LOWER_BODY_16
    chans = ["LU_" + m for m in reversed(metrics.LAI_ARNOLD_LOWER_BODY_8)] + ["x"]
    idx = metrics.subset_channels(chans, metrics.LAI_ARNOLD_LOWER_BODY_8)
    assert [chans[i][3:] for i in idx] == list(metrics.LAI_ARNOLD_LOWER_BODY_8)
    assert metrics.subset_channels(chans, metrics.LAI_ARNOLD_LOWER_BODY_16) is None
