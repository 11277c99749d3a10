"""C3D in: files written here with ezc3d itself (markers in mm with Z up, a type-2 and a
type-4 plate with known loads, analog EMG in mV/V/uV), read back by musclekit.pipelines.
simulate.c3d. The expected plate channels are computed from the plate physics in this file
(independently of ezc3d's force-platform module, which the reader uses).

The files are written in a child process: ezc3d's and OpenSim's SWIG bindings both wrap
std::vector, and once one of them has built such a vector in a process the other's
constructors refuse theirs (ezc3d writing after OpenSim wrote, or the reverse). Reading a
C3D builds none, so musclekit's reader and OpenSim's writers share a process fine.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ezc3d  # noqa: E402,F401  (a required dependency: missing fails the suite)
import numpy as np
import pytest

from musclekit.errors import InputError  # noqa: E402
from musclekit.pipelines.simulate.kinematics import c3d as mc3d  # noqa: E402
from musclekit.pipelines.simulate.opensim.files import read_mot, read_trc  # noqa: E402

POINT_RATE = 100.0
ANALOG_RATE = 1000.0
N_FRAMES = 100  # 1 s
FIRST_FRAME = 20  # the file's clock starts at 0.2 s

# Plates in a Z-up lab (mm). Plate axes (columns: plate x, y, z in lab coordinates): z points
# down into the floor, as for AMTI/Bertec plates, so the loads on them are +z in their frame.
PLATE1 = {"type": 2, "centre": np.array([250.0, 300.0, 0.0]), "half": (200.0, 300.0),
          "axes": np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]]).T,
          "origin": np.array([2.0, -1.0, 40.0])}
PLATE2 = {"type": 4, "centre": np.array([250.0, 900.0, 0.0]), "half": (200.0, 300.0),
          "axes": np.array([[-1.0, 0, 0], [0, 1.0, 0], [0, 0, -1.0]]).T,
          "origin": np.array([0.0, 0.0, 35.0]),
          "cal": np.diag([1.5, 1.5, 3.0, 200.0, 200.0, 100.0]) + 0.05 * np.eye(6, k=1)}


# Channel offsets of plates nobody zeroed (N, N mm of the load in the plate's frame, before
# the type-4 plate's matrix): 25 and 30 N along the normal, above the 20 N load threshold.
BASELINES = (np.array([4.0, -3.0, -25.0, 900.0, -700.0, 60.0]),
             np.array([-2.0, 5.0, 30.0, -500.0, 800.0, -40.0]))


def _int_param(c, group: str, name: str, value) -> None:
    """An INT parameter (ezc3d's add_parameter stores numbers as FLOAT, which its own force
    platform module refuses for TYPE, USED and CHANNEL)."""
    from ezc3d import ezc3d as swig

    c["parameters"][group][name] = {"type": swig.INT, "description": "", "is_locked": False,
                                    "value": np.asarray(value, dtype=int)}


def _corners(plate: dict) -> np.ndarray:
    """(4, 3) corners in the C3D order: +x+y, -x+y, -x-y, +x-y of the plate's own axes."""
    a, b = plate["half"]
    ax = plate["axes"]
    return np.array([plate["centre"] + sx * a * ax[:, 0] + sy * b * ax[:, 1]
                     for sx, sy in ((1, 1), (-1, 1), (-1, -1), (1, -1))])


def _plate_signals(plate: dict, grf: np.ndarray, cop: np.ndarray, tz: np.ndarray) -> np.ndarray:
    """(T, 6) Fx Fy Fz Mx My Mz in the plate's frame (N, N mm), moments about its sensor
    origin, of the load the subject puts on the plate, given the ground reaction on the
    subject `grf` (T,3) N, its centre of pressure `cop` (T,3) mm and free moment `tz` (T,) N m
    about lab +Z, all in the lab frame."""
    R = plate["axes"]
    action = -grf @ R  # lab -> plate coordinates: R^T v
    free = (-np.outer(tz * 1000.0, [0, 0, 1.0])) @ R
    # The sensor origin lies ORIGIN below the surface centre: the surface centre is at
    # (-ox, -oy, -oz) from it in plate axes (z down); positions relative to the sensor origin.
    rel = (cop - plate["centre"]) @ R - plate["origin"]
    moment = np.cross(rel, action) + free
    return np.column_stack([action, moment])


