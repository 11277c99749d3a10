"""Issue 26, "any lab's real files": C3D and TRC exports as labs write them.

- labels the model does not use (unlabelled `*N`, Plug-in-Gait outputs and virtual points,
  markers of another set) are ignored before any gap is looked at;
- a used marker's short gaps are filled, long ones leave it out of IK for that stretch
  (NaN in the TRC, which OpenSim's IK skips), frames that see too few markers at the trial's
  ends are trimmed: the trial is not failed;
- repeated labels (Helen Hayes exports) are renamed, not a traceback;
- `--static` takes a C3D; mass and height come from the C3D's parameters when not typed;
- IK's frames match the marker frames whatever the clock (120 Hz from frame 479: 438 frames
  stay 438);
- a TRC whose header's NumFrames is wrong is read as OpenSim reads it; times written with
  3 decimals keep the header's rate (60 Hz, not 58.82 Hz).

C3D files are written with ezc3d in a child process (ezc3d and OpenSim cannot both write in
one process: tests/test_simulate_c3d.py). Tests on the shared corpus skip when it is absent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ezc3d  # noqa: F401  (a required dependency: missing fails the suite)
import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics import c3d as mc3d
from musclekit.pipelines.simulate.opensim.files import read_trc, write_trc

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus"
ROOT = Path(__file__).resolve().parents[1]


def _corpus(rel: str) -> Path:
    path = CORPUS / rel
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared corpus is not laid out beside this checkout)")
    return path


# ----------------------------------------------------------------------------------------
# C3D files written here


def _write_c3d(path: str, spec: str) -> None:
    """Write a C3D from the arrays of `spec` (.npz): labels, points (T, M, 3) mm Z up with NaN
    for gaps, rate, first_frame, optional angles (POINT:ANGLES labels), mass/height."""
    z = np.load(spec, allow_pickle=False)
    labels = [str(n) for n in z["labels"]]
    pts = z["points"]
    n = pts.shape[0]
    c = ezc3d.c3d()
    c["header"]["points"]["first_frame"] = int(z["first_frame"])
    c["parameters"]["POINT"]["RATE"]["value"] = [float(z["rate"])]
    c["parameters"]["POINT"]["LABELS"]["value"] = labels
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    angles = [str(a) for a in z["angles"]]
    if angles:
        c.add_parameter("POINT", "ANGLES", angles)
    if float(z["mass"]) > 0:
        c.add_parameter("PROCESSING", "Bodymass", [float(z["mass"])])
        c.add_parameter("PROCESSING", "Height", [float(z["height_mm"])])
    data = np.ones((4, len(labels), n))
    data[:3] = pts.transpose(2, 1, 0)
    c["data"]["points"] = data
    c.write(path)


def write_c3d(path: Path, labels: list[str], points_mm: np.ndarray, *, rate: float = 100.0,
              first_frame: int = 0, angles: tuple[str, ...] = (), mass: float = 0.0,
              height_mm: float = 0.0) -> None:
    spec = path.with_suffix(".npz")
    np.savez(spec, labels=np.array(labels), points=points_mm, rate=rate,
             first_frame=first_frame, angles=np.array(list(angles), dtype=str), mass=mass,
             height_mm=height_mm)
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"import tests.test_simulate_real_files as t; t._write_c3d({str(path)!r}, {str(spec)!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]


def _walk(n: int, names: list[str], rate: float = 100.0) -> np.ndarray:
    """(n, M, 3) mm, Z up: markers spread over a body walking along X at 1.2 m/s."""
    rng = np.random.default_rng(3)
    base = rng.uniform([-150, -200, 50], [150, 200, 1700], size=(len(names), 3))
    t = np.arange(n) / rate
    pos = base[None] + np.zeros((n, 1, 3))
    pos[..., 0] += 1200.0 * t[:, None]
    pos[..., 2] += 10.0 * np.sin(2 * np.pi * t)[:, None]
    return pos


USED = ["RASI", "LASI", "RPSI", "LPSI", "RKNE", "LKNE"]


def test_unused_labels_are_ignored_before_gaps(tmp_path):
    """Unlabelled trajectories, PiG outputs (angles) and virtual points (HEDO, with a long
    gap) never fail a trial; only the model's markers are written."""
    n = 100
    labels = USED + ["*3", "HEDO", "LKneeAngles", "*12"]
    pts = _walk(n, labels)
    pts[5:95, USED.index("LKNE") + 1 + 0] = np.nan  # '*3': mostly a gap
    pts[10:90, labels.index("HEDO")] = np.nan  # a PiG output with a 0.8 s gap
    pts[:, labels.index("*12")] = np.nan
    path = tmp_path / "pig.c3d"
    write_c3d(path, labels, pts, angles=("LKneeAngles",))
    trial = mc3d.read_c3d(path)
    assert trial.markers.names == USED + ["HEDO"]
    assert any("2 unlabelled trajectories ignored (*3, *12)" in n for n in trial.notes)
    assert any("1 model outputs stored as points ignored" in n for n in trial.notes)
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(trial), tmp_path / "out",
                                   used=USED + ["RANK"])
    assert read_trc(out["markers"]).names == USED
    assert any("labels the model does not use ignored (HEDO)" in n for n in out["notes"])
    assert out["filled_gaps"] == []
    assert mc3d.c3d_marker_names(path, USED + ["RANK"]) == USED
    # None of the model's markers in the file: said with the fix, not a traceback.
    with pytest.raises(InputError, match=r"none of its 7 markers .* is a marker of the model.*"
                       r"--marker-set"):
        mc3d.write_opensim_files(mc3d.to_opensim_frame(trial), tmp_path / "none", used=["XX"])


