"""The align QC figure stays readable: small multiples for many channels, every line in the
legend, and a sentence in a panel that has nothing to draw."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from musclekit.pipelines.align import qc  # noqa: E402


def _inputs(n_channels: int, corr: bool = True) -> dict:
    t = np.arange(0, 12, 0.1)
    emg = np.abs(np.sin(t[:, None] + np.arange(n_channels))) + 0.1
    emg[50:60] = np.nan
    lags = np.arange(-2, 2.001, 0.02)
    return dict(
        title="S01: ok", grid_s=t, emg=emg, channels=[f"ch{j}" for j in range(n_channels)],
        frame_missing=np.zeros(t.size, bool), motion_t_s=t, motion=np.abs(np.sin(t)),
        lags_s=lags if corr else np.empty(0), corr=np.cos(lags) if corr else np.empty(0),
        offset_ts_s=0.0, chosen_lag_s=0.1 if corr else float("nan"), applied=corr,
        intervals_s=np.full(100, 0.1), drift_t_s=[], drift_lag_s=[], drift_line=None,
        refine_reason="" if corr else "refinement disabled (--no-refine)",
        drift_reason="not estimated: 12 s of overlap, needs 120 s", emd_s=0.05,
    )


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts]


def _legend(fig) -> list[str]:
    return [t.get_text() for leg in fig.legends for t in leg.get_texts()]


def test_sixteen_channels_become_small_multiples_with_one_legend():
    fig = qc.figure(**_inputs(16))
    try:
        titles = [ax.get_title() for ax in fig.axes]
        assert all(f"ch{j}" in titles for j in range(16))
        assert len(fig.axes) == 16 + 3  # one panel per channel + correlation, jitter, drift
        legend = _legend(fig)
        assert "motion energy (scaled per panel)" in legend and "sEMG gap" in legend
        assert len(legend) == 3  # not one entry per channel: the channel is in each title
    finally:
        plt.close(fig)


def test_few_channels_share_a_panel_and_the_legend_has_every_line():
    fig = qc.figure(**_inputs(3))
    try:
        assert _legend(fig) == ["ch0", "ch1", "ch2", "motion energy", "sEMG gap"]
        corr_legend = [t.get_text() for t in fig.axes[2].get_legend().get_texts()]
        assert "offset = peak + 50 ms EMD" in corr_legend
    finally:
        plt.close(fig)


@pytest.mark.parametrize("n_channels", [3, 16])
def test_skipped_panels_say_why(n_channels):
    fig = qc.figure(**_inputs(n_channels, corr=False))
    try:
        texts = " ".join(" ".join(_texts(fig)).split())
        assert "offset refinement skipped: refinement disabled (--no-refine)" in texts
        assert "drift: not estimated: 12 s of overlap, needs 120 s" in texts
    finally:
        plt.close(fig)
