"""The shared sEMG chain (musclekit.emg) against independent scipy computations."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from musclekit import emg
from musclekit.errors import InputError

RATE = 2000.0


def _raw_bursts(seconds: float = 12.0, channels: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Band-limited noise (like sEMG) whose amplitude follows 1 Hz bursts, plus a DC offset
    and slow electrode drift that the chain must remove; (T, C) in V."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * RATE)) / RATE
    carrier = signal.sosfilt(signal.butter(2, [30, 300], "bandpass", fs=RATE, output="sos"),
                             rng.standard_normal((t.size, channels)), axis=0)
    amp = 0.2 + np.clip(np.sin(2 * np.pi * 1.0 * t[:, None] + np.arange(channels)), 0, None) ** 2
    drift = 2e-4 * np.sin(2 * np.pi * 0.3 * t)[:, None]
    return t, 1e-3 * carrier * amp + 5e-3 + drift


def _reference_envelope(x: np.ndarray) -> np.ndarray:
    """The field's chain written out with scipy calls, independently of musclekit.emg."""
    centred = signal.detrend(x, axis=0, type="constant")
    band = signal.butter(4, [20.0, 450.0], btype="bandpass", fs=RATE, output="sos")
    rect = np.abs(signal.sosfiltfilt(band, centred, axis=0))
    low = signal.butter(4, 6.0, btype="lowpass", fs=RATE, output="sos")
    return signal.sosfiltfilt(low, rect, axis=0)


def test_envelope_matches_an_independent_scipy_chain_within_1_percent():
    _, x = _raw_bursts()
    ours = emg.envelope(x, RATE, emg.EmgProcessing())
    ref = _reference_envelope(x)
    inner = slice(int(RATE), -int(RATE))  # filter start-up transients differ by edge padding
    err = np.abs(ours[inner] - ref[inner]).max(axis=0) / ref[inner].max(axis=0)
    assert np.all(err < 0.01), err
    # and it is an envelope of the bursts: high in a burst, low between them
    assert ours[inner].max() > 3 * ours[inner].min()


def test_envelope_on_a_grid_matches_reference_then_scipy_decimation_within_1_percent():
    _, x = _raw_bursts()
    grid = np.arange(0.0, 11.9, 0.1)  # 10 Hz, sample k at k / 10 s like scipy's decimation
    ours = emg.envelope_on_grid(x, RATE, 0.0, grid, emg.EmgProcessing())
    ref = signal.resample_poly(_reference_envelope(x), 1, 200, axis=0)[: grid.size]
    inner = slice(10, -10)
    err = np.abs(ours[inner] - ref[inner]).max(axis=0) / ref[inner].max(axis=0)
    assert np.all(err < 0.01), err


def test_grid_times_between_samples_and_outside_the_record():
    _, x = _raw_bursts(seconds=6.0, channels=1)
    grid = np.arange(-0.5, 7.0, 0.1) + 0.037  # grid not aligned with the samples
    out = emg.envelope_on_grid(x[:, 0], RATE, 0.0, grid)
    assert out.shape == grid.shape
    assert np.isnan(out[grid < 0]).all() and np.isnan(out[grid > 6.0]).all()
    full = emg.envelope(x[:, 0], RATE)
    t = np.arange(full.size) / RATE
    inner = (grid > 1.0) & (grid < 5.0)
    # anti-aliased values sit close to the envelope itself where it changes slowly
    err = np.abs(out[inner] - np.interp(grid[inner], t, full)) / full.max()
    assert np.median(err) < 0.02


def test_resampling_removes_what_would_alias_and_keeps_the_rest():
    rate = 1000.0
    t = np.arange(int(20 * rate)) / rate
    grid = np.arange(0.0, 19.9, 0.1)
    slow = emg.resample_to_grid(np.sin(2 * np.pi * 1.0 * t), rate, 0.0, grid)
    fast = emg.resample_to_grid(np.sin(2 * np.pi * 8.0 * t), rate, 0.0, grid)
    inner = slice(20, -20)
    assert np.allclose(slow[inner], np.sin(2 * np.pi * 1.0 * grid[inner]), atol=0.01)
    # 8 Hz on a 10 Hz grid would alias to 2 Hz at full amplitude if sampled naively
    assert np.abs(np.sin(2 * np.pi * 8.0 * grid[inner])).max() > 0.9
    assert np.abs(fast[inner]).max() < 0.05


