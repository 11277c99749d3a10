"""benchmarks/corpus_timing.py's pieces: the heel's landing against a plate's onset, a
plate's character (baseline, power above 30 Hz, impact rise), and the corpus C3Ds' clocks."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
timing = load_benchmark("corpus_timing")
CORPUS = ROOT.parent / "shared" / "data" / "corpus"


def _step(land_s: float, onset_s: float, filtered: bool = False):
    """A heel that slows from its swing (0.3 m/s forward at `land_s`, 1 m/s 0.23 s before)
    and comes down onto the floor at `land_s` (its vertical speed turns up there, then it
    rolls forwards a little), markers at 100 Hz; and a plate at 1000 Hz
    whose load jumps at `onset_s` (a heel impact), low-passed at 15 Hz without lag when
    `filtered` (as a lab's exported .mot)."""
    from scipy.signal import butter, filtfilt

    t = np.arange(0, 2.0, 0.01)
    d = t - land_s
    x = np.where(d < 0, 0.3 * d - 1.5 * d ** 2, 0.009 * (1 - np.exp(-d / 0.03)))
    y = 0.03 + np.where(d < 0, 0.5 * d ** 2, 0.05 * d ** 2)
    heel = np.column_stack([x, y, np.zeros_like(t)])
    tp = np.arange(0, 2.0, 0.001)
    load = np.where(tp >= onset_s, 700.0, 0.0)
    if filtered:
        b, a = butter(2, 15.0 / 500.0)
        load = filtfilt(b, a, load)
    force = np.column_stack([np.zeros_like(tp), load, np.zeros_like(tp)])
    cop = np.zeros((len(tp), 3))
    return t, heel, timing.Plate(1, tp, force, cop, load.copy())


def _landing(land_s: float, onset_s: float, filtered: bool = False) -> dict:
    t, heel, plate = _step(land_s, onset_s, filtered)
    far = heel + [0.0, 0.0, 3.0]  # the other foot, far from the plate's centre of pressure
    rows = timing.heel_landings(t, {"right": heel, "left": far}, 100.0, [plate])
    assert len(rows) == 1 and rows[0]["side"] == "right"
    return rows[0]


def test_heel_landing_against_a_raw_plate():
    # the heel's vertical speed turns up within a frame or so of its landing (the 20 Hz
    # smoothing of the corner), and a plate loading 30 ms earlier reads 30 ms more
    on_time = _landing(1.0, 1.0)["heel_landing_minus_onset_ms"]
    assert abs(on_time) < 10.0
    assert _landing(1.0, 0.97)["heel_landing_minus_onset_ms"] == pytest.approx(on_time + 30.0,
                                                                               abs=1.0)


def test_a_filtered_plate_loads_before_the_heel_lands():
    # The same landing: the plate's 20 N comes early once its impact is smeared by a
    # low-pass filter without lag, and its impact rise lengthens
    on_time = _landing(1.0, 1.0)["heel_landing_minus_onset_ms"]
    assert _landing(1.0, 1.0, filtered=True)["heel_landing_minus_onset_ms"] > on_time + 10.0
    raw = timing.plate_character(_step(1.0, 1.0)[2])
    smooth = timing.plate_character(_step(1.0, 1.0, filtered=True)[2])
    assert smooth["power_above_30_hz"] < 0.1 * raw["power_above_30_hz"]
    assert smooth["rise_20_to_200_n_ms"][0] > 10.0 > raw["rise_20_to_200_n_ms"][0]


def test_plate_baseline_is_the_quiet_median():
    _, _, plate = _step(1.0, 1.0)
    plate.raw_vertical = plate.raw_vertical - 19.9
    assert timing.plate_character(plate)["baseline_n"] == pytest.approx(-19.9)


def test_corpus_pig_clock():
    path = CORPUS / "btk_pig" / "walk.c3d"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared corpus is not laid out beside this checkout)")
    clock = timing.c3d_clock(path)
    assert clock["first_frame"] == 724 and clock["samples_per_frame"] == 10.0
    assert clock["analog_starts_with_first_frame"]
    assert clock["analog_samples_equal_frames_x_ratio"]
    # Nexus's foot strikes on the plates are the plates' own 20 N onsets, to a frame
    _, _, _, plates = timing.read_trial(timing.TRIALS[1], CORPUS.parent)
    offsets = timing.event_offsets(clock["events"], plates)
    assert len(offsets) == 3 and max(abs(d) for d in offsets) <= 10.0


def test_corpus_workstation_events_flattened():
    """Vicon Workstation's EVENT:TIMES reach ezc3d flattened to (minutes, seconds) pairs and
    carry no LABELS (ICON_IDS 1: foot strike): its strikes on the plates are read too, each
    within a 120 Hz frame after the plate's 20 N onset."""
    path = CORPUS / "btk_functional" / "walk.c3d"
    if not path.exists():
        pytest.skip(f"{path} is absent (the shared corpus is not laid out beside this checkout)")
    clock = timing.c3d_clock(path)
    strikes = [e for e in clock["events"] if e[1] == "Foot Strike"]
    assert len(strikes) == 6 and strikes[0][:2] == ("Left", "Foot Strike")
    assert strikes[0][2] == pytest.approx(5.05, abs=1e-6)
    _, _, _, plates = timing.read_trial(timing.TRIALS[2], CORPUS.parent)
    offsets = timing.event_offsets(clock["events"], plates)
    assert len(offsets) == 3 and all(0.0 <= d <= 1000 / 120 for d in offsets)


def test_touch_downs_keyed_moves_each_touch_down_to_the_given_frame():
    """Inside touch_downs_keyed every touch-down but the sequence's first frame goes where the
    move says (never past its lift-off; None keeps it), per side in grf.SIDES order; lift-offs
    stay, and the detection is restored on leaving."""
    from musclekit.pipelines.simulate.dynamics.methods.inverse import grf
    from musclekit.pipelines.simulate.dynamics.methods.inverse.contact_phases import ContactRule

    detect = grf.detect_contact
    above = np.full((100, 1), 0.1)
    above[0:5] = above[20:50] = above[70:90] = 0.0  # three stances, the first at frame 0
    speeds = np.zeros((100, 1))
    asked = []

    def move(side, a):
        asked.append((side, a))
        return {20: 25, 70: 95}.get(a) if side == "right" else None

    with timing.touch_downs_keyed(move):
        right = grf.detect_contact(above, speeds, ContactRule())
        left = grf.detect_contact(above, speeds, ContactRule())
    assert grf.detect_contact is detect
    assert asked == [("right", 20), ("right", 70), ("left", 20), ("left", 70)]
    assert np.array_equal(np.flatnonzero(right), [*range(5), *range(25, 50), 89])
    assert np.array_equal(left, detect(above, speeds, ContactRule()))


def test_heel_keyed_table_names_each_variant():
    row = {"trial": "btk_pig, preset plug-in-gait", "heel_keyed_rmse_bw_pct": {
        "rule": {"right": (6.63, 41.0), "left": (6.12, 28.0), "moved": (0, 0)},
        "heel marker's landing": {"right": (4.97, 13.0), "left": (6.66, 0.0), "moved": (6, 6)}}}
    table = timing.heel_keyed_table([row, {"trial": "other"}]).splitlines()
    assert table[0] == "| touch-down | PiG |"
    assert table[3] == "| heel marker's landing | 4.97 / 6.66 (13 / 0) [6/6] |"
    assert timing.heel_keyed_table([{"trial": "other"}]) == ""
