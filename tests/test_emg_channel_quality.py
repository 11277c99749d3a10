"""What a raw sEMG channel holds (musclekit.emg.channel_quality): known answers on synthetic
signals, and the real recordings of two labs (Rajagopal 2016's Cortex .anc, the corpus's
Helen Hayes C3D) through the same chain and channel table. The real-data tests read
../shared/data by path and skip without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit import emg

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
ANC = SHARED / "rajagopal2016" / "ExpData" / "emg_walk_raw.anc"
HELEN_HAYES = SHARED / "corpus" / "btk_helenhayes" / "gait.c3d"


def _noise_band(rng, n: int, rate: float, lo: float, hi: float) -> np.ndarray:
    from scipy import signal

    sos = signal.butter(4, (lo, hi), btype="bandpass", fs=rate, output="sos")
    return signal.sosfiltfilt(sos, rng.normal(0, 1, n))


def test_muscle_like_and_low_frequency_channels_are_told_apart() -> None:
    rng = np.random.default_rng(1)
    rate, n = 2000.0, 8000
    t = np.arange(n) / rate
    burst = np.exp(-0.5 * ((t - 2.0) / 0.2) ** 2)
    muscle = (0.02 + burst) * _noise_band(rng, n, rate, 60, 150)  # sEMG-like spectrum
    wobble = (0.02 + burst) * _noise_band(rng, n, rate, 15, 35)  # soft-tissue / artefact band
    noisy = (1.0 + burst) * _noise_band(rng, n, rate, 60, 150)  # burst barely above its floor
    q_muscle, q_wobble, q_noisy = emg.channel_quality(np.column_stack([muscle, wobble, noisy]), rate)
    assert 60 <= q_muscle.median_frequency_hz <= 150 and q_muscle.low_share < 0.05
    assert q_wobble.median_frequency_hz < 40 and q_wobble.low_share > 0.5
    assert q_muscle.floor_to_peak < 0.1 < 0.2 < q_noisy.floor_to_peak  # 1 / 2 less noise dips
    (flat,) = emg.channel_quality(np.zeros(4000), rate)
    assert np.isnan(flat.median_frequency_hz)
    # mains hum: a 60 Hz line with its harmonics over the same sEMG
    hum = muscle + 0.2 * sum(np.sin(2 * np.pi * f * t) for f in (60, 120, 180))
    q_hum, q_clean = emg.channel_quality(np.column_stack([hum, muscle]), rate)
    assert q_hum.mains_hz == 60.0 and q_hum.mains_share > 0.5
    assert q_clean.mains_share < 0.1


def test_a_slow_device_gets_the_adapted_band_and_a_given_band_it_cannot_carry_is_refused() -> None:
    from musclekit.errors import InputError

    rng = np.random.default_rng(0)
    rate = 250.0  # OpenBCI Cyton: Nyquist 125 Hz, below the default upper edge 450 Hz
    (q,) = emg.channel_quality(_noise_band(rng, 5000, rate, 40, 90), rate)
    assert 40 <= q.median_frequency_hz <= 90
    with pytest.raises(InputError, match="Nyquist frequency"):
        emg.channel_quality(rng.normal(size=2000), rate, emg.EmgProcessing(band_hz=(20, 450)))


@pytest.mark.skipif(not (ANC.is_file() and HELEN_HAYES.is_file()),
                    reason=f"real data not present: {ANC} and {HELEN_HAYES} (shared data)")
def test_two_labs_emg_through_one_chain_and_one_channel_table() -> None:
    from musclekit.pipelines.align.emg_csv import EmgCsvOptions
    from musclekit.pipelines.align.emg_files import read_recording
    from musclekit.pipelines.simulate.dynamics.stage.emg_compare import match_channels
    from musclekit.pipelines.simulate.kinematics.c3d import read_c3d

    rajagopal = ["soleus", "gasmed", "gaslat", "tibant", "semimem", "semiten", "bflh", "bfsh",
                 "vaslat", "vasmed", "recfem", "glmax1", "glmax2", "glmax3", "glmed1", "glmed2",
                 "glmed3"]
    model = [f"{m}_{s}" for m in rajagopal for s in "rl"]
    rec = read_recording(ANC, EmgCsvOptions(start="2016-01-01T00:00:00Z"))
    q = dict(zip([c.name for c in rec.channels], emg.channel_quality(
        np.column_stack([c.values for c in rec.channels]), 1.0 / rec.sample_period_s), strict=True))
    assert set(match_channels(list(q), model, "r")) == set(q)  # every electrode maps
    hh = read_c3d(HELEN_HAYES)
    labels = [k for k in hh.analogs if not k.endswith("GRF")]  # grand fessier: not mapped
    got = match_channels(labels, model, "r")
    assert got["LSOL"] == ["soleus_l"] and got["RISC"] == ["semimem_r", "semiten_r"]
    raw = np.column_stack([hh.analogs[k][1] for k in hh.analogs])
    qh = dict(zip(hh.analogs, emg.channel_quality(raw, hh.analog_rate_hz), strict=True))
    # Both labs: every channel of a leg muscle but gluteus maximus has the sEMG spectrum
    # (median 60-150 Hz, under a quarter of its power below 40 Hz); gluteus maximus (GMAX;
    # the Helen Hayes lab's grand fessier, xGRF) sits lowest, over 40 % below 40 Hz. No
    # channel of either is hum (mains lines under 10 % of the power).
    for name, quality in [*q.items(), *qh.items()]:
        if name in ("GMAX", "LGRF", "RGRF"):
            assert quality.median_frequency_hz < 45 and quality.low_share > 0.4, name
        else:
            assert 60 <= quality.median_frequency_hz <= 150, (name, quality)
            assert quality.low_share < 0.25, (name, quality)
        assert quality.mains_share < 0.1, (name, quality)


OPENBCI = SHARED / "corpus" / "emg" / "openbci_gui_v6.txt"


@pytest.mark.skipif(not OPENBCI.is_file(), reason=f"real data not present: {OPENBCI}")
def test_the_openbci_export_is_mains_hum_until_notched() -> None:
    """The corpus's OpenBCI recording (250 Hz, a US lab): 60 Hz lines hold almost all of each
    channel's power in the default chain, which has no notch; with --emg-notch 60 the
    envelope's floor drops to a few % of its peak (the jaw clenches stand out)."""
    from musclekit.pipelines.align.emg_files import read_recording

    rec = read_recording(OPENBCI)
    rate = 1.0 / rec.sample_period_s
    x = np.column_stack([c.values for c in rec.channels])
    plain = emg.channel_quality(x, rate)
    assert all(c.mains_hz == 60.0 and c.mains_share > 0.9 for c in plain)
    cfg, _ = emg.EmgProcessing(band_auto=True, notch_hz=60.0).for_rate(rate)
    notched = emg.channel_quality(x, rate, cfg)
    assert all(n.floor_to_peak < 0.1 < p.floor_to_peak for n, p in zip(notched, plain,
                                                                       strict=True))