def test_long_gap_at_the_start_leaves_the_marker_out_there(tmp_path):
    """A 0.82 s gap at the start of a used marker (the Vicon treadmill file): the marker is
    left out of those frames (NaN in the TRC, skipped by OpenSim's IK), not held for 0.82 s and
    not a failed trial; short gaps inside are filled."""
    n, rate = 250, 250.0
    pts = _walk(n, USED, rate)
    pts[:205, 0] = np.nan  # RASI: 0.82 s
    pts[100:110, 1] = np.nan  # LASI: 0.04 s inside: filled
    path = tmp_path / "treadmill.c3d"
    write_c3d(path, USED, pts, rate=rate)
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(mc3d.read_c3d(path)), tmp_path / "o",
                                   used=USED)
    back = read_trc(out["markers"], allow_missing=True)
    assert np.isnan(back.positions[:205, 0]).all() and np.isfinite(back.positions[205:, 0]).all()
    assert np.isfinite(back.positions[:, 1:]).all()
    assert back.rate_hz == pytest.approx(250.0)
    hows = {(g["marker"], g["how"]) for g in out["filled_gaps"]}
    assert hows == {("RASI", "left out"), ("LASI", "spline")}
    assert any("'RASI'" in n and "left out of IK" in n and "0.000-0.816 s" in n
               for n in out["notes"])
    # The default TRC reader still refuses NaN with its message; the C3D path reads them.
    with pytest.raises(InputError, match="missing or NaN"):
        read_trc(out["markers"])


def test_frames_seeing_too_few_markers_at_the_ends_are_trimmed(tmp_path):
    n = 100
    pts = _walk(n, USED)
    pts[:10, :4] = np.nan  # the first 0.1 s sees 2 of 6 markers
    pts[95:, :] = np.nan  # the last 5 frames see none
    path = tmp_path / "ends.c3d"
    write_c3d(path, USED, pts)
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(mc3d.read_c3d(path)), tmp_path / "o",
                                   used=USED)
    back = read_trc(out["markers"], allow_missing=True)
    assert len(back.time_s) == 85 and back.time_s[0] == pytest.approx(0.10)
    assert any("trimmed: the trial runs 0.100-0.940 s" in n for n in out["notes"])
    # A stretch inside the trial where no marker is seen is refused with the fix.
    pts = _walk(n, USED)
    pts[40:60, :] = np.nan
    write_c3d(path, USED, pts)
    with pytest.raises(InputError, match=r"at t = 0\.400 s none of the model's 6 markers is "
                       r"seen.*cut the trial"):
        mc3d.write_opensim_files(mc3d.to_opensim_frame(mc3d.read_c3d(path)), tmp_path / "x",
                                 used=USED)