def _loads(t: np.ndarray, on: tuple[float, float], weight: float, shift: np.ndarray):
    """A half-sine vertical load in [on), shear, a COP moving along the lab's X, a free
    moment: (grf (T,3), cop (T,3) mm, tz (T,), loaded mask)."""
    loaded = (t >= on[0]) & (t < on[1])
    s = np.where(loaded, np.sin(np.pi * (t - on[0]) / (on[1] - on[0])), 0.0)
    grf = np.column_stack([0.1 * weight * s, -0.05 * weight * s, weight * s])
    cop = shift + np.column_stack([np.linspace(-80, 80, len(t)), 20.0 * np.ones(len(t)),
                                   np.zeros(len(t))])
    tz = 3.0 * s
    return grf, cop, tz, loaded


def _markers() -> tuple[list[str], np.ndarray]:
    """Names and (T, M, 3) positions in mm, Z up: heels over the plates, a head marker."""
    t = np.arange(N_FRAMES) / POINT_RATE
    names = ["RHEE", "LHEE", "HEAD"]
    pos = np.zeros((N_FRAMES, 3, 3))
    pos[:, 0] = [260.0, 310.0, 60.0]
    pos[:, 1] = [240.0, 890.0, 60.0]
    pos[:, 2] = np.column_stack([200 + 100 * t, 600 + 0 * t, 1700 + 5 * np.sin(6 * t)])
    return names, pos


