"""TRC / MOT files: OpenSim's own adapters read what we write; bad TRC input is refused."""

from __future__ import annotations

import numpy as np
import opensim
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.opensim_io import (
    TRC_HEADER_KEYS,
    read_mot,
    read_trc,
    write_mot,
    write_trc,
)


def _trc(tmp_path, n=6, names=("RASI", "LASI", "C7")):
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(n, len(names), 3))
    t = np.arange(n) / 60.0
    return write_trc(tmp_path / "m.trc", t, list(names), pos), t, pos


def test_trc_round_trip_and_opensim_reads_it(tmp_path):
    path, t, pos = _trc(tmp_path)
    lines = path.read_text().splitlines()
    assert lines[1].split("\t") == TRC_HEADER_KEYS and len(TRC_HEADER_KEYS) == 8
    back = read_trc(path)
    assert back.names == ["RASI", "LASI", "C7"] and back.rate_hz == pytest.approx(60.0)
    assert np.allclose(back.positions, pos, atol=1e-6)
    table = opensim.TimeSeriesTableVec3(str(path))
    assert table.getNumRows() == 6 and list(table.getColumnLabels()) == ["RASI", "LASI", "C7"]
    v = table.getRowAtIndex(2)[1]
    assert np.allclose([v[0], v[1], v[2]], pos[2, 1], atol=1e-6)
    assert table.getTableMetaDataAsString("Units") == "m"


def test_mot_states_in_degrees_and_opensim_reads_it(tmp_path):
    t = np.arange(4) / 100.0
    vals = np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [0.4, 0.6]])
    path = write_mot(tmp_path / "q.mot", t, ["knee_angle_r", "pelvis_ty"], vals,
                     in_degrees=False)
    assert "inDegrees=no" in path.read_text().splitlines()
    table = opensim.TimeSeriesTable(str(path))
    assert table.getNumRows() == 4
    assert table.getTableMetaDataAsString("inDegrees") == "no"
    assert np.allclose(table.getDependentColumn("knee_angle_r").to_numpy(), vals[:, 0])
    back = read_mot(path)
    assert not back.in_degrees and back.columns == ["knee_angle_r", "pelvis_ty"]


def test_nan_marker_is_refused_with_its_place(tmp_path):
    path, _, _ = _trc(tmp_path)
    lines = path.read_text().splitlines()
    fields = lines[8].split("\t")
    fields[5] = "NaN"  # marker 2 (LASI), x, frame 3
    lines[8] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 9, column 6: marker LASI is missing or NaN at "
                       r"time 0.0333 s"):
        read_trc(path)


def test_empty_marker_field_is_missing(tmp_path):
    path, _, _ = _trc(tmp_path)
    lines = path.read_text().splitlines()
    fields = lines[6].split("\t")
    fields[2:5] = ["", "", ""]
    lines[6] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match="line 7, column 3: marker RASI is missing"):
        read_trc(path)


def test_header_that_does_not_match_data(tmp_path):
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    text[2] = text[2].replace("\t6\t3\t", "\t9\t3\t")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="header says NumFrames=9 but the file has 6 data rows"):
        read_trc(path)
    text[2] = text[2].replace("\t9\t3\t", "\t6\t4\t")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="header says NumMarkers=4 but line 4 names 3 markers"):
        read_trc(path)


def test_header_with_wrong_keys(tmp_path):
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    text[1] = "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="line 2: expected the 8 TRC header keys"):
        read_trc(path)


def test_zero_length_trc(tmp_path):
    with pytest.raises(InputError, match="zero-length sequence"):
        write_trc(tmp_path / "z.trc", np.zeros(0), ["A"], np.zeros((0, 1, 3)))
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()[:6]
    text[2] = text[2].replace("\t6\t3\t", "\t0\t3\t")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="zero-length sequence"):
        read_trc(path)


def test_short_row(tmp_path):
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    text[7] = "\t".join(text[7].split("\t")[:-3])
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match=r"line 8: expected 11 columns \(frame, time, 3 x 3 "
                       r"markers\), found 8"):
        read_trc(path)