def test_repeated_labels_are_renamed(tmp_path):
    """Helen Hayes exports repeat labels (RKNE lateral and medial): a name each, a note."""
    labels = ["RKNE", "RANK", "RKNE", "RANK", "RKNE"]
    path = tmp_path / "hh.c3d"
    write_c3d(path, labels, _walk(20, labels))
    trial = mc3d.read_c3d(path)
    assert trial.markers.names == ["RKNE", "RANK", "RKNE_2", "RANK_2", "RKNE_3"]
    assert any("repeated labels renamed: RKNE (point 3) -> RKNE_2" in n for n in trial.notes)


def test_static_trial_drops_markers_with_long_gaps(tmp_path):
    """A static trial for OpenSim's ScaleTool: no NaN may remain, so a marker with a long gap
    is dropped (with a note) instead of being left out frame by frame."""
    pts = _walk(50, USED)
    pts[10:40, 2] = np.nan
    path = tmp_path / "static.c3d"
    write_c3d(path, USED, pts)
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(mc3d.read_c3d(path)), tmp_path / "s",
                                   used=USED, static=True)
    back = read_trc(out["markers"])  # the strict reader: no NaN
    assert back.names == [n for n in USED if n != "RPSI"]
    assert any("'RPSI' has gaps longer than 0.1 s: dropped" in n for n in out["notes"])


def test_mass_and_height_from_the_c3d(tmp_path):
    path = tmp_path / "subject.c3d"
    write_c3d(path, USED, _walk(10, USED), mass=74.0, height_mm=1760.0)
    assert mc3d.c3d_subject(path) == {"mass_kg": 74.0, "height_m": 1.76, "from": {
        "mass_kg": "PROCESSING:Bodymass", "height_m": "PROCESSING:Height"}}
    assert mc3d.read_c3d(path).subject["mass_kg"] == 74.0
    mass, height, where = mc3d.subject_from_c3d(None, None, [None, path])
    assert (mass, height) == (74.0, 1.76) and "PROCESSING:Bodymass of subject.c3d" in where
    # Typed values win; a file without them gives nothing.
    assert mc3d.subject_from_c3d(80.0, 1.8, [path]) == (80.0, 1.8, None)
    bare = tmp_path / "bare.c3d"
    write_c3d(bare, USED, _walk(10, USED))
    assert mc3d.c3d_subject(bare) == {}
    assert mc3d.subject_from_c3d(None, None, [bare]) == (None, None, None)


# ----------------------------------------------------------------------------------------
# TRC files as labs write them


def _trc_text(times: list[str], n_frames_header: int, rate: str = "60") -> str:
    head = ("PathFileType\t4\t(X/Y/Z)\tx.trc\n"
            "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
            "OrigDataStartFrame\tOrigNumFrames\n"
            f"{rate}\t{rate}\t{n_frames_header}\t2\tmm\t{rate}\t1\t{n_frames_header}\n"
            "Frame#\tTime\tA\t\t\tB\t\t\n\t\tX1\tY1\tZ1\tX2\tY2\tZ2\n\n")
    rows = [f"{k + 1}\t{t}\t{k}.0\t1000.0\t0.0\t{k}.5\t900.0\t100.0" for k, t in enumerate(times)]
    return head + "\n".join(rows) + "\n"


