"""`musclekit align` end to end on generated captures: accuracy, exact frames, gaps, clips,
QC, resume, sessions, and every bad input with its message and exit code."""

from __future__ import annotations

import json
import shutil

import av
import numpy as np
import pytest

from musclekit.cli.main import main
from musclekit.dataset import Flag, open_dataset
from musclekit.errors import ExitCode, InputError
from musclekit.pipelines.align.config import AlignConfig, Capture
from musclekit.pipelines.align.run import align_capture
from tests.helpers.align_fixtures import capture, expected_source_frames, write_text


@pytest.fixture(scope="module")
def whole_second_capture(tmp_path_factory):
    """Creation time truncated to whole seconds (0.25 s wrong) + 0.37 s sensor clock offset."""
    return capture(tmp_path_factory.mktemp("cap"), creation="whole", rotation_deg=-90)


@pytest.fixture(scope="module")
def aligned(whole_second_capture, tmp_path_factory):
    cap = whole_second_capture
    out = tmp_path_factory.mktemp("ds") / "dataset"
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", str(out), "--subject", "S01", "--exercise", "Squat",
                 "--clip-frames", "30", "--clip-max-missing", "3", "--write-video"])
    assert code == 0
    return cap, out


def _sequence(out):
    ds = open_dataset(out)
    (seq_id,) = ds.sequences
    return ds, seq_id


def test_offset_recovered_within_50_ms(aligned):
    cap, out = aligned
    ds, seq_id = _sequence(out)
    alignment = ds.sequences[seq_id].extra["alignment"]
    assert "cross-correlation" in alignment["offset_source"]
    assert abs(alignment["offset_s"] - cap.true_offset_s) < 0.05
    assert alignment["score"] > 0.5
    assert alignment["drift_s_per_s"] is None  # 12 s is too short to estimate drift


def test_per_row_alignment_error_median_below_50_ms(aligned):
    """For every row with a frame: true time of the row's sEMG clock time vs true time of the
    frame shown. Median must be <= 50 ms (it is a few ms when the offset is right)."""
    cap, out = aligned
    ds, seq_id = _sequence(out)
    frames = ds.sequence_array("frames", seq_id)
    ok = frames.aux["source_frame"] >= 0
    row_true_ns = frames.timestamp_ns[ok] - cap.sensor_clock_ns
    frame_true_ns = cap.video_start_true_ns + np.round(frames.aux["source_pts_s"][ok] * 1e9).astype(np.int64)
    err_s = np.abs(row_true_ns - frame_true_ns) / 1e9
    assert np.median(err_s) <= 0.05
    assert err_s.max() < 0.1


def test_grid_to_frame_mapping_is_exact_on_vfr(aligned):
    cap, out = aligned
    ds, seq_id = _sequence(out)
    frames = ds.sequence_array("frames", seq_id)
    first_slot = ds.sequences[seq_id].extra["alignment"]["first_grid_slot"]
    tol = ds.sequences[seq_id].extra["alignment"]["frame_tolerance_s"]
    want = expected_source_frames(cap.frame_pts, float(cap.time_base), 10.0, tol)
    got = frames.aux["source_frame"]
    assert got.tolist() == want[first_slot : first_slot + got.size].tolist()
    assert (got == -1).sum() >= 1  # the run of six dropped frames leaves one grid time empty
    missing = (frames.flags & np.uint8(Flag.MISSING)).astype(bool)
    assert missing.tolist() == (got == -1).tolist()
    shown = got >= 0
    assert np.allclose(frames.aux["source_pts_s"][shown], cap.frame_pts[got[shown]] / 30000)
    assert np.isnan(frames.aux["source_pts_s"][~shown]).all()
    # The frames decode back to the same pictures by index (the keypoint stage relies on it).
    with av.open(str(cap.video_path)) as container:
        pts = [f.pts for f in container.decode(video=0)]
    assert [pts[i] for i in got[shown]] == cap.frame_pts[got[shown]].tolist()