def test_notch_removes_mains_hum():
    _, x = _raw_bursts(channels=1)
    t = np.arange(x.shape[0]) / RATE
    hum = x[:, 0] + 2e-3 * np.sin(2 * np.pi * 50.0 * t)
    with_notch = emg.conditioned(hum, RATE, emg.EmgProcessing(notch_hz=50.0))
    without = emg.conditioned(hum, RATE, emg.EmgProcessing())
    f, p_with = signal.welch(with_notch, fs=RATE, nperseg=4000)
    _, p_without = signal.welch(without, fs=RATE, nperseg=4000)
    at50 = np.argmin(np.abs(f - 50.0))
    assert p_with[at50] < p_without[at50] / 100  # more than 20 dB down


def test_classify_raw_and_envelopes():
    _, x = _raw_bursts(channels=1)
    raw = emg.classify_kind(x[:, 0], RATE)
    assert raw.kind == "raw" and "above 20 Hz: raw sEMG" in raw.reason
    env = emg.envelope(x[:, 0], RATE)
    # an envelope exported at a raw-like rate (e.g. an RMS export at 1 kHz) is recognised by content
    smooth = emg.classify_kind(env[::2], 1000.0)
    assert smooth.kind == "envelope" and "a smooth curve" in smooth.reason
    slow = emg.classify_kind(env[::200], 10.0)
    assert slow.kind == "envelope" and "too slow for raw sEMG" in slow.reason
    rng = np.random.default_rng(1)  # a Myo armband: 200 Hz signed int8
    myo = np.clip(np.round(rng.standard_normal(4000) * 20), -128, 127)
    assert emg.classify_kind(myo, 200.0).kind == "raw"


def test_rate_too_low_for_the_band_pass_names_the_fix():
    with pytest.raises(InputError) as err:
        emg.envelope(np.random.default_rng(0).standard_normal(4000), 200.0)
    msg = str(err.value)
    assert "sampled at 200 Hz" in msg and "Nyquist frequency (100 Hz)" in msg
    assert "--emg-band 20,95" in msg
    with pytest.raises(InputError, match="pass --emg-kind envelope"):
        emg.EmgProcessing().check_rate(30.0)


@pytest.mark.parametrize("kwargs, message", [
    ({"band_hz": (450.0, 20.0)}, "--emg-band 450,20: the band-pass needs 0 < low < high"),
    ({"envelope_hz": 0.0}, "--emg-envelope-hz 0: the envelope cut-off must be positive"),
    ({"notch_hz": -50.0}, "--emg-notch -50: the mains frequency must be positive"),
    ({"order": 12}, "filter order 12: use 1..8"),
])
def test_bad_processing_parameters(kwargs, message):
    with pytest.raises(InputError, match=message):
        emg.EmgProcessing(**kwargs)


def test_too_short_for_the_filters():
    with pytest.raises(InputError, match="only 20 samples: too short for a zero-lag filter"):
        emg.envelope(np.random.default_rng(0).standard_normal(20), RATE)


def test_normalisation():
    env = np.array([[0.0, 1.0], [2.0, 4.0], [1.0, np.nan]])
    peak = emg.normalise_peak(env)
    assert np.allclose(peak[:, 0], [0.0, 1.0, 0.5]) and np.allclose(peak[:2, 1], [0.25, 1.0])
    assert np.allclose(emg.normalise_to(env[:2], np.array([2.0, 4.0])), [[0, 0.25], [1, 1]])
    with pytest.raises(InputError, match=r"one positive reference per channel \(2\), got \[1.0, 0.0\]"):
        emg.normalise_to(env, np.array([1.0, 0.0]))


def test_export_to_mne():
    pytest.importorskip("mne", reason="mne is an optional dependency (musclekit[emg])")
    _, x = _raw_bursts(seconds=2.0, channels=2)
    raw = emg.to_mne_raw(x, RATE, ["TA", "SOL"])
    assert raw.info["sfreq"] == RATE and raw.ch_names == ["TA", "SOL"]
    assert raw.get_channel_types() == ["emg", "emg"]
    assert np.allclose(raw.get_data().T, x)