def test_trc_with_a_wrong_numframes_is_read_like_opensim(tmp_path):
    path = tmp_path / "x.trc"
    path.write_text(_trc_text([f"{k / 100:.2f}" for k in range(30)], 3514, rate="100"))
    data = read_trc(path)
    assert data.positions.shape == (30, 2, 3)
    assert data.notes == ["x.trc: header says NumFrames=3514 but the file has 30 data rows; "
                          "the rows are read (as OpenSim does)"]


def test_trc_times_rounded_to_1ms_keep_the_header_rate(tmp_path):
    """A 60 Hz trial written with 3 decimals (0.017, 0.033 ...): the rate stays 60 Hz, in what
    musclekit reads and in the TRC it writes again (it was 58.82 Hz)."""
    path = tmp_path / "x.trc"
    path.write_text(_trc_text([f"{k / 60:.3f}" for k in range(120)], 120))
    data = read_trc(path)
    np.testing.assert_allclose(data.time_s, np.arange(120) / 60, atol=1e-12)
    assert any("rounded in the file" in n for n in data.notes)
    again = write_trc(tmp_path / "again.trc", data.time_s, data.names, data.positions)
    assert again.read_text().splitlines()[2].split("\t")[0] == "60"
    assert read_trc(again).rate_hz == pytest.approx(60.0)
    # Times that really are irregular stay as they are.
    jitter = tmp_path / "jitter.trc"
    jitter.write_text(_trc_text(["0.000", "0.017", "0.050", "0.051"], 4))
    np.testing.assert_allclose(read_trc(jitter).time_s, [0.0, 0.017, 0.05, 0.051])


# ----------------------------------------------------------------------------------------
# end to end through `musclekit simulate --until ik`


def _model_points(rate: float, n: int) -> tuple[list[str], np.ndarray]:
    """The default model's markers at its default pose (OpenSim frame, m) swaying, as a Z-up
    lab in mm."""
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.model import default_model_path

    model = osim.Model(str(default_model_path()))
    state = model.initSystem()
    ms = model.getMarkerSet()
    names = [ms.get(i).getName() for i in range(ms.getSize())]
    pos = np.array([ms.get(i).getLocationInGround(state).to_numpy() for i in range(len(names))])
    pos[:, 1] -= pos[:, 1].min() - 0.02
    t = np.arange(n) / rate
    p = pos[None] + 0.01 * np.sin(2 * np.pi * t)[:, None, None] * np.array([1.0, 0.0, 0.0])
    return names, np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1) * 1000.0


@pytest.mark.timeout(900)
def test_simulate_c3d_static_c3d_mass_from_file_and_frames(tmp_path):
    """`--c3d walk.c3d --static static.c3d` without --mass: the mass comes from the C3D,
    scaling runs on the static C3D, unlabelled trajectories and unused labels are ignored, a
    used marker with a long gap is left out there, and IK's frames are the marker frames at
    120 Hz from frame 479 (t = 3.99166... s: IK's .mot prints 8 decimals)."""
    from musclekit.cli.main import main
    from musclekit.dataset import open_dataset

    rate, n = 120.0, 36
    names, pts = _model_points(rate, n)
    extra = ["*1", "HEDO"]
    pts = np.concatenate([pts, pts[:, :2] + 50.0], axis=1)
    pts[:, -2] = np.nan  # '*1': never labelled, never seen
    pts[3:30, -1] = np.nan  # HEDO: a PiG output with a long gap
    walk = pts.copy()
    gap = names.index("RTOE")
    walk[10:30, gap] = np.nan  # 0.17 s: left out there
    static = tmp_path / "static.c3d"
    trial = tmp_path / "walk.c3d"
    write_c3d(static, names + extra, pts, rate=rate, mass=74.0, height_mm=1760.0)
    write_c3d(trial, names + extra, walk, rate=rate, first_frame=479)
    ds = tmp_path / "ds"
    assert main(["simulate", "--c3d", str(trial), "--static", str(static), "--until", "ik",
                 "--out", str(ds), "--workers", "0"]) == 0
    d = open_dataset(ds)
    seq = d.sequences["walk"]
    assert d.subjects[seq.subject_id].mass_kg == pytest.approx(74.0)
    kin = seq.extra["kinematics"]
    assert "PROCESSING:Bodymass of static.c3d" in kin["mass_from"]
    assert kin["frames"] == n
    markers = d.sequence_array("markers", "walk")
    assert "HEDO" not in markers.channels and "*1" not in markers.channels
    assert markers.time_s[0] == pytest.approx(479 / 120.0)
    warnings = "\n".join(kin["warnings"])
    assert "'RTOE'" in warnings and "left out of IK" in warnings
    assert kin["ik_rms_mean_m"] < 0.02
    assert kin["scale"]["static_trc"].endswith("markers.trc")
    assert json.dumps(kin)  # metadata stays JSON


