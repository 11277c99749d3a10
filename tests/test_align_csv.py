"""sEMG CSV readers: every layout, exact nanosecond times, sensor quirks, bad input messages."""

from __future__ import annotations

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.align.emg_csv import EmgCsvOptions, read_emg_csv
from musclekit.pipelines.align.timeparse import parse_iso_ns, parse_times
from tests.helpers.align_fixtures import write_text

T0 = 1_795_341_600_000_000_000  # 2026-11-22T10:00:00Z in ns


def test_wide_iso_with_zone_and_metadata_lines(tmp_path):
    path = write_text(tmp_path / "emg.csv", (
        "Device: Trigno\nStart time,2026-11-22 11:00\nSubject,S01\n\n"
        "time,l_quad,l_ham\n"
        "2026-11-22T11:00:00.100+01:00,0.1,0.2\n"
        "2026-11-22T11:00:00.200+01:00,0.2,0.3\n"
        "2026-11-22T11:00:00.300+01:00,0.3,\n"
    ))
    rec = read_emg_csv(path)
    assert rec.layout == "wide" and rec.header_line == 5
    assert rec.channel_names == ["l_quad", "l_ham"]
    assert rec.channels[0].time_ns.tolist() == [T0 + 100_000_000, T0 + 200_000_000, T0 + 300_000_000]
    assert rec.channels[1].values.tolist() == [0.2, 0.3]  # the empty cell is no sample
    assert rec.notes["empty_values"] == 1
    assert rec.assumed_tz is None


def test_naive_iso_read_in_emg_tz(tmp_path):
    text = "time,a,b\n2026-11-22 11:00:00.5,1,2\n2026-11-22 11:00:00.6,1,2\n2026-11-22 11:00:00.7,1,2\n"
    path = write_text(tmp_path / "emg.csv", text)
    as_utc = read_emg_csv(path)
    assert as_utc.assumed_tz == "UTC"
    berlin = read_emg_csv(path, EmgCsvOptions(tz="Europe/Berlin"))
    assert berlin.channels[0].time_ns[0] == T0 + 500_000_000
    assert as_utc.channels[0].time_ns[0] - berlin.channels[0].time_ns[0] == 3600 * 10**9


def test_epoch_seconds_keep_nanoseconds(tmp_path):
    # float64 cannot hold 1795341600.123456789 exactly; the reader must not go through floats.
    path = write_text(tmp_path / "emg.csv", (
        "timestamp,x,y\n1795341600.123456789,1,2\n1795341600.223456789,1,2\n1795341600.323456789,1,2\n"
    ))
    rec = read_emg_csv(path)
    assert rec.time_unit == "s"
    assert int(rec.channels[0].time_ns[0]) == T0 + 123_456_789


def test_epoch_milliseconds(tmp_path):
    path = write_text(tmp_path / "emg.csv", "time_ms,x\n1795341600100,1\n1795341600200.5,2\n1795341600300,3\n")
    rec = read_emg_csv(path)
    assert rec.time_unit == "ms"
    assert rec.channels[0].time_ns.tolist() == [T0 + 100_000_000, T0 + 200_500_000, T0 + 300_000_000]


def test_time_column_per_sensor(tmp_path):
    path = write_text(tmp_path / "emg.csv", (
        "l_quad_time,l_quad,l_ham_time,l_ham\n"
        "1795341600.10,1,1795341600.15,5\n"
        "1795341600.20,2,1795341600.25,6\n"
        "1795341600.30,3,,\n"
    ))
    rec = read_emg_csv(path)
    assert rec.layout == "per_sensor"
    assert rec.channel_names == ["l_quad", "l_ham"]
    assert rec.channels[0].time_ns.size == 3 and rec.channels[1].time_ns.size == 2
    assert rec.channels[1].time_ns[0] == T0 + 150_000_000


