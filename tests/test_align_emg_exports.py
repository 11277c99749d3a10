"""Real EMG exports through align (issue 26) and sEMG files that used to give silent wrong
results (issue 22): every corpus export aligns with `--emg` and `--video` alone, and a dead
channel or a truncated last line is a warning naming it, never a quiet `ok`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from musclekit import open_dataset
from musclekit.cli.main import main
from musclekit.errors import InputError
from musclekit.pipelines.align.emg_csv import EmgCsvOptions, read_emg_csv
from musclekit.pipelines.align.emg_files import read_recording
from musclekit.pipelines.align.synthetic import make_capture, write_video

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"
CORPUS = SHARED / "corpus" / "emg"
RAJAGOPAL_ANC = SHARED / "rajagopal2016" / "ExpData" / "emg_walk_raw.anc"


def _corpus(name: str) -> Path:
    path = RAJAGOPAL_ANC if name == "emg_walk_raw.anc" else CORPUS / name
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared corpus is not laid out beside this checkout)")
    return path


# -- readers: rates, channel groups and units of each real export ----------------------------

def test_trigno_rates_in_exponent_form_per_channel_group():
    rec = read_recording(_corpus("trigno_discover_sample.csv"))
    assert rec.device == "Delsys" and rec.layout == "per_sensor" and rec.relative_time
    assert rec.channel_names == ["Mini sensor 10: EMG 10", "Mini sensor 11: EMG 11"]
    # `Sampling frequency: 1.259259e+003` is 1259.259 Hz, not 1.26 Hz
    assert all(ch.declared_rate_hz == pytest.approx(1259.259) and ch.unit == "V" for ch in rec.channels)
    assert all(1 / ch.sample_period_s == pytest.approx(1259.259, rel=1e-4) for ch in rec.channels)
    imu = rec.of_kind("acc", "gyro")
    assert len(imu) == 12 and all(ch.declared_rate_hz == pytest.approx(148.1481) for ch in imu)
    assert {ch.unit_declared for ch in rec.of_kind("acc")} == {"g"}
    assert {ch.unit for ch in rec.of_kind("gyro")} == {"rad/s"}
    # The corpus copy is a truncated sample: its header declares 81141 EMG points.
    assert rec.warnings == ["14 column(s) hold fewer samples than the header declares, e.g. "
                            "'Mini sensor 10: EMG 10 (V)': 2519 of 81141 (3 %): the export is "
                            "truncated; only what the file holds is aligned"]


def test_emg_rate_applies_to_emg_channels_only():
    rec = read_recording(_corpus("trigno_discover_sample.csv"), EmgCsvOptions(rate_hz=1259.26))
    assert all(ch.declared_rate_hz == 1259.26 for ch in rec.channels)
    assert all(ch.declared_rate_hz == pytest.approx(148.1481) for ch in rec.others)


def test_nexus_devices_block():
    rec = read_recording(_corpus("nexus_delsys_16ch.csv"))
    assert rec.device == "Vicon Nexus" and rec.layout == "nexus" and rec.relative_time
    assert rec.notes["nexus_sub_frames_per_frame"] == 20
    assert len(rec.channels) == 38 and rec.channels[0].name == "Imported Analog EMG - Voltage: 1"
    assert all(ch.declared_rate_hz == 2000.0 and ch.unit == "V" for ch in rec.channels)
    assert all(1 / ch.sample_period_s == pytest.approx(2000.0) for ch in rec.channels)
    assert rec.channels[6].name == "EMG1" and rec.channels[6].time_ns[-1] == round(11599 / 2000 * 1e9)
    timed = read_recording(_corpus("nexus_delsys_16ch.csv"), EmgCsvOptions(start="2026-11-22T10:00:00Z"))
    assert not timed.relative_time and timed.channels[6].time_ns[1] == 1_795_341_600_000_500_000


def test_openbci_and_single_channel_exports():
    bci = read_recording(_corpus("openbci_gui_v6.txt"))
    assert bci.device == "OpenBCI" and len(bci.channels) == 8 and not bci.relative_time
    assert all(ch.declared_rate_hz == 250.0 and ch.unit_declared == "uV" for ch in bci.channels)
    biceps = read_recording(_corpus("biceps_brachii.csv"))
    assert biceps.channel_names == ["BicepsBrachiiR"] and biceps.relative_time
    assert 1 / biceps.channels[0].sample_period_s == pytest.approx(1926, rel=2e-3)


# -- the command, no flags beyond --emg and --video -------------------------------------------

@pytest.mark.parametrize("name", ["trigno_discover_sample.csv", "nexus_delsys_16ch.csv",
                                  "openbci_gui_v6.txt", "biceps_brachii.csv", "emg_walk_raw.anc"])
def test_corpus_export_aligns_without_flags(name, tmp_path, monkeypatch, capsys):
    path = _corpus(name)
    rec = read_recording(path)
    first_ns = min(int(ch.time_ns[0]) for ch in rec.channels)
    video = tmp_path / "clip.mov"
    # A phone clip of 1.5 s; creation time at the first sample when the file has a wall clock.
    write_video(video, duration_s=1.5, bursts=np.array([[0.5, 0.2, 1.0]]),
                creation_ns=first_ns + 200_000_000 if not rec.relative_time else 1_795_000_000_000_000_000)
    monkeypatch.chdir(tmp_path)
    assert main(["align", "--emg", str(path), "--video", str(video)]) == 0
    err = " ".join(capsys.readouterr().err.split())
    ds = open_dataset(tmp_path / "musclekit-data")
    (seq,) = ds.sequences.values()
    emg, quality = seq.extra["emg"], seq.extra["align_quality"]
    assert emg["kind"] == "raw" and "emg_raw" in ds.streams
    assert all(d["declared_rate_hz"] or d["measured_rate_hz"] for d in emg["channel_details"])
    if rec.relative_time:
        # What was assumed is said, and the verdict is not a plain ok.
        assert "assumed that the first sample coincides with the video's first frame" in err
        assert quality["verdict"] == "check" and err.startswith("check ")
        assert quality["emg_notes"]["assumed_start"].startswith("2026-11-18T11:06:40.000Z")
    if name == "trigno_discover_sample.csv":
        assert ds.streams["imu"].rate_hz == pytest.approx(148.148, rel=1e-3)
        assert ds.streams["emg_raw"].rate_hz == pytest.approx(1259.26, rel=1e-3)
    if name == "nexus_delsys_16ch.csv":
        assert "19 of 38 sEMG channels are constant, left out" in err
        assert "6 of 19 sEMG-named channels are smooth" in err and "kept in the analog stream" in err
        assert len(emg["channels"]) == 13 and "analog" in ds.streams
    if name == "openbci_gui_v6.txt":
        assert quality["emg_notes"]["band_hz_used"].startswith("band-pass 20-118.8 Hz instead of the default")
        assert emg["processing"]["band_hz"] == [20.0, pytest.approx(118.75, abs=0.3)] and emg["processing"]["band_auto"]


# -- issue 22: dead channels and truncated lines are said, not silently dropped ---------------

@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    return make_capture(tmp_path_factory.mktemp("emg22"), duration_s=6.0, dropout_s=None,
                        shuffle_rows=False, batch_prob=0.0, drop_prob=0.0)


def _align(capture, emg_path: Path, out: Path, capsys) -> tuple[str, dict]:
    code = main(["align", "--emg", str(emg_path), "--video", str(capture.video_path), "--out", str(out)])
    err = " ".join(capsys.readouterr().err.split())
    assert code == 0, err
    qc = json.loads(next((out / "qc" / "align").glob("*.json")).read_text())
    return err, qc


@pytest.mark.parametrize("dead", ["NaN", "inf", "-inf", "nan"])
def test_all_nonfinite_channel_is_a_warning_naming_it(dead, capture, tmp_path, capsys):
    lines = capture.emg_path.read_text().splitlines()
    head = next(i for i, ln in enumerate(lines) if ln.startswith("time,"))
    body = [",".join([*ln.split(",")[:-1], dead]) for ln in lines[head + 1:]]
    path = tmp_path / "dead.csv"
    path.write_text("\n".join([*lines[: head + 1], *body]) + "\n")
    rec = read_emg_csv(path)
    assert rec.channel_names == capture.channels[:-1] and "text_columns_skipped" not in rec.notes
    err, qc = _align(capture, path, tmp_path / "ds", capsys)
    dead_col = capture.channels[-1]
    msg = (f"channel {dead_col!r} holds no finite value ({len(body)} cells NaN or inf, lines "
           f"{head + 2}-{head + 1 + len(body)}): a dead sensor or a failed export; it is left out")
    assert f"warning: {msg}" in err and err.startswith("check ")
    assert qc["quality"]["verdict"] == "check" and qc["quality"]["emg_warnings"] == [msg]


def test_only_channel_nonfinite_is_an_error(tmp_path):
    path = tmp_path / "one.csv"
    path.write_text("time,l_quad\n" + "".join(f"{1763805600 + i * 0.1:.1f},nan\n" for i in range(30)))
    with pytest.raises(InputError, match=r"no sEMG column \(channel 'l_quad' holds no finite value "
                                         r"\(30 cells NaN or inf, lines 2-31\)"):
        read_emg_csv(path)


def test_truncated_last_line_is_a_warning_naming_it(capture, tmp_path, capsys):
    text = capture.emg_path.read_text().rstrip("\n")
    last = text.splitlines()[-1]
    n_lines = len(text.splitlines())
    cut = text[: len(text) - len(last) + last.index(",", last.index(",") + 1) + 3]  # `...,0.` etc.
    assert not cut.endswith("\n")
    path = tmp_path / "cut.csv"
    path.write_text(cut)
    rec = read_emg_csv(path)
    assert max(int(ch.lines[-1]) for ch in rec.channels) == n_lines - 1  # the partial row is not read
    err, qc = _align(capture, path, tmp_path / "ds", capsys)
    msg = (f"line {n_lines} is cut short (3 of 5 fields) and the file ends without a line break: "
           "the export was truncated mid-line; that row is left out (export the recording again "
           "to get it back)")
    assert f"warning: {msg}" in err and err.startswith("check ")
    assert qc["quality"]["emg_warnings"] == [msg] and qc["quality"]["verdict"] == "check"


def test_last_line_without_line_break_but_complete_is_read(capture, tmp_path):
    text = capture.emg_path.read_text().rstrip("\n")  # as kineticstoolkit's biceps export
    path = tmp_path / "nolf.csv"
    path.write_text(text)
    rec = read_emg_csv(path)
    assert rec.warnings == [] and int(rec.channels[0].lines[-1]) == len(text.splitlines())
    assert math.isfinite(rec.channels[0].values[-1])


def test_last_value_cut_inside_its_number_is_a_warning(capture, tmp_path):
    """Truncated inside the last number: every field is there, but `0.67719` became `0`
    (issue 22: it was read as 0.0 and flagged ok)."""
    text = capture.emg_path.read_text().rstrip("\n")
    last = text.splitlines()[-1]
    cut = text[: len(text) - len(last) + last.rindex(",") + 2]  # the last value's first digit
    path = tmp_path / "cut.csv"
    path.write_text(cut)
    rec = read_emg_csv(path)
    n_lines = len(cut.splitlines())
    assert max(int(ch.lines[-1]) for ch in rec.channels) == n_lines - 1
    assert any(f"line {n_lines} is cut short (its last value" in w for w in rec.warnings)
    assert "the export was truncated mid-line; that row is left out" in " ".join(rec.warnings)