# ----------------------------------------------------------------------------------------
# the shared corpus


@pytest.mark.parametrize("rel", ["btk_pig/walk.c3d", "btk_pig/static.c3d",
                                 "btk_functional/walk.c3d", "btk_functional/static.c3d",
                                 "btk_helenhayes/gait.c3d", "vicon_treadmill/walking2.c3d"])
def test_corpus_c3d_reads_and_writes_for_a_model(rel, tmp_path):
    """Every corpus C3D reads; with the default model's markers the trial's files are
    written (unused labels and their gaps ignored), without a traceback."""
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    path = _corpus(rel)
    trial = mc3d.read_c3d(path)
    assert not any(mc3d.UNLABELLED.fullmatch(n) for n in trial.markers.names)
    assert len(set(trial.markers.names)) == len(trial.markers.names)
    used = mc3d.model_marker_names(default_model_path())
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(trial), tmp_path / "o", used=used,
                                   static="static" in rel)
    written = read_trc(out["markers"], allow_missing=True).names
    assert set(written) <= set(used)
    if "static" not in rel:
        assert written == mc3d.c3d_marker_names(path, used)


def test_corpus_plate_baselines():
    """The Vicon treadmill walk's plates were not zeroed (-13.7 and -19.9 N unloaded): the
    offsets are removed, so plate 2 no longer flickers "loaded" against the 20 N threshold
    through the swing (it did 700+ times), each plate carries one stance; the Plug-in-Gait
    walk, zeroed by Nexus, is unchanged and says nothing."""
    vicon = mc3d.read_c3d(_corpus("vicon_treadmill/walking2.c3d"))
    notes = [n for n in vicon.notes if "when unloaded" in n]
    assert len(notes) == 2 and "read -13.7 N" in notes[0] and "read -19.9 N" in notes[1]
    for p in vicon.plates:
        long = [(a, b) for a, b in mc3d._runs(p.loaded) if b - a > 0.01 * vicon.analog_rate_hz]
        assert len(long) == 1 and mc3d._runs(p.loaded)[0] == long[0]
        assert p.loaded.sum() < 1.05 * (long[0][1] - long[0][0])
    pig = mc3d.read_c3d(_corpus("btk_pig/walk.c3d"))
    assert not any("when unloaded" in n for n in pig.notes)
    assert [len(mc3d._runs(p.loaded)) for p in pig.plates] == [1, 1, 1]


def test_corpus_subjects_and_labels():
    pig = _corpus("btk_pig/walk.c3d")
    assert mc3d.c3d_subject(pig) == {"mass_kg": 74.0, "height_m": 1.76, "from": {
        "mass_kg": "PROCESSING:Bodymass", "height_m": "PROCESSING:Height"}}
    func = mc3d.c3d_subject(_corpus("btk_functional/static.c3d"))
    assert (func["mass_kg"], func["height_m"]) == (60.0, 1.68)
    hh = mc3d.read_c3d(_corpus("btk_helenhayes/gait.c3d"))
    assert {"RKNE", "RKNE_2", "LANK", "LANK_2", "RFOO_2"} <= set(hh.markers.names)
    walk = mc3d.read_c3d(pig)
    assert any("unlabelled trajectories ignored (*1, *2, *3" in n for n in walk.notes)