def test_long_format(tmp_path):
    path = write_text(tmp_path / "emg.csv", (
        "timestamp,sensor,value\n"
        "2026-11-22T10:00:00.1Z,l_quad,1\n2026-11-22T10:00:00.1Z,l_ham,4\n"
        "2026-11-22T10:00:00.2Z,l_quad,2\n2026-11-22T10:00:00.2Z,l_ham,5\n"
        "2026-11-22T10:00:00.3Z,l_quad,3\n"
    ))
    rec = read_emg_csv(path)
    assert rec.layout == "long"
    assert rec.channel_names == ["l_quad", "l_ham"]
    assert rec.channels[0].values.tolist() == [1, 2, 3]
    assert rec.channels[1].values.tolist() == [4, 5]


def test_semicolon_with_decimal_comma_and_channel_rename(tmp_path):
    path = write_text(tmp_path / "emg.csv", (
        "Zeit;Sensor 1;Sensor 2\n1795341600,1;1,0;0,5\n1795341600,2;1,0;0,6\n1795341600,3;1,0;0,7\n"
    ))
    opts = EmgCsvOptions(time_col=["Zeit"], channels=["Sensor 2=l_ham"])
    rec = read_emg_csv(path, opts)
    assert rec.channel_names == ["l_ham"]
    assert rec.channels[0].values.tolist() == [0.5, 0.6, 0.7]
    assert int(rec.channels[0].time_ns[0]) == T0 + 100_000_000


def test_out_of_order_rows_are_sorted_and_batches_spread(tmp_path):
    rows = ["time,a"]
    stamps = [0.1, 0.2, 0.3, 0.5, 0.5, 0.6, 0.8, 0.7, 0.9, 1.0, 1.1]
    rows += [f"{1795341600 + s:.1f},{i}" for i, s in enumerate(stamps)]
    rec = read_emg_csv(write_text(tmp_path / "emg.csv", "\n".join(rows) + "\n"))
    ch = rec.channels[0]
    assert np.all(np.diff(ch.time_ns) > 0)
    assert rec.notes["out_of_order_rows"] == 2 and rec.notes["batched_samples"] == 1
    # The batch of two stamped 0.5 s: the first sample goes back one period (0.1 s).
    assert (ch.time_ns[3] - T0) == 400_000_000
    assert ch.sample_period_s == pytest.approx(0.1, abs=1e-6)


def test_sensor_config_file(tmp_path):
    write_text(tmp_path / "sensors.toml", (
        'layout = "long"\ntime_col = "t_ms"\ntime_unit = "ms"\nchannel_col = "dev"\nvalue_col = "env"\n'
        '[channels]\n"dev-7" = "l_quad"\n'
    ))
    path = write_text(tmp_path / "emg.csv", "t_ms,dev,env\n1795341600100,dev-7,1\n1795341600200,dev-7,2\n1795341600300,dev-9,3\n")
    rec = read_emg_csv(path, EmgCsvOptions.from_toml(tmp_path / "sensors.toml"))
    assert rec.channel_names == ["l_quad"]
    assert rec.channels[0].values.tolist() == [1, 2]


def test_parse_iso_forms():
    assert parse_iso_ns("2026-11-22T10:00:00Z") == (T0, True)
    assert parse_iso_ns("2026-11-22T11:00:00.250+0100")[0] == T0 + 250_000_000
    assert parse_iso_ns("2026-11-22 10:00:00.123456789")[0] == T0 + 123_456_789
    assert parse_iso_ns("not a time") is None


# -- bad input ---------------------------------------------------------------------------

def test_empty_file(tmp_path):
    with pytest.raises(InputError, match=r"emg.csv is empty"):
        read_emg_csv(write_text(tmp_path / "emg.csv", "\n \n"))


def test_header_without_rows(tmp_path):
    with pytest.raises(InputError, match=r"header is on line 1 but no data rows follow"):
        read_emg_csv(write_text(tmp_path / "emg.csv", "time,a,b\n"))


