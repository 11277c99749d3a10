"""The OpenSim file layer (.trc, .mot, .sto): round trips through OpenSim's own adapters in
both directions, one units rule (SI and `inDegrees=no` out; degrees and mm converted in), and
bad input refused with its file, line and column."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import opensim
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.opensim.files import (
    TRC_HEADER_KEYS,
    Motion,
    read_mot,
    read_trc,
    rotational_coordinates,
    write_mot,
    write_trc,
)

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def _trc(tmp_path, n=6, names=("RASI", "LASI", "C7")):
    rng = np.random.default_rng(0)
    pos = rng.normal(size=(n, len(names), 3))
    t = np.arange(n) / 60.0
    return write_trc(tmp_path / "m.trc", t, list(names), pos), t, pos


def _osim_table(times, names, values, **meta) -> opensim.TimeSeriesTable:
    labels = opensim.StdVectorString()
    for n in names:
        labels.append(n)
    table = opensim.TimeSeriesTable(opensim.StdVectorDouble(list(times)),
                                    opensim.Matrix.createFromMat(np.asarray(values, float)),
                                    labels)
    for k, v in meta.items():
        table.addTableMetaDataString(k, v)
    return table


def _mot_text(tmp_path, body: str, name="bad.mot") -> Path:
    f = tmp_path / name
    f.write_text(body)
    return f


# --- .trc ------------------------------------------------------------------------------


def test_trc_round_trip_and_opensim_reads_it(tmp_path):
    path, t, pos = _trc(tmp_path)
    lines = path.read_text().splitlines()
    assert lines[0] == "PathFileType\t4\t(X/Y/Z)\tm.trc"
    assert lines[1].split("\t") == TRC_HEADER_KEYS and len(TRC_HEADER_KEYS) == 8
    back = read_trc(path)
    assert back.names == ["RASI", "LASI", "C7"] and back.rate_hz == pytest.approx(60.0)
    assert np.allclose(back.positions, pos, atol=1e-6)
    assert np.allclose(back.time_s, t, atol=1e-9)
    table = opensim.TimeSeriesTableVec3(str(path))
    assert table.getNumRows() == 6 and list(table.getColumnLabels()) == ["RASI", "LASI", "C7"]
    assert table.getTableMetaDataAsString("Units") == "m"
    flat = table.flatten()
    assert np.allclose(flat.getMatrix().to_numpy().reshape(6, 3, 3), pos, atol=1e-6)
    v = table.getRowAtIndex(2)[1]
    assert np.allclose([v[0], v[1], v[2]], pos[2, 1], atol=1e-6)
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary left


def test_single_marker_trc(tmp_path):
    pos = np.arange(6.0).reshape(2, 1, 3) / 10
    path = write_trc(tmp_path / "one.trc", np.array([0.0, 0.5]), ["C7"], pos)
    table = opensim.TimeSeriesTableVec3(str(path))
    assert list(table.getColumnLabels()) == ["C7"]
    back = read_trc(path)
    assert back.names == ["C7"] and back.rate_hz == 2.0 and np.allclose(back.positions, pos)


def test_trc_written_by_opensim_in_mm_or_cm_is_read_in_metres(tmp_path):
    rng = np.random.default_rng(1)
    pos_m = rng.normal(size=(5, 2, 3))
    t = np.arange(5) / 100.0
    for units, factor in (("mm", 1000.0), ("cm", 100.0)):
        flat = _osim_table(t, [f"{n}{s}" for n in ("A", "B") for s in ("_x", "_y", "_z")],
                           (pos_m * factor).reshape(5, -1))
        table = flat.packVec3()
        for key, value in zip(TRC_HEADER_KEYS, ["100", "100", "5", "2", units, "100", "1", "5"],
                              strict=True):
            table.addTableMetaDataString(key, value)
        path = tmp_path / f"{units}.trc"
        opensim.TRCFileAdapter.write(table, str(path))
        back = read_trc(path)
        assert back.names == ["A", "B"] and back.rate_hz == 100.0
        assert np.allclose(back.positions, pos_m, atol=1e-9), units


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


def test_non_numeric_marker_value_is_named(tmp_path):
    # OpenSim's adapter would read it as NaN without a word
    path, _, _ = _trc(tmp_path)
    lines = path.read_text().splitlines()
    fields = lines[7].split("\t")
    fields[10] = "1,5"
    lines[7] = "\t".join(fields)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"line 8, column 11: marker C7 has a non-numeric "
                       r"value '1,5'"):
        read_trc(path)


def test_header_that_does_not_match_data(tmp_path):
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    text[2] = text[2].replace("\t6\t3\t", "\t9\t3\t")
    path.write_text("\n".join(text) + "\n")
    # OpenSim reads the rows whatever NumFrames says (the corpus' Lisbon shoulder trial):
    # musclekit too, with a note (issue 26).
    data = read_trc(path)
    assert data.positions.shape[0] == 6
    assert "header says NumFrames=9 but the file has 6 data rows" in data.notes[0]
    text[2] = text[2].replace("\t9\t3\t", "\t6\t4\t")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="header says NumMarkers=4 but line 4 names 3 markers"):
        read_trc(path)


def test_header_with_wrong_keys_or_units(tmp_path):
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    good = list(text)
    text[1] = "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits"
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="line 2: expected the 8 TRC header keys"):
        read_trc(path)
    text = list(good)
    text[2] = text[2].replace("\tm\t", "\tinch\t")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match=r"line 3: unknown Units 'inch' \(m, cm or mm\)"):
        read_trc(path)


def test_zero_length_trc(tmp_path):
    with pytest.raises(InputError, match="zero-length sequence"):
        write_trc(tmp_path / "z.trc", np.zeros(0), ["A"], np.zeros((0, 1, 3)))
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()[:6]
    text[2] = text[2].replace("\t6\t3\t", "\t0\t3\t")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="zero-length sequence"):  # OpenSim would hang
        read_trc(path)


def test_short_row(tmp_path):
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    text[7] = "\t".join(text[7].rstrip("\t").split("\t")[:-3])
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match=r"line 8: expected 11 columns \(frame, time, 3 x 3 "
                       r"markers\), found 8"):
        read_trc(path)


def test_blank_line_inside_trc_data(tmp_path):
    # OpenSim stops at it and returns the frames before it
    path, _, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    text.insert(9, "")
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match="line 10: blank line inside the data"):
        read_trc(path)


def test_trc_times_must_increase(tmp_path):
    path, t, _ = _trc(tmp_path)
    text = path.read_text().splitlines()
    fields = text[8].split("\t")
    fields[1] = "0.01"  # frame 3 before frame 2 (0.0167 s)
    text[8] = "\t".join(fields)
    path.write_text("\n".join(text) + "\n")
    with pytest.raises(InputError, match=r"line 9: time 0.01 is not after the previous frame's"):
        read_trc(path)


def test_missing_trc_and_bad_positions(tmp_path):
    with pytest.raises(InputError, match="TRC file .*nope.trc does not exist"):
        read_trc(tmp_path / "nope.trc")
    with pytest.raises(InputError, match="marker positions contain NaN"):
        write_trc(tmp_path / "n.trc", np.arange(2) / 10, ["A"], np.full((2, 1, 3), np.nan))
    with pytest.raises(InputError, match=r"positions of shape \(2, 2, 3\) for 1 marker names"):
        write_trc(tmp_path / "n.trc", np.arange(2) / 10, ["A"], np.zeros((2, 2, 3)))
    with pytest.raises(InputError, match="OpenSim needs strictly increasing times"):
        write_trc(tmp_path / "n.trc", np.zeros(2), ["A"], np.zeros((2, 1, 3)))
    assert not (tmp_path / "n.trc").exists()


# --- .mot / .sto ------------------------------------------------------------------------


def test_mot_is_si_with_indegrees_no_and_opensim_reads_it(tmp_path):
    t = np.arange(4) / 100.0
    vals = np.array([[0.1, 0.9], [0.2, 0.8], [0.3, 0.7], [np.pi, 1.0 / 3.0]])
    path = write_mot(tmp_path / "q.mot", Motion(t, ["knee_angle_r", "pelvis_ty"], vals))
    lines = path.read_text().splitlines()
    assert lines[0] == "q" and "inDegrees=no" in lines
    table = opensim.TimeSeriesTable(str(path))
    assert table.getNumRows() == 4
    assert table.getTableMetaDataAsString("inDegrees") == "no"
    assert list(table.getColumnLabels()) == ["knee_angle_r", "pelvis_ty"]
    assert np.allclose(table.getMatrix().to_numpy(), vals, atol=1e-6)
    assert np.allclose(np.asarray(table.getIndependentColumn()), t, atol=1e-9)
    back = read_mot(path)
    assert back.names == ["knee_angle_r", "pelvis_ty"]
    assert np.allclose(back.values, vals, rtol=1e-15, atol=0)
    assert np.allclose(back.time_s, t, rtol=1e-15, atol=0)
    assert list(tmp_path.iterdir()) == [path]  # written atomically: no temporary left


def test_sto_round_trip_and_name(tmp_path):
    t = np.linspace(0.0, 1.0, 11)
    vals = np.random.default_rng(2).uniform(size=(11, 3))
    path = write_mot(tmp_path / "act.sto", Motion(t, ["a1", "a2", "a3"], vals), name="activations")
    assert path.read_text().splitlines()[0] == "activations"
    table = opensim.TimeSeriesTable(str(path))
    assert np.allclose(table.getMatrix().to_numpy(), vals, atol=1e-6)
    back = read_mot(path, rotational=set())
    assert np.allclose(back.values, vals, rtol=1e-15, atol=0)  # 16 significant digits
    # writing again replaces the file
    write_mot(path, Motion(t, ["a1", "a2", "a3"], 2 * vals))
    assert np.allclose(read_mot(path).values, 2 * vals, rtol=1e-15, atol=0)


def test_degrees_written_by_opensim_come_back_in_radians(tmp_path):
    names = ["knee_angle_r", "knee_angle_r_beta", "pelvis_tx", "pelvis_ty", "hip_flexion_r"]
    deg = np.array([[90.0, 0.5, 1.0, 0.9, 30.0], [45.0, 0.25, 1.1, 0.95, 60.0]])
    path = tmp_path / "ik.mot"
    opensim.STOFileAdapter.write(_osim_table([0.0, 0.01], names, deg, inDegrees="yes"),
                                 str(path))
    m = read_mot(path)  # default: every column but _tx/_ty/_tz (and never _beta)
    assert m.column("knee_angle_r") == pytest.approx([np.pi / 2, np.pi / 4])
    assert m.column("hip_flexion_r") == pytest.approx([np.pi / 6, np.pi / 3])
    assert m.column("knee_angle_r_beta") == pytest.approx([0.5, 0.25])  # radians already
    assert m.column("pelvis_tx") == pytest.approx([1.0, 1.1])
    assert m.column("pelvis_ty") == pytest.approx([0.9, 0.95])
    only = read_mot(path, rotational={"knee_angle_r", "knee_angle_r_beta"})
    assert only.column("knee_angle_r") == pytest.approx([np.pi / 2, np.pi / 4])
    assert only.column("hip_flexion_r") == pytest.approx([30.0, 60.0])  # not named: as is
    assert only.column("knee_angle_r_beta") == pytest.approx([0.5, 0.25])
    assert np.array_equal(read_mot(path, rotational=set()).values, deg)
    # what musclekit writes back is radians, and says so
    back = write_mot(tmp_path / "rad.mot", m)
    table = opensim.TimeSeriesTable(str(back))
    assert table.getTableMetaDataAsString("inDegrees") == "no"
    assert np.allclose(table.getMatrix().to_numpy(), m.values, atol=1e-12)
    assert np.allclose(read_mot(back).values, m.values)


def test_motion_window_column_and_rate():
    t = np.arange(10) / 50.0
    m = Motion(t, ["a", "b"], np.column_stack([t, 2 * t]))
    w = m.window(0.04, 0.1)
    assert w.time_s == pytest.approx([0.04, 0.06, 0.08, 0.1])
    assert w.column("b") == pytest.approx(2 * w.time_s)
    w.values[0, 0] = 99.0
    assert m.values[2, 0] == pytest.approx(0.04)  # a copy
    assert m.rate_hz == pytest.approx(50.0)
    with pytest.raises(ValueError, match="no column 'c'"):
        m.column("c")


def test_rotational_coordinates_follow_opensims_motion_type(tmp_path):
    model = opensim.Model()
    body = opensim.Body("b", 1.0, opensim.Vec3(0), opensim.Inertia(1))
    model.addBody(body)
    model.addJoint(opensim.PlanarJoint("j", model.getGround(), body))
    model.finalizeConnections()
    cs = model.getCoordinateSet()
    names = {cs.get(i).getName() for i in range(cs.getSize())}
    rot = rotational_coordinates(model)
    assert len(names) == 3 and len(rot) == 1 and rot < names
    model.printToXML(str(tmp_path / "planar.osim"))
    assert rotational_coordinates(tmp_path / "planar.osim") == rot


@pytest.mark.parametrize("body, message", [
    ("x\nendheader\ntime\ta\tb\n0.0\t1\t2\n0.01\t1\n",
     r"bad.mot, line 5: 2 values but the header names 3"),
    ("x\nendheader\ntime\ta\tb\n0.0\t1\t2\n0.01\t1\t2\t3\n",
     r"bad.mot, line 5: 4 values but the header names 3"),
    ("x\nendheader\ntime\ta\tb\n0.0\t1\t2\n0.01\tabc\t2\n",
     r"bad.mot, line 5, column 2 \(a\): not a number \('abc'\)"),
    ("x\nendheader\ntime\ta\tb\n0.0\t1\t2\n0.01\t1\t2,5\n",  # OpenSim would read 2
     r"bad.mot, line 5, column 3 \(b\): not a number \('2,5'\)"),
    ("x\nversion=1\ntime\ta\n0.0\t1\n", r"bad.mot: no 'endheader' line"),
    ("x\nendheader\nTime\ta\n0.0\t1\n", r"line 3: expected a header row starting with 'time'"),
    ("x\nendheader\ntime a b\n0.0 1 2\n", r"line 3: .*separated by tabs"),
    ("x\nendheader\ntime\ta\n", r"bad.mot: no data rows"),
    ("x\nendheader\ntime\ta\n0.0\t1\n\n0.01\t2\n", r"line 5: blank line inside the data"),
    ("x\nendheader\ntime\ta\n0.1\t1\n0.0\t2\n",
     r"line 5: time 0.0 is not after the previous row's"),
])
def test_bad_mot_is_refused_with_its_line(tmp_path, body, message):
    with pytest.raises(InputError, match=message):
        read_mot(_mot_text(tmp_path, body))


def test_mot_details_opensim_accepts(tmp_path):
    # no version line, CRLF line ends, trailing tabs, a written nan: read as OpenSim reads them
    f = _mot_text(tmp_path, "x\r\nendheader\r\ntime\ta\tb\t\r\n0.0\t1\tnan\t\r\n0.5\t2\t3\t\r\n",
                  "ok.mot")
    m = read_mot(f)
    assert m.names == ["a", "b"] and m.time_s == pytest.approx([0.0, 0.5])
    assert np.isnan(m.values[0, 1]) and m.values[1].tolist() == [2.0, 3.0]


def test_missing_mot_and_bad_motion_to_write(tmp_path):
    with pytest.raises(InputError, match="motion file not found: .*nope.mot"):
        read_mot(tmp_path / "nope.mot")
    with pytest.raises(InputError, match="expected a .mot or .sto file"):
        read_mot(_mot_text(tmp_path, "x\nendheader\ntime\ta\n0\t1\n", "q.txt"))
    t = np.arange(3) / 10
    with pytest.raises(InputError, match=r"values of shape \(3, 2\) for 1 column names"):
        write_mot(tmp_path / "w.mot", Motion(t, ["a"], np.zeros((3, 2))))
    with pytest.raises(InputError, match="no rows"):
        write_mot(tmp_path / "w.mot", Motion(np.zeros(0), ["a"], np.zeros((0, 1))))
    with pytest.raises(InputError, match="strictly increasing"):
        write_mot(tmp_path / "w.mot", Motion(t[::-1], ["a"], np.zeros((3, 1))))
    with pytest.raises(InputError, match="holds a tab"):
        write_mot(tmp_path / "w.mot", Motion(t, ["a\tb"], np.zeros((3, 1))))
    assert not (tmp_path / "w.mot").exists()


# --- real files (../shared/data, skipped when absent) --------------------------------------


def _shared(rel: str) -> Path:
    path = SHARED / rel
    if not path.is_file():
        pytest.skip(f"{path} absent (the shared data folder is not mounted here)")
    return path


def test_opencap_ik_file_in_degrees_is_read_in_radians():
    path = _shared("opencap/squats1_videoAndMocap.mot")
    model = _shared("opencap/LaiUhlrich2022.osim")
    raw = opensim.TimeSeriesTable(str(path))
    assert raw.getTableMetaDataAsString("inDegrees") == "yes"
    deg = raw.getMatrix().to_numpy()
    labels = list(raw.getColumnLabels())
    rot = rotational_coordinates(model)
    assert "knee_angle_r_beta" not in rot and "pelvis_tx" not in rot and "knee_angle_r" in rot
    m = read_mot(path, rotational=rot)
    assert m.names == labels and m.values.shape == (801, 35)
    for k, name in enumerate(labels):
        expected = np.deg2rad(deg[:, k]) if name in rot else deg[:, k]
        assert np.allclose(m.values[:, k], expected, atol=1e-12), name
    assert np.allclose(read_mot(path).values, m.values)  # the default rule agrees here


def test_rajagopal_mm_trc_is_read_in_metres():
    path = _shared("rajagopal2016/ExpData/motion_capture_walk.trc")
    table = opensim.TimeSeriesTableVec3(str(path))
    assert table.getTableMetaDataAsString("Units") == "mm"
    flat = table.flatten()
    mm = flat.getMatrix().to_numpy()
    data = read_trc(path)
    assert data.names == list(table.getColumnLabels()) and data.rate_hz == 100.0
    assert np.allclose(data.positions.reshape(len(data.time_s), -1), mm / 1000.0, atol=1e-12)
    grf = read_mot(_shared("rajagopal2016/ExpData/grf_walk.mot"), rotational=set())
    assert grf.values.shape == (4778, 18) and grf.rate_hz == pytest.approx(2000.0)
