"""Real raw EMG (Rajagopal et al. 2016 walking trial, Cortex .anc at 2000 Hz): the shared
chain must show the textbook gait bursts. Reads ../shared/data by path; skips without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit import emg
from musclekit.pipelines.align.emg_csv import EmgCsvOptions
from musclekit.pipelines.align.emg_files import read_recording

ANC = Path(__file__).resolve().parents[2] / "shared" / "data" / "rajagopal2016" / "ExpData" / "emg_walk_raw.anc"
# Right heel strikes of this trial, from the reference pipeline's own EMG plots (README there).
HEEL_STRIKES_S = (0.248, 1.3925)

pytestmark = pytest.mark.skipif(not ANC.is_file(), reason=f"real data not present: {ANC} "
                                "(the shared Rajagopal 2016 folder is not part of a clone)")


@pytest.fixture(scope="module")
def cycle():
    rec = read_recording(ANC, EmgCsvOptions(start="2016-01-01T00:00:00Z"))
    x = np.column_stack([ch.values for ch in rec.channels])
    rate = 1.0 / rec.sample_period_s
    env = emg.normalise_peak(emg.envelope(x, rate))
    t = (rec.channels[0].time_ns - rec.channels[0].time_ns[0]) / 1e9
    hs0, hs1 = HEEL_STRIKES_S
    inside = (t >= hs0) & (t <= hs1)
    pct = (t[inside] - hs0) / (hs1 - hs0) * 100.0
    return rec, pct, {name: env[inside, j] for j, name in enumerate(rec.channel_names)}


def test_reader_finds_the_ten_muscles_and_the_force_plate_channels(cycle):
    rec, _, _ = cycle
    assert rec.channel_names == ["SOL", "GAS", "TA", "MH", "BF", "VL", "VM", "RF", "GMAX", "GMED"]
    assert [ch.name for ch in rec.of_kind("other")][:3] == ["F1X", "F1Y", "F1Z"]
    assert all(ch.unit == "V" and ch.declared_rate_hz == 2000.0 for ch in rec.channels)
    assert all(emg.classify_kind(ch.values, 2000.0).kind == "raw" for ch in rec.channels)


def _mean(env, pct, lo, hi):
    return float(env[(pct >= lo) & (pct < hi)].mean())


def test_envelopes_show_the_textbook_gait_bursts(cycle):
    _, pct, env = cycle
    # plantarflexors: late stance push-off, quiet around heel strike
    for name in ("SOL", "GAS"):
        assert 35 <= pct[np.argmax(env[name])] <= 60, name
        assert _mean(env[name], pct, 40, 60) > 3 * _mean(env[name], pct, 85, 100), name
    # tibialis anterior: at heel strike (controls the foot down) and again in late swing
    assert pct[np.argmax(env["TA"])] < 12
    assert _mean(env["TA"], pct, 0, 12) > 5 * _mean(env["TA"], pct, 35, 55)
    assert _mean(env["TA"], pct, 85, 100) > 3 * _mean(env["TA"], pct, 35, 55)
    # vasti and gluteus maximus: loading response right after heel strike
    for name in ("VL", "VM", "GMAX"):
        assert 5 <= pct[np.argmax(env[name])] <= 20, name
