"""Raw sEMG through align: real export layouts (tiny self-made copies), kinds and units, the
envelope against an independent computation, the electromechanical delay, bad input."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from scipy import signal

from musclekit import open_dataset
from musclekit.cli.main import main
from musclekit.dataset import Flag
from musclekit.emg import EmgProcessing
from musclekit.errors import InputError
from musclekit.pipelines.align.config import AlignConfig, Capture
from musclekit.pipelines.align.emg_csv import EmgCsvOptions
from musclekit.pipelines.align.emg_files import read_recording
from musclekit.pipelines.align.run import align_capture
from musclekit.pipelines.align.synthetic import make_capture, write_raw_emg

SUFFIX = {"delsys": ".csv", "openbci": ".txt", "myo": ".csv", "anc": ".anc"}


@pytest.fixture(scope="module")
def video_capture(tmp_path_factory):
    return make_capture(tmp_path_factory.mktemp("raw"), duration_s=12.0)


def _raw_file(capture, tmp_path: Path, layout: str, **kwargs) -> tuple[Path, str]:
    path = tmp_path / f"{layout}{SUFFIX[layout]}"
    return path, write_raw_emg(capture, path, layout=layout, **kwargs)


@pytest.fixture(scope="module")
def delsys_aligned(video_capture, tmp_path_factory):
    work = tmp_path_factory.mktemp("delsys")
    path, start = _raw_file(video_capture, work, "delsys")
    result = align_capture(Capture(path, video_capture.video_path, emg=EmgCsvOptions(start=start)),
                           AlignConfig(), work / "ds")
    return video_capture, path, result, open_dataset(work / "ds")


# -- readers: each real layout, tiny self-made copies -------------------------------------

def _delsys_text(emg_unit: str = "V", emg_scale: float = 1e-3, rate: float = 1259.259) -> str:
    """EMGworks layout: preamble, per-sensor X[s] columns, EMG and ACC/GYRO at their own rates."""
    rng = np.random.default_rng(0)
    n_emg, n_imu = 252, 30
    cols = []
    for k in (1, 2):
        cols.append(("X[s]", [f"{i / rate:.6f}" for i in range(n_emg)]))
        cols.append((f"Sensor {k}: EMG {k} ({emg_unit})", [f"{v * emg_scale:.6g}" for v in rng.normal(0, 1, n_emg)]))
        for name, unit in (("ACC", "g"), ("GYRO", "deg/s")):
            for axis in "XYZ":
                cols.append(("X[s]", [f"{i / 148.148:.6f}" for i in range(n_imu)]))
                cols.append((f"Sensor {k}: {name} {axis} {k} ({unit})", [f"{1.0 + 0.01 * i:.4f}" for i in range(n_imu)]))
    lines = ["Application: EMGworks Acquisition", "Date/Time: 11/22/2026 10:00:00", ""]
    lines.append(",".join(name for name, _ in cols))
    for i in range(n_emg):
        lines.append(",".join(v[i] if i < len(v) else "" for _, v in cols))
    return "\n".join(lines) + "\n"


def test_delsys_fourteen_columns_split_by_kind_with_si_units(tmp_path):
    path = tmp_path / "trigno.csv"
    path.write_text(_delsys_text())
    rec = read_recording(path, EmgCsvOptions(start="2026-11-22T10:00:00+01:00"))
    assert rec.channel_names == ["Sensor 1: EMG 1", "Sensor 2: EMG 2"]
    assert all(ch.kind == "emg" and ch.unit == "V" and ch.unit_declared == "V" for ch in rec.channels)
    acc, gyro = rec.of_kind("acc"), rec.of_kind("gyro")
    assert len(acc) == 6 and len(gyro) == 6 and not rec.of_kind("other")
    assert acc[0].unit == "m/s^2" and acc[0].values[0] == pytest.approx(9.80665)
    assert gyro[0].unit == "rad/s" and gyro[0].values[0] == pytest.approx(np.pi / 180)
    assert 1 / rec.channels[0].sample_period_s == pytest.approx(1259.259, rel=1e-4)
    assert 1 / acc[0].sample_period_s == pytest.approx(148.148, rel=1e-3)
    assert acc[0].values.size == 30  # the shorter columns end in empty cells, not zeros


def test_openbci_time_column_after_the_channels_units_from_the_format(tmp_path, video_capture):
    path, _ = _raw_file(video_capture, tmp_path, "openbci")
    rec = read_recording(path)
    assert rec.device == "OpenBCI" and rec.channel_names == ["EXG Channel 0", "EXG Channel 1"]
    assert rec.channels[0].unit == "V" and rec.channels[0].unit_declared == "uV"
    assert [ch.name for ch in rec.of_kind("acc")] == ["Accel Channel 0", "Accel Channel 1", "Accel Channel 2"]
    assert rec.notes["counter_columns_skipped"] == "Sample Index"
    assert rec.notes["text_columns_skipped"] == "Timestamp (Formatted)"
    assert rec.channels[0].declared_rate_hz == 250.0 and rec.time_unit == "s"
    raw_line = path.read_text().splitlines()[5].split(",")
    assert rec.channels[0].values[0] == pytest.approx(float(raw_line[1]) * 1e-6)


def test_myo_int8_at_200_hz_is_raw_not_an_envelope(tmp_path, video_capture):
    path, _ = _raw_file(video_capture, tmp_path, "myo")
    rec = read_recording(path)
    assert rec.time_unit == "us" and rec.channel_names == ["emg1", "emg2"]
    assert rec.channels[0].unit is None  # ADC counts: no unit in the file
    assert 1 / rec.channels[0].sample_period_s == pytest.approx(200.0, rel=1e-3)
    from musclekit.pipelines.align.rawemg import choose_kind

    choice = choose_kind(rec, "auto")
    assert choice.kind == "raw" and "above 20 Hz: raw sEMG" in choice.reason


def test_noraxon_units_after_a_comma_and_a_declared_rate(tmp_path):
    rate = 2000.0
    rows = [f"{i / rate:.4f},{np.sin(i):.3f},{np.cos(i):.3f},{980 + i % 3}" for i in range(400)]
    path = tmp_path / "noraxon.csv"
    path.write_text('"MR3 export",,,\n"Sample rate: 2000 Hz",,,\n'
                    'time,"RT TIB.ANT., uV","RT GASTROC., uV","Accel X, mG"\n' + "\n".join(rows) + "\n")
    rec = read_recording(path, EmgCsvOptions(start="2026-11-22T10:00:00Z"))
    assert rec.channel_names == ["RT TIB.ANT.", "RT GASTROC."]
    assert rec.channels[0].unit_declared == "uV" and rec.channels[0].values[1] == pytest.approx(np.sin(1) * 1e-6, rel=1e-3)
    acc = rec.of_kind("acc")[0]
    assert acc.name == "Accel X" and acc.values[0] == pytest.approx(0.980 * 9.80665)
    assert rec.channels[0].declared_rate_hz == 2000.0


def test_cortex_anc_counts_to_volts(tmp_path, video_capture):
    path, start = _raw_file(video_capture, tmp_path, "anc")
    rec = read_recording(path, EmgCsvOptions(start=start))
    assert rec.channel_names == ["L_TA", "R_VL"] and [c.name for c in rec.of_kind("other")] == ["F1X", "F1Y"]
    first = path.read_text().splitlines()[8].split("\t")
    assert rec.channels[0].values[0] == pytest.approx(int(first[3]) / 32768 * 2.5)
    assert "ADC" in rec.channels[0].unit_declared


def _write_edf(path: Path, labels: list[str], dims: list[str], data: np.ndarray, rate: int,
               bdf: bool = False) -> None:
    """A minimal EDF (16-bit) or BDF (24-bit) with one-second records: the format's
    fixed-width ASCII header, then little-endian integers record by record."""
    n_sig, n_rec = len(labels), data.shape[1] // rate
    pmin, pmax = data.min(axis=1) - 1, data.max(axis=1) + 1
    bits = 24 if bdf else 16
    dmin, dmax = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def field(values, width):
        return "".join(str(v)[:width].ljust(width) for v in values)

    version = "\xffBIOSEMI" if bdf else "0".ljust(8)
    head = version + "X X X X".ljust(80) + "Startdate 22-NOV-2026 X X X".ljust(80)
    head += "22.11.26" + "10.00.00" + str(256 * (n_sig + 1)).ljust(8) + "".ljust(44)
    head += str(n_rec).ljust(8) + "1".ljust(8) + str(n_sig).ljust(4)
    head += field(labels, 16) + field([""] * n_sig, 80) + field(dims, 8)
    head += field([f"{v:.2f}" for v in pmin], 8) + field([f"{v:.2f}" for v in pmax], 8)
    head += field([dmin] * n_sig, 8) + field([dmax] * n_sig, 8)
    head += field([""] * n_sig, 80) + field([rate] * n_sig, 8) + field([""] * n_sig, 32)
    digital = np.round((data - pmin[:, None]) / (pmax - pmin)[:, None] * (dmax - dmin) + dmin).astype("<i4")
    if bdf:  # 24-bit: the three low bytes of each little-endian int32
        raw = digital.astype("<i4").view(np.uint8).reshape(n_sig, -1, 4)[:, :, :3]
        body = b"".join(raw[:, r * rate:(r + 1) * rate].tobytes() for r in range(n_rec))
    else:
        body = b"".join(digital.astype("<i2")[:, r * rate:(r + 1) * rate].tobytes() for r in range(n_rec))
    path.write_bytes(head.encode("latin-1") + body)


def test_edf_read_with_mne_start_and_units(tmp_path):
    pytest.importorskip("mne", reason="EDF/BDF need the optional mne package (musclekit[emg])")
    rate = 500
    t = np.arange(2 * rate) / rate
    data = np.vstack([200 * np.sin(2 * np.pi * 60 * t), 100 * np.cos(2 * np.pi * 80 * t), 1 + 0 * t])
    path = tmp_path / "rec.edf"
    _write_edf(path, ["EMG TA", "EMG SOL", "ACC X"], ["uV", "uV", "g"], data, rate)
    rec = read_recording(path, EmgCsvOptions(tz="+01:00"))
    assert rec.channel_names == ["EMG TA", "EMG SOL"] and rec.of_kind("acc")[0].unit == "m/s^2"
    assert rec.channels[0].unit == "V" and rec.channels[0].unit_declared == "uV"
    np.testing.assert_allclose(rec.channels[0].values, data[0] * 1e-6, atol=2e-8)
    assert rec.of_kind("acc")[0].values[0] == pytest.approx(9.80665, rel=1e-3)
    assert rec.notes["start"] == "2026-11-22T09:00:00.000Z"  # local 10:00 at +01:00


def test_bdf_24_bit_read_with_mne(tmp_path):
    pytest.importorskip("mne", reason="EDF/BDF need the optional mne package (musclekit[emg])")
    rate = 512
    t = np.arange(2 * rate) / rate
    data = np.vstack([300 * np.sin(2 * np.pi * 70 * t), 150 * np.cos(2 * np.pi * 90 * t)])
    path = tmp_path / "rec.bdf"
    _write_edf(path, ["EXG1", "EXG2"], ["uV", "uV"], data, rate, bdf=True)
    rec = read_recording(path)
    assert rec.layout == "bdf" and rec.channel_names == ["EXG1", "EXG2"]
    np.testing.assert_allclose(rec.channels[1].values, data[1] * 1e-6, atol=1e-10)
    assert 1 / rec.channels[0].sample_period_s == pytest.approx(512.0)


# -- align end to end -----------------------------------------------------------------------

def test_delsys_raw_aligns_into_the_right_streams(delsys_aligned):
    cap, path, result, ds = delsys_aligned
    streams = ds.info.streams
    assert streams["emg"].units == ["V", "V"] and streams["emg"].family == "semg"
    assert streams["emg_raw"].family == "semg_raw" and streams["emg_raw"].rate_hz == pytest.approx(1259, rel=1e-3)
    assert streams["imu"].family == "imu" and len(streams["imu"].channels) == 12
    assert set(streams["imu"].units) == {"m/s^2", "rad/s"} and "analog" not in streams
    seq = result.sequence_id
    raw = ds.sequence_array("emg_raw", seq)
    # the raw file, whole, in volts: nothing measured was thrown away
    file_mv = np.array([float(line.split(",")[1]) for line in path.read_text().splitlines()[5:]])
    assert raw.values.shape[0] == file_mv.size
    np.testing.assert_allclose(raw.values[:, 0], file_mv * 1e-3, rtol=1e-6)
    assert raw.time_s[0] < 0 < raw.time_s[-1]  # starts before the first grid row
    record = json.loads(next((Path(ds.root) / "meta" / "units").glob("*.json")).read_text())
    extra = record["sequences"][0]["extra"]["emg"]
    assert extra["kind"] == "raw" and extra["kind_source"] == "data"
    assert extra["processing"]["band_hz"] == [20.0, 450.0] and extra["processing"]["envelope_hz"] == 6.0
    assert extra["channel_details"][0]["unit_in_file"] == "mV"
    assert record["provenance"]["config"]["align"]["emg_processing"]["order"] == 4


def test_envelope_in_the_dataset_matches_an_independent_computation(delsys_aligned):
    _, _, result, ds = delsys_aligned
    raw = ds.sequence_array("emg_raw", result.sequence_id)
    env = ds.sequence_array("emg", result.sequence_id)
    rate = 1.0 / np.median(np.diff(raw.time_s))
    x = raw.values[:, 0].astype(np.float64)
    band = signal.butter(4, [20, 450], btype="bandpass", fs=rate, output="sos")
    low = signal.butter(4, 6.0, btype="lowpass", fs=rate, output="sos")
    ref = signal.sosfiltfilt(low, np.abs(signal.sosfiltfilt(band, x - x.mean())))
    # anti-aliasing for the 10 Hz grid, independently: a windowed-sinc FIR at 5 Hz, zero phase
    fir = signal.firwin(int(4 * rate) | 1, 5.0, fs=rate)
    ref = signal.filtfilt(fir, [1.0], ref)
    at_grid = np.interp(env.time_s, raw.time_s, ref)
    inner = (env.time_s > 1.0) & (env.time_s < env.time_s[-1] - 1.0)
    err = np.abs(env.values[inner, 0] - at_grid[inner]) / at_grid[inner].max()
    assert err.max() < 0.01 and np.median(err) < 0.005  # the bar: within 1 %


def test_electromechanical_delay_is_added_back_and_reported(delsys_aligned, tmp_path):
    cap, path, result, ds = delsys_aligned
    assert abs(result.offset_s - cap.true_offset_s) < 0.02  # sEMG leads by 50 ms in this capture
    report = json.loads(Path(result.qc_json).read_text())
    emd = report["alignment"]["electromechanical_delay"]
    assert emd["emd_s"] == 0.05 and "zero-lag" in emd["why"]
    assert emd["applied_lag_s"] == pytest.approx(emd["peak_lag_s"] + 0.05)
    assert "50 ms electromechanical delay added back" in emd["summary"]
    start = path.read_text().splitlines()[1].split(": ", 1)[1]
    without = align_capture(Capture(path, cap.video_path, emg=EmgCsvOptions(start=start)),
                            AlignConfig(emd_s=0.0, qc=False), tmp_path / "no-emd")
    # not allowing for the delay puts every sEMG sample about 50 ms late
    assert without.offset_s - cap.true_offset_s == pytest.approx(-0.05, abs=0.02)


def test_envelope_rows_near_the_recording_ends_are_flagged(video_capture, tmp_path):
    path, start = _raw_file(video_capture, tmp_path, "anc", lead_s=0.0, tail_s=0.0)
    result = align_capture(Capture(path, video_capture.video_path, emg=EmgCsvOptions(start=start)),
                           AlignConfig(qc=False), tmp_path / "ds")
    arr = open_dataset(tmp_path / "ds").sequence_array("emg", result.sequence_id)
    flagged = (arr.flags & Flag.FLAGGED) > 0
    assert flagged[:1].all() and flagged[-1:].all() and not flagged[5:-5].any()
    assert open_dataset(tmp_path / "ds").info.streams["analog"].channels == ["F1X", "F1Y"]


@pytest.mark.parametrize("layout", ["openbci", "myo"])
def test_low_rate_raw_layouts_align_with_a_band_below_nyquist(video_capture, tmp_path, layout):
    path, _ = _raw_file(video_capture, tmp_path, layout)
    cfg = AlignConfig(qc=False, emg_processing=EmgProcessing(band_hz=(20.0, 95.0)))
    result = align_capture(Capture(path, video_capture.video_path), cfg, tmp_path / "ds")
    assert abs(result.offset_s - video_capture.true_offset_s) < 0.03
    assert open_dataset(tmp_path / "ds").info.streams["emg_raw"].rate_hz in (200.0, 250.0)


def test_openbci_stamped_per_packet_by_the_host(video_capture, tmp_path):
    """Host stamps per 6-sample packet, 0-15 ms late: the packets are spread back at the
    sample period, the jitter neither splits the channel nor hides the raw signal."""
    path = tmp_path / "packets.txt"
    write_raw_emg(video_capture, path, layout="openbci", packet=6)
    cfg = AlignConfig(qc=False, emg_processing=EmgProcessing(band_hz=(20.0, 95.0)))
    result = align_capture(Capture(path, video_capture.video_path), cfg, tmp_path / "ds")
    assert abs(result.offset_s - video_capture.true_offset_s) < 0.03
    record = json.loads(next((tmp_path / "ds" / "meta" / "units").glob("*.json")).read_text())
    assert record["sequences"][0]["extra"]["emg"]["kind"] == "raw"
    assert record["sequences"][0]["extra"]["align_quality"]["emg_notes"]["batched_samples"] > 2000


def test_mia_style_envelopes_keep_their_old_streams(video_capture, tmp_path):
    result = align_capture(Capture(video_capture.emg_path, video_capture.video_path), AlignConfig(qc=False),
                           tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds")
    assert set(ds.info.streams) == {"emg", "frames"} and ds.info.streams["emg"].units == ["a.u."] * 4
    record = json.loads(next((tmp_path / "ds" / "meta" / "units").glob("*.json")).read_text())
    extra = record["sequences"][0]["extra"]
    assert extra["emg"]["kind"] == "envelope" and "too slow for raw sEMG" in extra["emg"]["kind_reason"]
    assert extra["alignment"]["electromechanical_delay"]["emd_s"] == 0.0
    assert result.verdict == "ok"


def test_forced_kind_wins_and_is_recorded(delsys_aligned, tmp_path):
    cap, path, _, _ = delsys_aligned
    start = path.read_text().splitlines()[1].split(": ", 1)[1]
    align_capture(Capture(path, cap.video_path, emg=EmgCsvOptions(start=start)),
                  AlignConfig(qc=False, emg_kind="envelope", refine=AlignConfig().refine), tmp_path / "ds")
    ds = open_dataset(tmp_path / "ds")
    assert "emg_raw" not in ds.info.streams  # taken as an envelope: placed, not filtered
    record = json.loads(next((tmp_path / "ds" / "meta" / "units").glob("*.json")).read_text())
    assert record["sequences"][0]["extra"]["emg"]["kind_source"] == "--emg-kind"


# -- bad input: the message a user reads, and nothing written -------------------------------

def _cli_fails(tmp_path, capsys, emg_path: Path, video: Path, *extra: str) -> str:
    out = tmp_path / "out"
    code = main(["align", "--emg", str(emg_path), "--video", str(video), "--out", str(out), *extra])
    err = capsys.readouterr().err
    assert code == 1, err
    assert not (out / "meta" / "info.json").exists() and not list(out.glob("data/*/*.parquet"))
    return " ".join(err.split())


def test_mixed_up_units_are_refused(tmp_path, capsys, video_capture):
    path = tmp_path / "mixed.csv"
    path.write_text(_delsys_text().replace("EMG 1 (V)", "EMG 1 (deg/s)"))
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path, "--emg-start", "2026-11-22T10:00:00Z")
    assert "column 'Sensor 1: EMG 1 (deg/s)' is named like an sEMG channel but its unit 'deg/s' is a " \
           "unit of angular velocity, not voltage" in msg
    assert "leave the column out with --channels" in msg


def test_volts_that_are_really_microvolts_are_refused(tmp_path, capsys, video_capture):
    path = tmp_path / "uv-as-v.csv"
    path.write_text(_delsys_text(emg_unit="V", emg_scale=40.0))  # numbers of tens: uV labelled V
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path, "--emg-start", "2026-11-22T10:00:00Z")
    assert "sEMG channel 'Sensor 1: EMG 1' is declared in V but its values reach" in msg
    assert "the unit in the header is wrong (values in uV or ADC counts?)" in msg


def test_raw_file_too_slow_for_the_band_pass(tmp_path, capsys, video_capture):
    path, _ = _raw_file(video_capture, tmp_path, "myo")
    # The default band adapts to a slow device (and says so in the notes) ...
    assert main(["align", "--emg", str(path), "--video", str(video_capture.video_path), "--out",
                 str(tmp_path / "auto"), "--no-qc"]) == 0
    notes = open_dataset(tmp_path / "auto").sequences["S01_unknown_capture"].extra["align_quality"]["emg_notes"]
    assert notes["band_hz_used"].startswith("band-pass 20-95 Hz instead of the default 20-450 Hz: sampled at 200 Hz")
    capsys.readouterr()
    # ... a band the user gives is refused when the rate cannot carry it.
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path, "--emg-band", "20,450")
    assert "sEMG channel 'emg1' is sampled at 200 Hz: its Nyquist frequency (100 Hz) is not above " \
           "the band-pass's upper edge (450 Hz)" in msg
    assert "--emg-band 20,95" in msg


def test_constant_emg_channel(tmp_path, capsys, video_capture):
    path, _ = _raw_file(video_capture, tmp_path, "myo")
    lines = path.read_text().splitlines()
    path.write_text("\n".join([lines[0]] + [ln.rsplit(",", 1)[0] + ",0" for ln in lines[1:]]) + "\n")
    # One flat channel beside a live one: left out with a warning naming it, verdict check.
    assert main(["align", "--emg", str(path), "--video", str(video_capture.video_path), "--out",
                 str(tmp_path / "one"), "--no-qc"]) == 0
    err = " ".join(capsys.readouterr().err.split())
    assert err.startswith("check ")
    assert f"warning: 1 of 2 sEMG channels are constant, left out (a disconnected electrode or an " \
           f"unused input): 'emg2' (0 in all {len(lines) - 1} samples)" in err
    seq = open_dataset(tmp_path / "one").sequences["S01_unknown_capture"]
    assert seq.extra["emg"]["channels"] == ["emg1"] and seq.extra["align_quality"]["verdict"] == "check"
    # Every sEMG channel flat: refused.
    path.write_text("\n".join([lines[0]] + [",".join(ln.split(",")[:1] + ["0"] * (len(ln.split(",")) - 1))
                                            for ln in lines[1:]]) + "\n")
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path)
    assert f"sEMG channel 'emg1' is constant (0 in all {len(lines) - 1} samples), and so is every other " \
           "sEMG channel (1 more): a disconnected electrode or an unused input. Leave it out with --channels" in msg


def test_declared_rate_contradicted_by_the_timestamps(tmp_path, capsys, video_capture):
    path, _ = _raw_file(video_capture, tmp_path, "openbci")
    path.write_text(path.read_text().replace("%Sample Rate = 250 Hz", "%Sample Rate = 200 Hz"))
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path)
    assert "the header declares 200 Hz for 'EXG Channel 0', but its timestamps are 4.000 ms apart" in msg
    assert "i.e. 250 Hz. One of them is wrong: if the timestamps are right, pass --emg-rate 250" in msg
    # the fix the message names works
    out = tmp_path / "fixed"
    assert main(["align", "--emg", str(path), "--video", str(video_capture.video_path), "--out", str(out),
                 "--emg-rate", "250", "--emg-band", "20,120", "--no-qc"]) == 0


def test_bad_processing_options_via_cli(tmp_path, capsys, video_capture):
    path, _ = _raw_file(video_capture, tmp_path, "myo")
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path, "--emg-band", "20")
    assert "--emg-band '20': give two numbers in Hz, LOW,HIGH, e.g. --emg-band 20,450" in msg
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path, "--emg-kind", "rms")
    assert "--emg-kind 'rms': use auto, raw or envelope" in msg
    msg = _cli_fails(tmp_path, capsys, path, video_capture.video_path, "--emd-ms", "500")
    assert "--emd-ms 500: the electromechanical delay is 0-300 ms" in msg


def test_raw_and_envelope_channels_mixed(tmp_path, video_capture):
    rate = 1000.0
    t = np.arange(3000) / rate
    noise = np.random.default_rng(0).normal(0, 1e-4, t.size)
    smooth = 1e-4 * (1.1 + np.sin(2 * np.pi * 0.5 * t))
    path = tmp_path / "mixed-kinds.csv"
    path.write_text("time,EMG raw (V),EMG rms (V)\n" + "\n".join(
        f"{1763805600 + ti:.3f},{a:.6e},{b:.6e}" for ti, a, b in zip(t, noise, smooth, strict=True)) + "\n")
    with pytest.raises(InputError) as err:
        align_capture(Capture(path, video_capture.video_path), AlignConfig(), tmp_path / "ds")
    msg = str(err.value)
    assert "some sEMG channels look raw (EMG raw) and others like envelopes (EMG rms)" in msg
    assert "--emg-kind raw or --emg-kind envelope" in msg
    assert not (tmp_path / "ds").exists()


def test_forcing_raw_on_a_10_hz_envelope(video_capture, tmp_path):
    with pytest.raises(InputError) as err:
        align_capture(Capture(video_capture.emg_path, video_capture.video_path),
                      AlignConfig(emg_kind="raw"), tmp_path / "ds")
    msg = str(err.value)
    assert re.search(r"sEMG channel 'l_quad' is sampled at (9\.\d+|10(\.\d+)?) Hz", msg)  # jittery stamps
    assert "the rate is too low for raw sEMG at all: if the file holds an envelope, pass --emg-kind envelope" in msg
    assert not (tmp_path / "ds").exists()


def test_not_an_anc_file(tmp_path):
    path = tmp_path / "x.anc"
    path.write_text("time,a,b\n0,1,2\n")
    with pytest.raises(InputError, match=r"not a Cortex \.anc analog file: no Name, Rate, Range row"):
        read_recording(path)


def test_edf_that_mne_cannot_read(tmp_path):
    pytest.importorskip("mne", reason="EDF/BDF need the optional mne package (musclekit[emg])")
    path = tmp_path / "broken.edf"
    path.write_bytes(b"0       " + b"x" * 100)
    with pytest.raises(InputError, match=r"broken.edf: MNE cannot read it as EDF"):
        read_recording(path)


def test_session_file_with_raw_processing_keys(video_capture, tmp_path):
    from musclekit.compute import ComputeConfig
    from musclekit.pipelines.align.run import align_session

    path, _ = _raw_file(video_capture, tmp_path, "openbci")
    session = tmp_path / "session.toml"
    session.write_text(f"""