def test_missing_time_column_lists_columns(tmp_path):
    path = write_text(tmp_path / "emg.csv", "when,a,b\n1795341600,1,2\n")
    with pytest.raises(InputError, match=r"cannot find the header row.*--time-col"):
        read_emg_csv(path)
    with pytest.raises(InputError, match=r"no header row has a column named 'stamp'"):
        read_emg_csv(path, EmgCsvOptions(time_col=["stamp"]))


def test_misnamed_channel_lists_channels(tmp_path):
    path = write_text(tmp_path / "emg.csv", "time,l_quad,l_ham\n1795341600,1,2\n1795341601,1,2\n")
    with pytest.raises(InputError, match=r"channel 'r_quad' \(--channels\) not found; the file has channels: 'l_quad', 'l_ham'"):
        read_emg_csv(path, EmgCsvOptions(channels=["r_quad"]))


def test_unparseable_timestamps_show_examples(tmp_path):
    path = write_text(tmp_path / "emg.csv", (
        "time,a\n2026-11-22T10:00:00Z,1\n2026-11-22T10:00:00.1Z,1\nyesterday,2\n10h00,3\n"
    ))
    with pytest.raises(InputError, match=r"cannot parse 2 of 4 timestamps .*line 4: 'yesterday'; line 5: '10h00'.*--time-unit"):
        read_emg_csv(path)


def test_large_backward_jump_says_where(tmp_path):
    lines = ["time,a"] + [f"{1795341600 + 0.1 * i:.1f},1" for i in range(5)]
    lines += [f"{1795341590 + 0.1 * i:.1f},1" for i in range(5)]
    with pytest.raises(InputError, match=r"jump back by 10\.400 s at line 7 .*clock reset or several recordings concatenated"):
        read_emg_csv(write_text(tmp_path / "emg.csv", "\n".join(lines) + "\n"))


def test_unknown_time_zone():
    with pytest.raises(InputError, match=r"unknown time zone 'Mars/Base'"):
        parse_times(["2026-11-22 10:00:00"], tz="Mars/Base")


def test_unknown_sensor_config_key(tmp_path):
    write_text(tmp_path / "s.toml", 'time_column = "t"\n')
    with pytest.raises(InputError, match=r"unknown key\(s\) time_column"):
        EmgCsvOptions.from_toml(tmp_path / "s.toml")


DELSYS_LIKE = (
    "Application: EMGworks\nDate/Time: 2026-11-22 11:00:00\n\n"
    "X[s],EMG 1,X[s],EMG 2\n"
    "0.000,0.11,0.050,0.21\n0.100,0.12,0.150,0.22\n0.200,0.13,0.250,0.23\n"
)


def test_relative_times_without_a_start(tmp_path):
    path = write_text(tmp_path / "emg.csv", DELSYS_LIKE)
    # Without --emg-start the times count from 0 and the recording says so; align places the
    # first sample at the video's first frame, with a warning (test_align_corpus_emg.py).
    rel = read_emg_csv(path)
    assert rel.relative_time and rel.time_unit == "relative s" and rel.warnings == []
    assert rel.channels[1].time_ns.tolist() == [50_000_000, 150_000_000, 250_000_000]
    rel.anchor(T0 + 10**9, "the video's first frame")
    assert not rel.relative_time and rel.channels[0].time_ns[0] == T0 + 10**9
    assert rel.channels[1].time_ns[0] == T0 + 10**9 + 50_000_000  # spacing between channels kept
    assert "assumed that the first sample coincides with the video's first frame" in rel.warnings[0]
    with pytest.raises(InputError, match=r"numbers from 0.000 to 0.200: times since the start of the recording.*--emg-start"):
        parse_times(["0.000", "0.100", "0.200"], what="timestamps")
    rec = read_emg_csv(path, EmgCsvOptions(start="2026-11-22T11:00:00+01:00"))
    assert rec.layout == "per_sensor" and rec.channel_names == ["EMG 1", "EMG 2"]
    assert rec.channels[1].time_ns.tolist() == [T0 + 50_000_000, T0 + 150_000_000, T0 + 250_000_000]
    assert rec.time_unit == "relative s"