def test_gaps_where_the_semg_dropped_out(aligned):
    cap, out = aligned
    ds, seq_id = _sequence(out)
    emg = ds.sequence_array("emg", seq_id)
    frames = ds.sequence_array("frames", seq_id)
    true_s = (frames.timestamp_ns - cap.sensor_clock_ns - cap.video_start_true_ns) / 1e9
    lo, hi = cap.emg_dropout_true_s
    inside = (true_s > lo + 0.1) & (true_s < hi - 0.1)
    assert inside.sum() >= 12
    assert np.isnan(emg.values[inside]).all()
    assert (emg.flags[inside] & np.uint8(Flag.MISSING)).all()
    outside = (true_s < lo - 0.2) | (true_s > hi + 0.2)
    assert np.isfinite(emg.values[outside]).all(axis=1).mean() > 0.9
    assert emg.channels == cap.channels


def test_semg_values_follow_the_motion(aligned):
    cap, out = aligned
    ds, seq_id = _sequence(out)
    emg = ds.sequence_array("emg", seq_id)
    frames = ds.sequence_array("frames", seq_id)
    true_s = (frames.timestamp_ns - cap.sensor_clock_ns - cap.video_start_true_ns) / 1e9
    ok = np.isfinite(emg.values[:, 0])
    r = np.corrcoef(emg.values[ok, 0], cap.true_speed(true_s[ok]))[0, 1]
    assert r > 0.9


def test_clips_qc_and_video(aligned):
    cap, out = aligned
    ds, seq_id = _sequence(out)
    extra = ds.sequences[seq_id].extra
    assert extra["clips"] and {c["split"] for c in extra["clips"]} <= {"train", "test"}
    assert extra["video"]["rotation_deg"] == -90 and extra["video"]["sha256"]
    assert extra["video"]["n_frames"] == cap.frame_pts.size
    assert ds.sequences[seq_id].label == "Squat" and ds.sequences[seq_id].subject_id == "S01"
    report = json.loads((out / "qc" / "align" / f"{seq_id}.json").read_text())
    assert report["quality"]["emg_gap_rows"] >= 12 and report["alignment"]["refinement"]["applied"]
    assert (out / "qc" / "align" / f"{seq_id}.png").stat().st_size > 10_000
    clip = out / "videos" / f"{seq_id}_10fps.mp4"
    with av.open(str(clip)) as container:
        n = sum(1 for _ in container.decode(video=0))
        stream = container.streams.video[0]
        assert (stream.width, stream.height) == (120, 160)  # portrait: rotated upright
    # One clip frame per grid slot of the whole video; dataset row i = clip frame i + first.
    slots = expected_source_frames(cap.frame_pts, float(cap.time_base), 10.0, 0.05).size
    assert n == slots
    first = extra["video_clip"]["first_row_clip_frame"]
    assert first + ds.sequence_array("frames", seq_id).time_s.size <= n


def test_rerun_skips_finished_capture(aligned, capsys):
    cap, out = aligned
    before = sorted(p.name for p in (out / "data").rglob("*.parquet"))
    code = main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path),
                 "--out", str(out), "--subject", "S01", "--exercise", "Squat"])
    assert code == 0
    assert "already aligned" in capsys.readouterr().err
    assert sorted(p.name for p in (out / "data").rglob("*.parquet")) == before


def test_subsecond_creation_time_alone_is_accurate(tmp_path):
    cap = capture(tmp_path, creation="subsecond", sensor_clock_s=0.0, dropout_s=None)
    result = align_capture(Capture(cap.emg_path, cap.video_path), AlignConfig(refine=_no_refine()), tmp_path / "ds")
    assert result.offset_source.startswith("timestamps (format:com.apple.quicktime.creationdate)")
    assert result.offset_s == 0.0 and result.verdict == "ok"


def _no_refine():
    from musclekit.pipelines.align.offset import RefineConfig

    return RefineConfig(enabled=False)


def test_other_layouts_and_formats(tmp_path):
    cap = capture(tmp_path, layout="long", emg_time_format="epoch_ms", suffix=".mp4", dropout_s=None)
    result = align_capture(Capture(cap.emg_path, cap.video_path), AlignConfig(), tmp_path / "ds")
    assert abs(result.offset_s - cap.true_offset_s) < 0.05
    cap2 = capture(tmp_path / "b", layout="per_sensor", emg_time_format="epoch_s", dropout_s=None)
    result2 = align_capture(Capture(cap2.emg_path, cap2.video_path), AlignConfig(), tmp_path / "ds2")
    assert abs(result2.offset_s - cap2.true_offset_s) < 0.05


# -- bad input: message and exit code; nothing written ------------------------------------

