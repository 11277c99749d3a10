"""align's remaining bad inputs (issue 18): each a message, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from musclekit.errors import InputError
from musclekit.pipelines.align.timeparse import resolve_tz


def test_a_whole_day_is_not_a_time_zone() -> None:
    with pytest.raises(InputError, match=r"--emg-tz \+24:00: a UTC offset lies between -23:59 "
                                         r"and \+23:59.*--offset 86400"):
        resolve_tz("+24:00")
    assert resolve_tz("+05:30").utcoffset(None).total_seconds() == 5.5 * 3600


def test_a_binary_file_is_not_read_as_csv(tmp_path: Path) -> None:
    from musclekit.pipelines.align.emg_csv import read_emg_csv

    f = tmp_path / "raw.csv"
    f.write_bytes(b"time,a\n" + bytes(range(256)) * 8)
    with pytest.raises(InputError, match="is binary \\(it holds NUL bytes\\), not a text export"):
        read_emg_csv(f)


@pytest.mark.parametrize("flag,value", [("--subject", "Sujet-é"), ("--exercise", "squat jump")])
def test_ids_that_are_not_file_names_are_refused_before_any_work(tmp_path: Path, capsys,
                                                                  flag: str, value: str) -> None:
    from musclekit.cli.main import main

    emg, video = tmp_path / "e.csv", tmp_path / "v.mov"
    emg.write_text("time,a\n0,1\n")
    video.write_bytes(b"x")
    out = tmp_path / "ds"
    assert main(["align", "--emg", str(emg), "--video", str(video), flag, value,
                 "--out", str(out)]) != 0
    assert f"{flag} {value!r}: use ASCII letters" in capsys.readouterr().err
    assert not out.exists()