def _in_child(kind: str, path: Path, **kw) -> None:
    """Run `_write_<kind>(path, **kw)` in a child process (module docstring)."""
    code = (f"import sys, json; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
            f"import tests.test_simulate_c3d as t; t._write_{kind}({str(path)!r}, **json.loads(sys.argv[1]))")
    done = subprocess.run([sys.executable, "-c", code, json.dumps(kw)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def write_trial(path: Path, **kw) -> dict:
    """Write a C3D with ezc3d (in a child process) and return what it holds (SI, lab frame,
    file clock)."""
    _in_child("trial", path, **kw)
    return _write_trial(None, **kw)


def _write_trial(path: str | None, *, plates: bool = True, units: str = "mm", gap: int = 0,
                 plate_types: tuple[int, int] = (2, 4), invert_plate1: bool = False,
                 moment_unit: str = "Nmm", baseline: bool = False) -> dict:
    """Build the trial; write it with ezc3d when `path` is given; return the expected data."""
    names, pos = _markers()
    scale = {"mm": 1.0, "cm": 0.1, "m": 1e-3}.get(units, 1.0)
    # An empty label and a model output (joint angles stored as a point) must not come out.
    labels = names + ["", "LKneeAngles"]
    points = np.ones((4, len(labels), N_FRAMES))
    points[:3, :3, :] = (pos * scale).transpose(2, 1, 0)
    points[:3, 3, :] = 0.0
    points[:3, 4, :] = 10.0
    if gap:
        points[:3, 0, 40:40 + gap] = np.nan

    n = N_FRAMES * int(ANALOG_RATE / POINT_RATE)
    t = np.arange(n) / ANALOG_RATE
    emg_vl = 0.2 * np.sin(2 * np.pi * 80 * t)  # mV
    emg_ta = 1e-4 * np.cos(2 * np.pi * 60 * t)  # V
    emg_gm = 50.0 * np.sin(2 * np.pi * 40 * t)  # uV
    analog_labels, analog_units, channels = [], [], []
    expected_plates = []
    if plates:
        for k, (plate, on, w) in enumerate(((PLATE1, (0.1, 0.5), 700.0),
                                            (PLATE2, (0.45, 0.9), 650.0))):
            grf, cop, tz, loaded = _loads(t, on, w, plate["centre"])
            sig = _plate_signals(plate, grf, cop, tz)
            if invert_plate1 and k == 0:
                sig = -sig
            if baseline:  # an amplifier nobody zeroed: a constant offset on every channel
                sig = sig + BASELINES[k]
            unit = ["N", "N", "N"] + [moment_unit] * 3
            if plate_types[k] == 4:
                sig = np.linalg.solve(plate["cal"], sig.T).T  # volts the matrix turns back
                unit = ["V"] * 6
            channels.append(list(range(len(analog_labels) + 1, len(analog_labels) + 7)))
            analog_labels += [f"{q}{k + 1}" for q in ("Fx", "Fy", "Fz", "Mx", "My", "Mz")]
            analog_units += unit
            expected_plates.append({"grf": grf, "cop": cop * 1e-3, "tz": tz, "loaded": loaded,
                                    "signals": sig})
    analog_labels += ["EMG_VL", "EMG_TA", "EMG_GM"]
    analog_units += ["mV", "V", "uV"]
    signals = [p["signals"] for p in expected_plates] + [np.column_stack([emg_vl, emg_ta, emg_gm])]

    if path is not None:
        import ezc3d

        c = ezc3d.c3d()
        c["header"]["points"]["first_frame"] = FIRST_FRAME
        c["parameters"]["POINT"]["RATE"]["value"] = [POINT_RATE]
        c["parameters"]["POINT"]["LABELS"]["value"] = labels
        c["parameters"]["POINT"]["UNITS"]["value"] = [units]
        c.add_parameter("POINT", "ANGLES", ["LKneeAngles"])
        c["data"]["points"] = points
        c["parameters"]["ANALOG"]["RATE"]["value"] = [ANALOG_RATE]
        c["parameters"]["ANALOG"]["LABELS"]["value"] = analog_labels
        c["parameters"]["ANALOG"]["UNITS"]["value"] = analog_units
        c["data"]["analogs"] = np.column_stack(signals).T[None, :, :]
        if plates:
            _int_param(c, "FORCE_PLATFORM", "USED", [2])
            _int_param(c, "FORCE_PLATFORM", "TYPE", list(plate_types))
            corners = np.stack([_corners(PLATE1), _corners(PLATE2)], axis=2)  # (4, 3, 2)
            c.add_parameter("FORCE_PLATFORM", "CORNERS", corners.transpose(1, 0, 2))  # (3, 4, 2)
            c.add_parameter("FORCE_PLATFORM", "ORIGIN", np.column_stack([PLATE1["origin"],
                                                                          PLATE2["origin"]]))
            _int_param(c, "FORCE_PLATFORM", "CHANNEL", np.array(channels).T)  # (6, 2)
            # (6, 6, plates): ezc3d reads plate k's matrix as CAL_MATRIX[:, :, k] (column
            # major, as the C3D specification stores it); zeros for the type-2 plate.
            cal = np.zeros((6, 6, 2))
            cal[:, :, 1] = PLATE2["cal"]
            c.add_parameter("FORCE_PLATFORM", "CAL_MATRIX", cal)
        else:
            _int_param(c, "FORCE_PLATFORM", "USED", [0])
        c.write(str(path))
    return {"names": names, "pos_m": pos * 1e-3, "plates": expected_plates,
            "analog_t": FIRST_FRAME / POINT_RATE + t,
            "emg": {"EMG_VL": emg_vl * 1e-3, "EMG_TA": emg_ta, "EMG_GM": emg_gm * 1e-6}}


def _write_analog_only(path: str) -> None:

    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [POINT_RATE]
    c["parameters"]["ANALOG"]["RATE"]["value"] = [ANALOG_RATE]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = ["EMG1"]
    c["parameters"]["ANALOG"]["UNITS"]["value"] = ["V"]
    c["data"]["analogs"] = np.zeros((1, 1, 100))
    del c["data"]["rotations"]  # ezc3d's writer divides the rotations' frames by the points'
    c.write(path)


def _write_yup(path: str) -> None:
    """Markers only, in a Y-up lab: (x, y, z) -> (x, z, -y) of `_markers`."""

    names, pos = _markers()
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [POINT_RATE]
    c["parameters"]["POINT"]["LABELS"]["value"] = names
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    yup = pos[..., [0, 2, 1]] * [1, 1, -1]
    c["data"]["points"] = np.concatenate([yup.transpose(2, 1, 0), np.ones((1, 3, N_FRAMES))])
    c.write(path)


@pytest.fixture
def trial_file(tmp_path):
    path = tmp_path / "trial.c3d"
    return path, write_trial(path)


def test_markers_mm_zup_to_metres(trial_file):
    path, exp = trial_file
    trial = mc3d.read_c3d(path)
    assert trial.markers.names == exp["names"]  # "" and the joint-angle output dropped
    assert trial.markers.rate_hz == POINT_RATE
    np.testing.assert_allclose(trial.markers.positions, exp["pos_m"], atol=1e-6)
    assert trial.first_time_s == pytest.approx(0.2)
    np.testing.assert_allclose(trial.markers.time_s, 0.2 + np.arange(N_FRAMES) / POINT_RATE)
    assert trial.vertical_axis == "+z"


def test_opensim_frame_round_trip(trial_file, tmp_path):
    path, exp = trial_file
    trial = mc3d.to_opensim_frame(mc3d.read_c3d(path))
    assert trial.vertical_axis == "+y"
    lab = exp["pos_m"]
    # Z up -> Y up, right-handed: (x, y, z) -> (x, z, -y).
    expected = np.stack([lab[..., 0], lab[..., 2], -lab[..., 1]], axis=-1)
    np.testing.assert_allclose(trial.markers.positions, expected, atol=1e-6)
    assert np.linalg.det(trial.rotation) == pytest.approx(1.0)
    out = mc3d.write_opensim_files(trial, tmp_path / "out")
    back = read_trc(out["markers"])
    assert back.names == exp["names"]
    np.testing.assert_allclose(back.positions, expected, atol=1e-9)
    np.testing.assert_allclose(back.time_s, trial.markers.time_s)
    # Plates turned too: the weight of plate 1 is now along +Y.
    p1 = trial.plates[0]
    assert p1.force[p1.loaded, 1].min() > 0
    assert abs(p1.force[p1.loaded, 2]).max() < p1.force[p1.loaded, 1].max()


@pytest.mark.parametrize("axis, expected_row", [("x", [0, 1, 0]), ("y", [1, 0, 0]),
                                                ("-z", [1, 0, 0])])
def test_rotation_other_verticals(axis, expected_row):
    R = mc3d.opensim_rotation(axis)
    assert np.linalg.det(R) == pytest.approx(1.0)
    np.testing.assert_allclose(R @ R.T, np.eye(3), atol=1e-12)
    up = np.zeros(3)
    up["xyz".index(axis[-1])] = -1.0 if axis[0] == "-" else 1.0
    np.testing.assert_allclose(R @ up, [0, 1, 0])
    np.testing.assert_allclose(R[0], expected_row)


def test_two_plate_types_known_loads(trial_file):
    path, exp = trial_file
    trial = mc3d.read_c3d(path)
    assert [p.type for p in trial.plates] == [2, 4]
    for p, e in zip(trial.plates, exp["plates"], strict=True):
        np.testing.assert_allclose(p.time_s, exp["analog_t"])
        # The threshold (20 N) trims the half-sine's ends.
        on = e["loaded"] & (e["grf"][:, 2] > 25.0)
        assert p.loaded[on].all() and not p.loaded[~e["loaded"]].any()
        np.testing.assert_allclose(p.force[on], e["grf"][on], atol=1e-6)
        np.testing.assert_allclose(p.cop[on], e["cop"][on], atol=1e-8)
        np.testing.assert_allclose(p.free_moment[on], np.outer(e["tz"][on], [0, 0, 1]), atol=1e-6)
        assert np.isnan(p.cop[~p.loaded]).all()
        assert (p.force[~p.loaded] == 0).all()
    np.testing.assert_allclose(trial.plates[0].corners, _corners(PLATE1) * 1e-3)
    np.testing.assert_allclose(trial.plates[1].centre, PLATE2["centre"] * 1e-3)
    assert trial.plates[0].channels == ["Fx1", "Fy1", "Fz1", "Mx1", "My1", "Mz1"]
    assert "plates' reaction force" in trial.vertical_reason


def test_plate_baselines_removed(tmp_path):
    """Plates whose channels carry a constant offset (not zeroed) read as if zeroed: the same
    forces, centres of pressure and free moments as the zeroed file, no sample "loaded" by
    the offset alone, and a note per plate."""
    path = tmp_path / "offset.c3d"
    exp = write_trial(path, baseline=True)
    trial = mc3d.read_c3d(path)
    for p, e in zip(trial.plates, exp["plates"], strict=True):
        on = e["loaded"] & (e["grf"][:, 2] > 25.0)
        assert p.loaded[on].all() and not p.loaded[~e["loaded"]].any()
        np.testing.assert_allclose(p.force[on], e["grf"][on], atol=1e-6)
        np.testing.assert_allclose(p.cop[on], e["cop"][on], atol=1e-8)
        np.testing.assert_allclose(p.free_moment[on], np.outer(e["tz"][on], [0, 0, 1]),
                                   atol=1e-6)
    notes = [n for n in trial.notes if "when unloaded" in n]
    assert len(notes) == 2
    assert "force plate 1: read -25.0 N" in notes[0] and "force plate 2: read +30.0 N" in notes[1]


def test_plate_cop_and_free_moment_as_ezc3d(trial_file):
    """The centre of pressure and free moment recomputed from ezc3d's force and moment (as
    after a baseline is removed) are ezc3d's own."""
    path, _ = trial_file
    c = ezc3d.c3d(str(path), extract_forceplat_data=True)
    for pf in c["data"]["platform"]:
        force, moment = np.asarray(pf["force"]).T, np.asarray(pf["moment"]).T
        on = np.abs(force[:, 2]) > 25.0
        cop, free = mc3d.plate_cop_and_free_moment(force, moment, np.asarray(pf["corners"]).T)
        np.testing.assert_allclose(cop[on], np.asarray(pf["center_of_pressure"]).T[on],
                                   atol=1e-9)
        np.testing.assert_allclose(free[on], np.asarray(pf["Tz"]).T[on], atol=1e-7)


def test_plate_baseline_needs_quiet_samples():
    """A plate loaded (nearly) throughout has no baseline to take: None, nothing removed."""
    rate = 1000.0
    action = np.zeros((1000, 3))
    action[:, 2] = 600.0
    action[:50, 2] = 10.0  # 50 ms quiet, inside the margin of the load: not enough
    assert mc3d.plate_baseline(action, np.zeros((1000, 3)), np.array([0, 0, 1.0]), rate) is None
    action[:400, 2] = 10.0
    force, moment = mc3d.plate_baseline(action, np.ones((1000, 3)), np.array([0, 0, 1.0]), rate)
    np.testing.assert_allclose(force, [0, 0, 10.0])
    np.testing.assert_allclose(moment, [1.0, 1.0, 1.0])


def test_inverted_plate_channels_are_negated(tmp_path):
    path = tmp_path / "inv.c3d"
    exp = write_trial(path, invert_plate1=True)
    trial = mc3d.read_c3d(path)
    p = trial.plates[0]
    on = exp["plates"][0]["loaded"] & (exp["plates"][0]["grf"][:, 2] > 25.0)
    np.testing.assert_allclose(p.force[on], exp["plates"][0]["grf"][on], atol=1e-6)
    assert any("force plate 1" in n and "negated" in n for n in trial.notes)


def test_analog_emg_channels_with_units(trial_file):
    path, exp = trial_file
    trial = mc3d.read_c3d(path)
    assert set(trial.analogs) == {"EMG_VL", "EMG_TA", "EMG_GM"}  # plate channels excluded
    assert trial.analog_rate_hz == ANALOG_RATE
    for name, values in exp["emg"].items():
        t, v, unit = trial.analogs[name]
        assert unit == "V"
        np.testing.assert_allclose(t, exp["analog_t"])
        np.testing.assert_allclose(v, values, rtol=1e-5, atol=1e-12)


def test_grf_mot_numbered_plates(trial_file, tmp_path):
    path, exp = trial_file
    trial = mc3d.to_opensim_frame(mc3d.read_c3d(path))
    out = mc3d.write_opensim_files(trial, tmp_path / "out")
    mot = read_mot(out["grf"], rotational=set())
    assert mot.names[:9] == mc3d.plate_columns(1)
    assert mot.names[9:] == mc3d.plate_columns(2)
    np.testing.assert_allclose(mot.time_s, exp["analog_t"])
    e = exp["plates"][0]
    on = e["loaded"] & (e["grf"][:, 2] > 25.0)
    np.testing.assert_allclose(mot.column("1_ground_force_vy")[on], e["grf"][on, 2], atol=1e-6)
    np.testing.assert_allclose(mot.column("1_ground_force_pz")[on], -e["cop"][on, 1], atol=1e-9)
    np.testing.assert_allclose(mot.column("1_ground_torque_y")[on], e["tz"][on], atol=1e-6)
    off = ~trial.plates[0].loaded
    np.testing.assert_allclose(mot.column("1_ground_force_px")[off], 0.25)  # plate centre
    assert set(out["analogs"]) == {"EMG_VL", "EMG_TA", "EMG_GM"}


def test_assign_plates_to_feet(trial_file, tmp_path):
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS, read_measured_grf

    path, exp = trial_file
    trial = mc3d.to_opensim_frame(mc3d.read_c3d(path))
    names = trial.markers.names
    # Plate 1 lies under the right heel, plate 2 under the left one.
    feet = {"r": trial.markers.positions[:, names.index("RHEE")],
            "l": trial.markers.positions[:, names.index("LHEE")]}
    loads = mc3d.assign_plates_to_feet(trial, feet)
    assert [(p["plate"], p["side"]) for p in loads.periods] == [(1, "r"), (2, "l")]
    written = loads.write(tmp_path / "feet.mot")
    grf = read_measured_grf(written)
    idx = {c: i for i, c in enumerate(GRF_CHANNELS)}
    # musclekit's channels name the sides in full: ground_force_right_vy ...
    for side, e, p in (("right", exp["plates"][0], trial.plates[0]),
                       ("left", exp["plates"][1], trial.plates[1])):
        on = p.loaded
        np.testing.assert_allclose(grf.values[on, idx[f"ground_force_{side}_vy"]],
                                   e["grf"][on, 2], atol=1e-6)
        np.testing.assert_allclose(grf.values[on, idx[f"ground_force_{side}_px"]],
                                   e["cop"][on, 0], atol=1e-8)
        np.testing.assert_allclose(grf.values[on, idx[f"ground_torque_{side}_y"]],
                                   e["tz"][on], atol=1e-6)


def test_two_plates_on_one_foot_are_summed(trial_file):
    path, _ = trial_file
    trial = mc3d.to_opensim_frame(mc3d.read_c3d(path))
    # Both feet placed far on the right side: both plates go to the right foot.
    n = len(trial.markers.time_s)
    feet = {"r": np.tile([0.25, 0.0, -0.6], (n, 1)), "l": np.tile([5.0, 0.0, 5.0], (n, 1))}
    loads = mc3d.assign_plates_to_feet(trial, feet)
    assert {p["side"] for p in loads.periods} == {"r"}
    m = loads.motion
    p1, p2 = trial.plates
    both = p1.loaded & p2.loaded
    assert both.any()
    F = p1.force + p2.force
    np.testing.assert_allclose(m.column("ground_force_r_vy")[both], F[both, 1], atol=1e-9)
    # The combined wrench about the origin is preserved by the combined COP + free torque.
    M = np.cross(p1.cop[both], p1.force[both]) + np.cross(p2.cop[both], p2.force[both]) \
        + p1.free_moment[both] + p2.free_moment[both]
    cop = np.column_stack([m.column(f"ground_force_r_p{a}") for a in "xyz"])[both]
    T = np.column_stack([m.column(f"ground_torque_r_{a}") for a in "xyz"])[both]
    np.testing.assert_allclose(np.cross(cop, F[both]) + T, M, atol=1e-6)
    assert (m.column("ground_force_l_vy") == 0).all()


def test_marker_gaps_filled_or_refused(tmp_path):
    short = tmp_path / "short.c3d"
    exp = write_trial(short, gap=5)  # 0.05 s
    trial = mc3d.read_c3d(short)
    assert np.isnan(trial.markers.positions[40:45, 0]).all()  # kept NaN on reading
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(trial), tmp_path / "ok")
    assert out["filled_gaps"][0]["marker"] == "RHEE"
    assert any("RHEE" in n and "filled" in n for n in out["notes"])
    back = read_trc(out["markers"])
    assert np.isfinite(back.positions).all()
    np.testing.assert_allclose(back.positions[40:45, 0, 0], exp["pos_m"][40:45, 0, 0], atol=1e-6)

    # A longer gap leaves the marker out of those frames (NaN, which OpenSim's IK skips);
    # the trial is not refused.
    long = tmp_path / "long.c3d"
    write_trial(long, gap=15)  # 0.15 s
    trial = mc3d.to_opensim_frame(mc3d.read_c3d(long))
    out = mc3d.write_opensim_files(trial, tmp_path / "left_out")
    assert [g["how"] for g in out["filled_gaps"]] == ["left out"]
    assert any("'RHEE'" in n and "left out of IK" in n and "0.600-0.740 s" in n
               for n in out["notes"])
    back = read_trc(out["markers"], allow_missing=True)
    assert np.isnan(back.positions[40:55, 0]).all() and np.isfinite(back.positions[:40]).all()
    assert np.isfinite(back.positions[55:]).all()


def test_units_cm_and_unknown(tmp_path):
    cm = tmp_path / "cm.c3d"
    exp = write_trial(cm, units="cm", plates=False)
    trial = mc3d.read_c3d(cm)
    np.testing.assert_allclose(trial.markers.positions, exp["pos_m"], atol=1e-6)
    bad = tmp_path / "inch.c3d"
    write_trial(bad, units="in", plates=False)
    with pytest.raises(InputError, match=r"cannot interpret POINT:UNITS 'in'") as err:
        mc3d.read_c3d(bad)
    # The fix it names is one a user can do (issue 22: it named an option that does not exist).
    assert "point_units" not in str(err.value) and "export the trial again" in str(err.value)
    assert mc3d.read_c3d(bad, point_units="mm").markers.positions.shape == (N_FRAMES, 3, 3)


def test_no_plates_with_grf_refused(tmp_path):
    path = tmp_path / "noplates.c3d"
    write_trial(path, plates=False)
    trial = mc3d.read_c3d(path)
    assert trial.plates == [] and set(trial.analogs) == {"EMG_VL", "EMG_TA", "EMG_GM"}
    with pytest.raises(InputError, match=r"has no force plates \(FORCE_PLATFORM:USED = 0\): "
                                         r"drop --grf or give the force file with --grf"):
        mc3d.read_c3d(path, require_plates=True)
    out = tmp_path / "out"
    with pytest.raises(InputError, match="has no force plates"):
        mc3d.plates_motion(mc3d.to_opensim_frame(trial))
    assert not out.exists()
    # Without --grf the markers still go out, and no grf.mot.
    written = mc3d.write_opensim_files(mc3d.to_opensim_frame(trial), out)
    assert written["grf"] is None and not (out / "grf.mot").exists()


def test_unsupported_plate_type(tmp_path):
    path = tmp_path / "type3.c3d"
    write_trial(path, plate_types=(2, 5))
    with pytest.raises(InputError, match=r"force plate 2 is of FORCE_PLATFORM:TYPE 5"):
        mc3d.read_c3d(path)


def test_moment_units_inconsistent_with_points(tmp_path):
    path = tmp_path / "nm.c3d"
    write_trial(path, moment_unit="N.m")
    with pytest.raises(InputError, match=r"force plate 1's moment channel 'Mx1' is in 'N.m'"):
        mc3d.read_c3d(path)


def test_missing_and_not_c3d(tmp_path):
    with pytest.raises(InputError, match="C3D file not found"):
        mc3d.read_c3d(tmp_path / "nope.c3d")
    text = tmp_path / "fake.c3d"
    text.write_text("time,x\n" * 200)
    with pytest.raises(InputError, match="not a C3D file"):
        mc3d.read_c3d(text)
    short = tmp_path / "short.c3d"
    short.write_bytes(b"\x02\x50")
    with pytest.raises(InputError, match="not a C3D file"):
        mc3d.read_c3d(short)


def test_no_markers(tmp_path):
    path = tmp_path / "analog_only.c3d"
    _in_child("analog_only", path)
    with pytest.raises(InputError, match="has no markers"):
        mc3d.read_c3d(path)


def test_vertical_guess_from_markers_without_plates(tmp_path):
    path = tmp_path / "yup.c3d"
    _in_child("yup", path)
    trial = mc3d.read_c3d(path)
    assert trial.vertical_axis == "+y" and "spread" in trial.vertical_reason
    turned = mc3d.to_opensim_frame(trial)
    np.testing.assert_allclose(turned.markers.positions, trial.markers.positions)


def test_read_after_opensim_wrote(tmp_path):
    """The reader builds no SWIG vector, so it runs after OpenSim's writers in one process."""
    from musclekit.pipelines.simulate.opensim.files import Motion, write_mot

    path = tmp_path / "trial.c3d"
    write_trial(path)
    write_mot(tmp_path / "x.mot", Motion(np.arange(3.0), ["a"], np.zeros((3, 1))))
    trial = mc3d.read_c3d(path)
    assert len(trial.plates) == 2
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(trial), tmp_path / "out")
    assert out["grf"].is_file()