def _cli(cap, out, *extra):
    return main(["align", "--emg", str(cap.emg_path), "--video", str(cap.video_path), "--out", str(out), *extra])


def test_time_zone_mismatch_is_named(tmp_path, capsys):
    # sEMG written as Berlin local time without a zone, read as UTC: one hour off.
    cap = capture(tmp_path, emg_time_format="iso_naive", emg_tz_hours=1, dropout_s=None)
    out = tmp_path / "ds"
    assert _cli(cap, out) == ExitCode.ERROR
    err = capsys.readouterr().err
    assert "no time overlap between sEMG and video: sEMG covers 2026-11-22T10:59:59" in " ".join(err.split())
    assert "e.g. --emg-tz +01:00" in " ".join(err.split())
    assert "whole number of hours (1 h" in " ".join(err.split()) and "--emg-tz" in err
    assert not out.exists()
    assert _cli(cap, out, "--emg-tz", "+01:00") == ExitCode.OK


def test_no_overlap_without_whole_hours(tmp_path, whole_second_capture):
    cap = whole_second_capture
    with pytest.raises(InputError, match=r"no time overlap.*belong together"):
        align_capture(Capture(cap.emg_path, cap.video_path, video_start="2026-11-22T10:20:00Z"),
                      AlignConfig(), tmp_path / "ds")


def test_overlap_shorter_than_one_clip(tmp_path, whole_second_capture, capsys):
    cap = whole_second_capture
    # Keep only 2 s of sEMG rows.
    lines = cap.emg_path.read_text().splitlines()
    header = lines.index("time,l_quad,l_ham,l_lat,l_bicep")
    rows = sorted(lines[header + 1 :])[30:50]
    short = write_text(tmp_path / "short.csv", "\n".join([lines[header], *rows]) + "\n")
    out = tmp_path / "ds"
    code = main(["align", "--emg", str(short), "--video", str(cap.video_path), "--out", str(out),
                 "--clip-frames", "30", "--no-refine"])
    assert code == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "overlap for only" in err and "shorter than one clip of 30 frames (3.0 s at 10 fps)" in err
    assert not out.exists()


def test_video_without_creation_time(tmp_path, capsys):
    cap = capture(tmp_path, creation="none", dropout_s=None)
    out = tmp_path / "ds"
    assert _cli(cap, out) == ExitCode.ERROR
    err = " ".join(capsys.readouterr().err.split())
    assert "has no creation time" in err and "--video-start" in err
    assert not out.exists()
    assert _cli(cap, out, "--video-start", "2026-11-22T10:00:00.250Z") == ExitCode.OK