[align]
emg_kind = "raw"
emd_s = 0.03
qc = false
[align.emg_processing]
band_hz = [20.0, 110.0]
notch_hz = 50.0
[emg]
rate_hz = 250.0
[[capture]]
emg = "{path.name}"
video = "{video_capture.video_path}"
""")
    report = align_session(session, tmp_path / "ds", ComputeConfig(workers=0))
    assert not report.failed and len(report.done) == 1
    record = json.loads(next((tmp_path / "ds" / "meta" / "units").glob("*.json")).read_text())
    extra = record["sequences"][0]["extra"]
    assert extra["emg"]["processing"]["band_hz"] == [20.0, 110.0] and extra["emg"]["processing"]["notch_hz"] == 50.0
    assert extra["emg"]["kind_source"] == "--emg-kind"
    assert extra["alignment"]["electromechanical_delay"]["emd_s"] == 0.03


def test_session_file_with_a_bad_processing_key(tmp_path):
    from musclekit.pipelines.align.config import load_session

    session = tmp_path / "session.toml"
    session.write_text('[align.emg_processing]\nlowpass_hz = 6\n[[capture]]\nemg = "a.csv"\nvideo = "b.mov"\n')
    with pytest.raises(InputError, match=r"\[align.emg_processing\]: unknown key\(s\) lowpass_hz; known: "
                                         r"band_auto, band_hz, envelope_hz, notch_hz, notch_q, order"):
        load_session(session)


def test_per_column_rate_row_is_checked(tmp_path):
    text = _delsys_text().splitlines()
    n_cols = len(text[3].split(","))
    rates = ["1259.259 Hz" if "EMG" in name else "148.148 Hz" if name != "X[s]" else ""
             for name in text[3].split(",")]
    assert len(rates) == n_cols
    path = tmp_path / "rates.csv"
    path.write_text("\n".join([*text[:4], ",".join(rates), *text[4:]]) + "\n")
    rec = read_recording(path, EmgCsvOptions(start="2026-11-22T10:00:00Z"))
    assert rec.channels[0].declared_rate_hz == 1259.259 and rec.of_kind("acc")[0].declared_rate_hz == 148.148
    path.write_text(path.read_text().replace("148.148 Hz", "200 Hz", 1))
    with pytest.raises(InputError, match=r"the header declares 200 Hz for 'Sensor 1: ACC X 1', but its "
                                         r"timestamps are 6.750 ms apart .* i.e. 148.1 Hz"):
        read_recording(path, EmgCsvOptions(start="2026-11-22T10:00:00Z"))


def test_file_without_any_semg_column_names_what_it_found(tmp_path):
    path = tmp_path / "imu-only.csv"
    path.write_text("time,ACC X (g),GYRO X (deg/s)\n" + "\n".join(
        f"{1763805600 + i / 100:.2f},{1 + i * 1e-3:.3f},{i * 0.1:.1f}" for i in range(300)) + "\n")
    with pytest.raises(InputError) as err:
        read_recording(path)
    msg = str(err.value)
    assert "no sEMG column: the columns hold 'ACC X (g)' (acc), 'GYRO X (deg/s)' (gyro)" in msg
    assert "Name the sEMG columns with --channels (columns named there are sEMG whatever their names say)" in msg


def test_channels_option_names_the_semg_columns_and_keeps_the_other_sensors(tmp_path):
    path = tmp_path / "daq.csv"
    path.write_text("time,Analog 1 (mV),Analog 2 (mV),ACC X (g)\n" + "\n".join(
        f"{1763805600 + i / 1000:.3f},{np.sin(i):.4f},{np.cos(i):.4f},1.0" for i in range(2000)) + "\n")
    rec = read_recording(path, EmgCsvOptions(channels=["Analog 2=TA"]))
    assert rec.channel_names == ["TA"] and rec.channels[0].kind == "emg" and rec.channels[0].unit == "V"
    # not chosen as sEMG, the other sensors' columns stay, for the analog and imu streams
    assert [(ch.name, ch.kind) for ch in rec.others] == [("Analog 1", "other"), ("ACC X", "acc")]
    with pytest.raises(InputError, match=r"column 'ACC X \(g\)' is named like an sEMG channel but its "
                                         r"unit 'g' is a unit of acceleration"):
        read_recording(path, EmgCsvOptions(channels=["ACC X"]))


def test_trigno_discover_layout_sensor_row_rate_and_period_rows(tmp_path):
    """Trigno Discover: the sensor's name in a row above, the same column names for every
    sensor, `... Time Series (s)` time columns, then rows of rates and of periods."""
    rate, n = 1259.259, 300
    rows = ["Application:,Trigno Discover (2.1.0.7)", "Date/Time:,2026/11/22 10:00:00",
            "Collection Length (seconds):,0.24", "",
            "Avanti Sensor 1 (81029),,,,Avanti Sensor 3 (81077),,,",
            "sensor mode: 40,,,,sensor mode: 40,,,",
            "EMG 1 Time Series (s),EMG 1 (mV),ACC X Time Series (s),ACC X (G),"
            "EMG 1 Time Series (s),EMG 1 (mV),ACC X Time Series (s),ACC X (G)",
            ",1259.259 Hz,,148.148 Hz,,1259.259 Hz,,148.148 Hz",
            ",0.000794 s,,0.00675 s,,0.000794 s,,0.00675 s"]
    for i in range(n):
        acc = f"{i / 148.148:.6f},{0.01 * i:.3f}" if i < 36 else ","
        rows.append(f"{i / rate:.6f},{np.sin(i) * 0.05:.5f},{acc},{i / rate:.6f},{np.cos(i) * 0.05:.5f},{acc}")
    path = tmp_path / "discover.csv"
    path.write_text("\n".join(rows) + "\n")
    rec = read_recording(path, EmgCsvOptions(start="2026-11-22T10:00:00+01:00"))
    assert rec.channel_names == ["Avanti Sensor 1 (81029): EMG 1", "Avanti Sensor 3 (81077): EMG 1"]
    assert [ch.name for ch in rec.of_kind("acc")] == ["Avanti Sensor 1 (81029): ACC X", "Avanti Sensor 3 (81077): ACC X"]
    assert rec.channels[1].values[1] == pytest.approx(np.cos(1) * 0.05e-3, rel=1e-3)
    assert rec.channels[0].declared_rate_hz == 1259.259 and rec.of_kind("acc")[0].values.size == 36


def test_openbci_cyton_columns_repeated_names_and_unused(tmp_path):
    header = ("Sample Index, EXG Channel 0, EXG Channel 1, Accel Channel 0, Accel Channel 1, "
              "Accel Channel 2, Other, Other, Not Used, Digital Channel 0 (D11), Analog Channel 0, "
              "Timestamp, Other, Timestamp (Formatted)")
    lines = ["%OpenBCI Raw EXG Data", "%Number of channels = 2", "%Sample Rate = 250 Hz",
             "%Board = OpenBCI_GUI$BoardCytonSerial", header]
    for i in range(500):
        t = 1763805600 + i / 250
        lines.append(f"{i % 256}.0, {10 * np.sin(i):.2f}, {10 * np.cos(i):.2f}, 0.01, 0.02, 0.98, "
                     f"{i}.0, 1.0, 0.0, 0.0, 512.0, {t:.6f}, 0.0, 2025-11-22 10:00:00.000")
    path = tmp_path / "OpenBCI-RAW.txt"
    path.write_text("\n".join(lines) + "\n")
    rec = read_recording(path)
    assert rec.channel_names == ["EXG Channel 0", "EXG Channel 1"]
    assert [ch.name for ch in rec.of_kind("other")] == ["Other", "Other #2", "Digital Channel 0 (D11)",
                                                        "Analog Channel 0", "Other #3"]
    assert rec.notes["counter_columns_skipped"] == "Sample Index, Not Used"


def test_native_table_places_samples_without_interpolating():
    from musclekit.pipelines.align.emg_csv import EmgChannel
    from musclekit.pipelines.align.rawemg import native_table

    t = np.arange(10, dtype=np.int64) * 1_000_000  # 1 kHz
    full = EmgChannel("a", t, np.arange(10.0), np.arange(10), sample_period_s=1e-3)
    late = EmgChannel("b", t[3:8] + 200_000, np.arange(5.0) + 100, np.arange(5), sample_period_s=1e-3)
    t_out, values, rate = native_table([late, full])
    assert np.array_equal(t_out, t) and rate == pytest.approx(1000.0)
    np.testing.assert_array_equal(values[:, 1], np.arange(10.0))
    expected = np.full(10, np.nan)
    expected[3:8] = np.arange(5.0) + 100  # 0.2 ms off: within half a period, the sample itself
    np.testing.assert_array_equal(values[:, 0], expected)


def test_dropouts_split_a_raw_channel_but_timestamp_jitter_does_not():
    from musclekit.pipelines.align.emg_csv import EmgChannel
    from musclekit.pipelines.align.rawemg import uniform_segments

    rng = np.random.default_rng(0)
    period = 4_000_000  # 250 Hz
    k = np.arange(5000)
    # host stamps of packets: bursts of near-equal stamps, then a jump, never a lost sample
    jittery = k * period + np.round(rng.normal(0, 3 * period, k.size)).astype(np.int64)
    jittery = np.sort(jittery)
    ch = EmgChannel("a", jittery, np.zeros(k.size), k, sample_period_s=period / 1e9)
    assert uniform_segments(ch) == [(0, 5000)]
    # a real dropout of 40 samples (160 ms, beyond the 12 ms scatter) at index 2000
    lost = np.concatenate([k[:2000], k[2000:] + 40]) * period
    ch = EmgChannel("a", np.sort(lost + (jittery - k * period)), np.zeros(k.size), k, sample_period_s=period / 1e9)
    segments = uniform_segments(ch)
    assert len(segments) == 2 and abs(segments[0][1] - 2000) <= 15
    # without jitter, a single lost sample is a dropout
    exact = np.concatenate([k[:3000], k[3000:] + 1]) * period
    ch = EmgChannel("a", exact, np.zeros(k.size), k, sample_period_s=period / 1e9)
    assert uniform_segments(ch) == [(0, 3000), (3000, 5000)]
