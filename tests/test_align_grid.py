"""Grid, nearest frame, sEMG placement, clock map and clips."""

from __future__ import annotations

import numpy as np

from musclekit.pipelines.align.clips import cut_clips
from musclekit.pipelines.align.emg_csv import EmgChannel, EmgRecording
from musclekit.pipelines.align.grid import (
    ClockMap,
    default_frame_tolerance_ns,
    grid_times_ns,
    nearest_frames,
    place_emg,
)
from tests.helpers.align_fixtures import expected_source_frames


def test_grid_times_are_exact_ns():
    g = grid_times_ns(0, 2_000_000_000, 10.0)
    assert g.tolist() == [k * 100_000_000 for k in range(21)]
    g30 = grid_times_ns(0, 10**9, 30000 / 1001)
    assert g30[1] == 33_366_667 and g30[-1] <= 10**9


def test_nearest_frames_match_brute_force_on_vfr():
    rng = np.random.default_rng(3)
    pts = np.arange(600) * 1001
    pts = np.sort(rng.choice(pts, size=520, replace=False))
    pts = pts[(pts < 300 * 1001) | (pts > 307 * 1001)]  # and one long hole
    pts = pts - pts[0]
    frame_ns = np.array([(p * 10**9 * 2 + 30000) // 60000 for p in pts], dtype=np.int64)
    tol = default_frame_tolerance_ns(1001 / 30000, 10.0)
    got = nearest_frames(frame_ns, grid_times_ns(0, int(frame_ns[-1]), 10.0), tol)
    want = expected_source_frames(pts, 1 / 30000, 10.0, tol / 1e9)
    assert got.tolist() == want.tolist()
    assert (got == -1).any()  # some runs of drops leave a grid time without a frame
    used = got[got >= 0]
    assert np.unique(used).size == used.size  # no frame serves two grid times


def test_place_emg_nearest_real_sample_and_gaps():
    t_ns = 10**18 + np.array([0, 100, 200, 300, 1500, 1600], dtype=np.int64) * 10**6
    rec = EmgRecording(path=None, channels=[EmgChannel("a", t_ns, np.arange(6.0), np.arange(6), 0.1)],
                       layout="wide", time_unit="s", assumed_tz=None, header_line=1)
    clock = ClockMap(video_start_ns=10**18, offset_s=0.02)
    grid_s = np.arange(0, 1.7, 0.1)
    placed = place_emg(rec, clock, grid_s, 0.075)
    v = placed.values[:, 0]
    assert v[:3].tolist() == [0.0, 1.0, 2.0]  # sample at 0.1 s (sensor) = 0.08 s video: row 1
    assert np.isnan(v[5:14]).all()  # the dropout stays a gap, nothing is filled in
    assert placed.sample_dt_s[1, 0] == np.float64(-0.02) or abs(placed.sample_dt_s[1, 0] + 0.02) < 1e-9


def test_clock_map_round_trip_with_drift():
    clock = ClockMap(video_start_ns=10**18, offset_s=0.37, drift_s_per_s=50e-6)
    video_s = np.array([0.0, 10.0, 300.0])
    back = clock.to_video_s(clock.to_sensor_ns(video_s))
    assert np.allclose(back, video_s, atol=1e-9)


def test_clips_split_is_seeded_and_twenty_percent():
    complete = np.ones(30 * 50, bool)
    complete[35] = False  # window 1 is incomplete
    clips, left_out = cut_clips(complete, 30, subject="S01", exercise="Squat", sequence_id="x", seed=0)
    again, _ = cut_clips(complete, 30, subject="S01", exercise="Squat", sequence_id="x", seed=0)
    other, _ = cut_clips(complete, 30, subject="S01", exercise="Squat", sequence_id="x", seed=1)
    assert left_out == 1 and len(clips) == 49
    assert clips == again and clips != other
    assert sum(c["split"] == "test" for c in clips) == round(0.2 * 49)
    assert all(c["start_frame"] % 30 == 0 and c["n_frames"] == 30 for c in clips)
    assert 30 not in [c["start_frame"] for c in clips]