def test_truncated_and_empty_inputs_via_cli(tmp_path, whole_second_capture, capsys):
    cap = whole_second_capture
    data = cap.video_path.read_bytes()
    cut = tmp_path / "cut.mov"
    cut.write_bytes(data[: len(data) // 2])
    out = tmp_path / "ds"
    assert main(["align", "--emg", str(cap.emg_path), "--video", str(cut), "--out", str(out)]) == 1
    assert "truncated" in capsys.readouterr().err
    empty = write_text(tmp_path / "empty.csv", "")
    assert main(["align", "--emg", str(empty), "--video", str(cap.video_path), "--out", str(out)]) == 1
    assert "is empty" in capsys.readouterr().err
    (tmp_path / "empty.mov").write_bytes(b"")
    assert main(["align", "--emg", str(cap.emg_path), "--video", str(tmp_path / "empty.mov"),
                 "--out", str(out)]) == 1
    assert "empty.mov is empty (0 bytes)" in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def test_bad_columns_via_cli(tmp_path, whole_second_capture, capsys):
    cap = whole_second_capture
    out = tmp_path / "ds"
    assert _cli(cap, out, "--time-col", "stamp") == 1
    assert "no header row has a column named 'stamp'" in capsys.readouterr().err
    assert _cli(cap, out, "--channels", "l_quad,r_quad") == 1
    err = " ".join(capsys.readouterr().err.split())
    assert "channel 'r_quad' (--channels) not found; the file has channels: 'l_quad', 'l_ham', 'l_lat', 'l_bicep'" in err


def test_usage_errors(tmp_path, capsys):
    assert main(["align", "--out", str(tmp_path / "ds")]) == 1
    assert "give --emg and --video" in capsys.readouterr().err
    # --out defaults to the default dataset folder (cli/main.py); the capture is still incomplete
    assert main(["align", "--emg", "a.csv"]) == 1
    assert "give --emg and --video" in capsys.readouterr().err


# -- sessions ----------------------------------------------------------------------------

def test_session_runs_resumes_and_reports_failures(tmp_path, whole_second_capture, capsys):
    cap = whole_second_capture
    folder = tmp_path / "s"
    folder.mkdir()
    shutil.copy(cap.video_path, folder / "a.mov")
    shutil.copy(cap.emg_path, folder / "a.csv")
    shutil.copy(cap.video_path, folder / "b.mov")
    shutil.copy(cap.emg_path, folder / "b.csv")
    session = write_text(folder / "session.toml", (
        '[align]\nfps = 10\nclip_frames = 30\nclip_max_missing = 3\nqc = false\n\n'
        '[[capture]]\nemg = "a.csv"\nvideo = "a.mov"\nsubject = "S01"\nexercise = "Squat"\n\n'
        '[[capture]]\nemg = "b.csv"\nvideo = "b.mov"\nsubject = "S02"\nexercise = "Squat"\n\n'
        '[[capture]]\nemg = "b.csv"\nvideo = "missing.mov"\nsubject = "S03"\nexercise = "Squat"\n'
    ))
    out = tmp_path / "ds"
    code = main(["align", "--session", str(session), "--out", str(out), "--workers", "0"])
    assert code == ExitCode.PARTIAL
    err = " ".join(capsys.readouterr().err.split())
    assert "failed S03_Squat_missing" in err and "does not exist" in err
    ds = open_dataset(out)
    assert set(ds.sequences) == {"S01_Squat_a", "S02_Squat_b"}
    code = main(["align", "--session", str(session), "--out", str(out), "--workers", "0"])
    assert code == ExitCode.PARTIAL
    assert "2 skipped" in " ".join(capsys.readouterr().err.split())


def test_session_file_errors(tmp_path):
    bad = write_text(tmp_path / "s.toml", '[[capture]]\nemg = "a.csv"\n')
    with pytest.raises(InputError, match=r"capture 1: the 'video' path is missing"):
        from musclekit.pipelines.align.config import load_session

        load_session(bad)
    bad2 = write_text(tmp_path / "s2.toml", '[align]\nfsp = 10\n[[capture]]\nemg = "a"\nvideo = "b"\n')
    with pytest.raises(InputError, match=r"unknown key\(s\) fsp"):
        load_session(bad2)


@pytest.mark.slow
def test_demo_recovers_the_offset(tmp_path):
    from musclekit.pipelines.align.demo import run_demo

    result = run_demo(tmp_path)
    assert result["offset_error_ms"] < 50 and result["verdict"] == "ok"
    assert result["clips"] >= 5 and open_dataset(result["dataset"]).sequences


@pytest.mark.slow
def test_session_on_a_local_dask_cluster(tmp_path, whole_second_capture):
    cap = whole_second_capture
    session = write_text(tmp_path / "session.toml", (
        f'[align]\nqc = false\n\n[[capture]]\nemg = "{cap.emg_path}"\nvideo = "{cap.video_path}"\n'
        'subject = "S01"\nexercise = "Squat"\n\n'
        f'[[capture]]\nemg = "{cap.emg_path}"\nvideo = "{cap.video_path}"\nsubject = "S02"\n'
        'exercise = "Squat"\n'
    ))
    out = tmp_path / "ds"
    assert main(["align", "--session", str(session), "--out", str(out), "--workers", "2"]) == 0
    assert set(open_dataset(out).sequences) == {"S01_Squat_capture", "S02_Squat_capture"}


def test_unrelated_semg_keeps_the_timestamps(tmp_path):
    """sEMG of another bout (same timing, other motion): the refinement must refuse."""
    video_cap = capture(tmp_path / "v", creation="whole", seed=1, dropout_s=None)
    other = capture(tmp_path / "e", creation="whole", seed=2, dropout_s=None)
    result = align_capture(Capture(other.emg_path, video_cap.video_path), AlignConfig(), tmp_path / "ds")
    assert result.offset_source == "timestamps (format:com.apple.quicktime.creationdate)"
    assert result.offset_s == 0.0
    assert result.verdict == "check"  # whole-second start time and no refinement
    report = json.loads(open(result.qc_json).read())
    assert report["alignment"]["refinement"]["reason"].startswith("not applied")


@pytest.mark.parametrize("name, text, message", [
    ("jump.csv", "time,a\n" + "".join(f"{1795341600 + 0.1 * i:.1f},1\n" for i in range(5))
     + "".join(f"{1795338000 + 0.1 * i:.1f},1\n" for i in range(5)),
     "jump back by 3600.400 s at line 7"),
    ("garbled.csv", "time,a\n2026-11-22T10:00:00Z,1\nnoon,2\n", "cannot parse 1 of 2 timestamps"),
    ("columns.csv", "when,a\n1795341600,1\n", "cannot find the header row"),
    ("header_only.csv", "time,a\n", "no data rows follow it"),
])
def test_bad_semg_files_via_cli(tmp_path, whole_second_capture, capsys, name, text, message):
    path = write_text(tmp_path / name, text)
    out = tmp_path / "ds"
    code = main(["align", "--emg", str(path), "--video", str(whole_second_capture.video_path),
                 "--out", str(out)])
    assert code == ExitCode.ERROR
    assert message in " ".join(capsys.readouterr().err.split())
    assert not out.exists()


def _row_errors_s(cap, out, seq_id):
    ds = open_dataset(out)
    frames = ds.sequence_array("frames", seq_id)
    ok = frames.aux["source_frame"] >= 0
    # The sensor clock gains `drift` per true second: undo it to get the row's true time.
    sensor_s = (frames.timestamp_ns[ok] - cap.video_start_true_ns - cap.sensor_clock_ns) / 1e9
    row_true_s = sensor_s / (1 + cap.extra["drift_ppm"] * 1e-6)
    frame_true_s = frames.aux["source_pts_s"][ok]
    return frames.time_s[ok], np.abs(row_true_s - frame_true_s)


def test_clock_drift_is_measured_and_corrected(tmp_path):
    cap = capture(tmp_path, duration_s=150.0, sensor_drift_ppm=300.0, creation="whole",
                  dropout_s=(40.0, 43.0), dropped_frames=None)
    cap.extra["drift_ppm"] = 300.0
    result = align_capture(Capture(cap.emg_path, cap.video_path), AlignConfig(), tmp_path / "ds")
    assert result.drift_applied and "drift-corrected" in result.offset_source
    assert result.drift_s_per_s == pytest.approx(300e-6, abs=100e-6)
    assert abs(result.offset_s - cap.true_offset_s) < 0.05
    t, err = _row_errors_s(cap, tmp_path / "ds", result.sequence_id)
    assert np.median(err[t > 120]) < 0.012
    plain = align_capture(Capture(cap.emg_path, cap.video_path, sequence_id="nodrift"),
                          AlignConfig(drift=_no_drift()), tmp_path / "ds")
    assert not plain.drift_applied and plain.drift_s_per_s is None
    t, err = _row_errors_s(cap, tmp_path / "ds", "nodrift")
    assert np.median(err[t > 120]) > 0.012  # ~20 ms late at the end without the correction


def _no_drift():
    from musclekit.pipelines.align.offset import DriftConfig

    return DriftConfig(enabled=False)


def test_session_refuses_flags_it_would_ignore(tmp_path, capsys):
    session = write_text(tmp_path / "s.toml", '[[capture]]\nemg = "a.csv"\nvideo = "b.mov"\n')
    code = main(["align", "--session", str(session), "--out", str(tmp_path / "ds"), "--fps", "5",
                 "--emg-tz", "+01:00"])
    assert code == ExitCode.ERROR
    assert "with --session, --emg-tz, --fps would be ignored" in " ".join(capsys.readouterr().err.split())


def test_known_subject_details_are_kept(tmp_path, whole_second_capture):
    from musclekit.dataset import DatasetWriter, SubjectInfo

    out = tmp_path / "ds"
    DatasetWriter.create_or_open(out, name="x", subjects=[SubjectInfo(id="S01", sex="F", mass_kg=61.0)])
    cap = whole_second_capture
    align_capture(Capture(cap.emg_path, cap.video_path, subject="S01"), AlignConfig(qc=False), out)
    assert open_dataset(out).subjects["S01"].mass_kg == 61.0