def test_corpus_lisbon_trc_reads_with_its_wrong_numframes():
    data = read_trc(_corpus("lisbon_shoulder/abdbonepin.trc"))
    assert data.positions.shape == (1991, 11, 3) and data.rate_hz == 100.0
    assert "NumFrames=3514" in data.notes[0]


def test_plate_loaded_outside_the_motion_goes_to_no_foot(tmp_path):
    """The Vicon treadmill file: a plate loaded for 5 ms before the first frame IK poses
    failed the whole trial ('the foot positions are unknown'). Such a period goes to no foot,
    listed with why; the others are assigned as before."""
    from tests.test_simulate_c3d import write_trial

    path = tmp_path / "trial.c3d"
    write_trial(path)
    trial = mc3d.to_opensim_frame(mc3d.read_c3d(path))
    names, t = trial.markers.names, trial.markers.time_s
    late = t >= 0.75  # the motion starts after plate 1's load (0.3-0.7 s on the file's clock)
    feet = {"r": trial.markers.positions[late, names.index("RHEE")],
            "l": trial.markers.positions[late, names.index("LHEE")]}
    loads = mc3d.assign_plates_to_feet(trial, feet, time_s=t[late])
    assert [(p["plate"], p["side"]) for p in loads.periods] == [(1, None), (2, "l")]
    assert "given to no foot" in loads.periods[0]["why"]
    vy = loads.motion.values[:, loads.motion.names.index("ground_force_r_vy")]
    assert (vy == 0).all()


def test_corpus_pig_with_the_preset_takes_only_its_markers():
    """With `--marker-set plug-in-gait` the preset's names are the model's markers: PiG's
    virtual points (LFEO, PELO ...) and unlabelled trajectories are ignored."""
    used = mc3d.model_marker_names("unused.osim", "plug-in-gait")
    names = mc3d.c3d_marker_names(_corpus("btk_pig/walk.c3d"), used)
    assert {"LASI", "RKNE", "LHEE", "RTOE"} <= set(names)
    assert not {"LFEO", "PELO", "*3"} & set(names)


def test_points_at_exactly_the_origin_are_gaps(tmp_path):
    """Exporters write a missing sample as (0, 0, 0) with a valid residual (the corpus'
    Vicon Workstation static trial: every upper-body marker): read as a gap, so a static
    trial drops the marker instead of scaling the model to half its size."""
    pts = _walk(30, USED)
    pts[:, 0] = 0.0  # RASI never recorded
    pts[5:8, 1] = 0.0  # LASI: 3 frames
    path = tmp_path / "zeros.c3d"
    write_c3d(path, USED, pts)
    trial = mc3d.read_c3d(path)
    assert np.isnan(trial.markers.positions[:, 0]).all()
    assert np.isnan(trial.markers.positions[5:8, 1]).all()
    out = mc3d.write_opensim_files(mc3d.to_opensim_frame(trial), tmp_path / "s", used=USED,
                                   static=True)
    assert read_trc(out["markers"]).names == USED[1:]


def test_corpus_pig_plates_go_to_the_foot_that_stands_on_them():
    """Plug-in-Gait walk, 3 plates: at a plate's mid-stance the swinging foot passes as near
    its centre of pressure as the standing one (the rule that looked at the middle frame gave
    all three plates to the wrong feet); over the period the standing heel stays ~15 cm from
    it and the other ~40 cm."""
    trial = mc3d.to_opensim_frame(mc3d.read_c3d(_corpus("btk_pig/walk.c3d")))
    names = trial.markers.names
    feet = {"r": trial.markers.positions[:, names.index("RHEE")],
            "l": trial.markers.positions[:, names.index("LHEE")]}
    loads = mc3d.assign_plates_to_feet(trial, feet)
    assert [(p["plate"], p["side"]) for p in loads.periods] == [(1, "l"), (2, "r"), (3, "l")]
    for p in loads.periods:
        near, far = sorted(p["distances_m"].values())
        assert near < 0.2 and far > 0.3
