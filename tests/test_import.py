"""`musclekit import KIND SRC --out DS`: MinT, AddBiomechanics, OpenCap and MIA into the
unified schema; each dataset validates and trains; bad inputs get clear messages."""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest

from musclekit.cli.main import main
from musclekit.dataset import Flag, open_dataset
from musclekit.dataset.validate import validate_dataset
from musclekit.errors import InputError, MissingDependencyError
from musclekit.pipelines.importers import ImportOptions, import_dataset
from musclekit.pipelines.importers import addbiomechanics as b3d
from musclekit.pipelines.importers.common import ImportResult
from tests.helpers.import_fixtures import (
    OPENCAP_DATA,
    b3d_file,
    mia_folder,
    mint_folder,
    opencap_session,
)

TRAIN = ["--model", "lstm", "--width", "16", "--layers", "1", "--max-steps", "6",
         "--eval-every", "3", "--device", "cpu", "--threads", "1", "--batch-size", "16"]
needs_opencap = pytest.mark.skipif(not OPENCAP_DATA.is_dir(),
                                   reason=f"OpenCap test files not found at {OPENCAP_DATA}")


def _errors(path):
    return [f for f in validate_dataset(path) if f.level == "error"]


def _train(ds, run, *args) -> int:
    return main(["-q", "train", str(ds), "--out", str(run), *args, *TRAIN])


# -- MinT --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mint(tmp_path_factory):
    root = tmp_path_factory.mktemp("mint")
    src = mint_folder(root / "src")
    assert main(["import", "mint", str(src), "--out", str(root / "ds")]) == 0
    return root


def test_mint_maps_streams_units_subjects_and_gaps(mint):
    ds = open_dataset(mint / "ds")
    assert not _errors(mint / "ds")
    assert set(ds.streams) == {"activations", "grf", "muscle_forces"}
    assert ds.streams["activations"].rate_hz == 50.0
    assert set(ds.streams["activations"].units) == {"1"}
    assert set(ds.streams["muscle_forces"].units) == {"N"}
    grf = ds.streams["grf"]
    assert grf.units[grf.channels.index("ground_force_right_px")] == "m"
    assert grf.units[grf.channels.index("ground_torque_left_z")] == "N m"
    subj = ds.subjects["TotalCapture_s1"]
    assert subj.sex == "F" and subj.height_m == pytest.approx(1.75)
    seq = ds.sequences["TotalCapture_s2_walking1"]
    assert seq.source == "mint" and seq.extra["babel_sid"] == 101
    arr = ds.sequence_array("activations", "TotalCapture_s2_walking1")
    assert arr.time_s[0] == pytest.approx(0.14)  # MinT's own time, first 0.14 s cut
    missing = (arr.flags & Flag.MISSING).astype(bool)
    assert missing.sum() == 30 and missing[60:90].all()  # the failed chunk is a gap
    assert ds.sequence_stream("TotalCapture_s2_walking1", "activations").gaps


def test_mint_rerun_skips_and_trains(mint):
    assert main(["import", "mint", str(mint / "src"), "--out", str(mint / "ds")]) == 0
    assert len(open_dataset(mint / "ds").records) == 3
    assert _train(mint / "ds", mint / "run", "--input", "grf", "--target", "activations",
                  "--no-evaluate") == 0


def test_mint_bad_inputs(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        import_dataset("mint", tmp_path / "nope", tmp_path / "ds")
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no metadata CSV"):
        import_dataset("mint", tmp_path / "empty", tmp_path / "ds")
    bad = tmp_path / "badcsv"
    bad.mkdir()
    (bad / "x.csv").write_text("a,b\n1,2\n")
    with pytest.raises(InputError, match=r"lacks the columns \['data_path'"):
        import_dataset("mint", bad, tmp_path / "ds")
    src = mint_folder(tmp_path / "src", n_sequences=1, gap_in=None)
    pkl = next(src.rglob("muscle_activations.pkl"))
    pkl.write_bytes(pkl.read_bytes()[:40])
    with pytest.raises(InputError, match="not a readable pickled DataFrame"):
        import_dataset("mint", src, tmp_path / "ds2")
    pd.DataFrame().to_pickle(pkl)
    with pytest.raises(InputError, match="holds no data"):
        import_dataset("mint", src, tmp_path / "ds3")


# -- MIA ---------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def mia(tmp_path_factory):
    root = tmp_path_factory.mktemp("mia")
    src = mia_folder(root / "src")
    assert main(["import", "mia", str(src), "--out", str(root / "ds")]) == 0
    return root


def test_mia_clips_become_sequences_with_their_split(mia):
    ds = open_dataset(mia / "ds")
    assert not _errors(mia / "ds")
    assert set(ds.streams) == {"emg", "keypoints3d", "keypoints2d", "smpl"}
    assert ds.streams["emg"].channels[0] == "l_quad" and ds.streams["emg"].rate_hz == 10.0
    assert ds.streams["keypoints3d"].channels[8] == "MidHip"
    seqs = ds.sequences
    assert len(seqs) == 2 * 2 * (3 + 1)
    val = seqs["Subject0_Squat_val_0"]
    assert val.label == "Squat" and val.extra["clips"][0]["split"] == "test"
    assert seqs["Subject1_Running_train_2"].extra["clips"][0]["split"] == "train"
    arr = ds.sequence_array("emg", "Subject0_Squat_train_0")
    src = np.load(mia / "src/train/Subject0/Squat/0/emgvalues.npy")
    np.testing.assert_allclose(arr.values, src, rtol=1e-6)


def test_mia_trains_on_its_own_split(mia):
    assert _train(mia / "ds", mia / "run", "--split", "clips", "--window", "10") == 0
    report = (mia / "run" / "report" / "metrics.csv").read_text()
    assert "Squat" in report and "Running" in report


def test_mia_bad_inputs(tmp_path):
    (tmp_path / "nothing").mkdir()
    with pytest.raises(InputError, match="no clip folder"):
        import_dataset("mia", tmp_path / "nothing", tmp_path / "ds")
    src = mia_folder(tmp_path / "src", subjects=("Subject0",), exercises=("Squat",), clips=1)
    clip = src / "train/Subject0/Squat/0"
    (clip / "joints3d.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(InputError, match="joints3d.npy is not a readable .npy"):
        import_dataset("mia", src, tmp_path / "ds1")
    np.save(clip / "joints3d.npy", np.zeros((30, 10, 3), np.float32))
    with pytest.raises(InputError, match=r"has shape \(30, 10, 3\), expected \(frames, 25\+, 3\)"):
        import_dataset("mia", src, tmp_path / "ds2")
    np.save(clip / "joints3d.npy", np.zeros((29, 49, 3), np.float32))
    with pytest.raises(InputError, match="29 frames, emgvalues.npy 30"):
        import_dataset("mia", src, tmp_path / "ds3")


# -- OpenCap -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def opencap(tmp_path_factory):
    if not OPENCAP_DATA.is_dir():
        pytest.skip(f"OpenCap test files not found at {OPENCAP_DATA}")
    root = tmp_path_factory.mktemp("opencap")
    src = opencap_session(root / "OpenCapData_session")
    assert main(["import", "opencap", str(src), "--out", str(root / "ds")]) == 0
    return root


@needs_opencap
def test_opencap_session_maps_markers_kinematics_model_and_subject(opencap):
    from musclekit.pipelines.importers.opencap import read_mot

    ds = open_dataset(opencap / "ds")
    assert not _errors(opencap / "ds")
    assert ds.subjects["subj01"].mass_kg == 72.5 and ds.subjects["subj01"].sex == "F"
    ja = ds.streams["joint_angles"]
    assert ja.rate_hz == 100.0
    assert ja.units[ja.channels.index("pelvis_tx")] == "m"
    assert ja.units[ja.channels.index("knee_angle_r")] == "rad"
    arr = ds.sequence_array("joint_angles", "subj01_squats1")
    raw = np.loadtxt(OPENCAP_DATA / "squats1_videoAndMocap.mot", skiprows=11)
    names, _, _ = read_mot(OPENCAP_DATA / "squats1_videoAndMocap.mot")
    k, beta = names.index("knee_angle_r"), names.index("knee_angle_r_beta")
    np.testing.assert_allclose(arr.values[:, k], np.deg2rad(raw[:, 1 + k]), rtol=1e-5)
    np.testing.assert_allclose(arr.values[:, beta], raw[:, 1 + beta], rtol=1e-5)  # already rad
    markers = ds.sequence_array("markers", "subj01_squats1")
    assert ds.streams["markers"].units == ["m"] * 6
    assert np.nanmax(np.abs(markers.values)) < 2.0  # mm in the TRC, m here
    assert np.isnan(markers.values[40:45, 2]).all()  # the occluded marker stays missing
    seq = ds.sequences["subj01_squats1"]
    assert seq.label == "squats" and (opencap / "ds" / seq.extra["model"]).is_file()


@needs_opencap
def test_opencap_trains_markers_to_kinematics(opencap):
    assert _train(opencap / "ds", opencap / "run", "--input", "markers", "--target",
                  "joint_angles", "--window", "20", "--split", "leave-exercise-out:walking") == 0


@needs_opencap
def test_opencap_without_metadata_and_bad_files(tmp_path):
    src = opencap_session(tmp_path / "s", with_metadata=False)
    import_dataset("opencap", src, tmp_path / "ds", ImportOptions(subject="P7"))
    assert set(open_dataset(tmp_path / "ds").subjects) == {"P7"}
    (tmp_path / "other").mkdir()
    with pytest.raises(InputError, match="is not an OpenCap session"):
        import_dataset("opencap", tmp_path / "other", tmp_path / "ds2")
    (src / "MarkerData" / "squats1.trc").write_text("hello\n")
    with pytest.raises(InputError, match="squats1.trc is not a TRC file"):
        import_dataset("opencap", src, tmp_path / "ds3")
    (src / "MarkerData" / "squats1.trc").unlink()
    (src / "OpenSimData" / "Kinematics" / "walking1.mot").write_text("time\tq\n0\t1\n")
    with pytest.raises(InputError, match="no 'endheader' line"):
        import_dataset("opencap", src, tmp_path / "ds4")


# -- AddBiomechanics ---------------------------------------------------------------------

def _dump(n=80, dofs=("pelvis_tilt", "pelvis_ty", "knee_angle_r")):
    """What the child process hands back for a subject with one dynamics trial."""
    t = np.arange(n) / 100.0
    pos = np.column_stack([0.1 * np.sin(2 * np.pi * t + i) for i in range(len(dofs))])
    tau = 30 * np.cos(2 * np.pi * t[:, None] + np.arange(len(dofs)))
    force = np.column_stack([np.full(n, 10.0), 700 + 50 * np.sin(t), np.zeros(n)] * 2)
    missing = np.zeros(n, bool)
    missing[10:15] = True
    osim = ("<OpenSimDocument><Model><JointSet><objects><CustomJoint name='j'><coordinates>"
            + "".join(f"<Coordinate name='{d}'/>" for d in dofs)
            + "</coordinates></CustomJoint></objects></JointSet></Model></OpenSimDocument>")
    meta = {"nimblephysics": "test", "mass_kg": 80.0, "height_m": 1.8, "sex": "male",
            "age_years": 30, "n_dofs": len(dofs), "pass": 1, "pass_type": "DYNAMICS",
            "ground_bodies": ["calcn_r", "calcn_l"], "osim": osim,
            "trials": [{"name": "run1", "timestep": 0.01, "length": n, "original_name": "r",
                        "split_index": 0}]}
    arrays = {"t0_pos": pos, "t0_tau": tau, "t0_force": force, "t0_cop": force * 1e-3,
              "t0_torque": force * 0.0, "t0_missing_grf": missing}
    return meta, arrays


def test_b3d_mapping_units_grf_gaps_and_training(tmp_path):
    meta, arrays = _dump()
    result = ImportResult(out=tmp_path / "ds", kind="addbiomechanics", format_version="x")
    b3d._write_subject(tmp_path / "S05.b3d", meta, arrays, tmp_path / "ds", "abm", result)
    ds = open_dataset(tmp_path / "ds")
    assert not _errors(tmp_path / "ds")
    assert ds.streams["joint_angles"].channels == ["pelvis_tilt", "pelvis_ty", "knee_angle_r"]
    assert ds.streams["joint_angles"].units == ["rad", "m", "rad"]
    assert ds.streams["joint_torques"].units == ["N m", "N", "N m"]
    grf = ds.streams["grf"]
    assert grf.channels[:3] == ["ground_force_right_vx", "ground_force_right_vy",
                                "ground_force_right_vz"]
    g = ds.sequence_array("grf", "S05_run1")
    assert (g.flags[10:15] & Flag.MISSING).all() and not g.flags[20]
    assert ds.subjects["S05"].sex == "M" and ds.sequences["S05_run1"].source == "abm"
    assert _train(tmp_path / "ds", tmp_path / "run", "--input", "joint_angles", "--target",
                  "joint_torques", "--window", "10", "--no-evaluate") == 0


def test_b3d_written_by_nimblephysics_is_read_in_a_child(tmp_path):
    path, why = b3d_file(tmp_path / "S01.b3d")
    if path is None:
        pytest.skip(why)
    assert main(["import", "addbiomechanics", str(path), "--out", str(tmp_path / "ds")]) == 0
    ds = open_dataset(tmp_path / "ds")
    assert not _errors(tmp_path / "ds")
    # the header and trial structure nimblephysics wrote (pose values cannot be written
    # through its numpy-2-incompatible bindings, see import_fixtures.b3d_file)
    assert ds.streams["joint_angles"].channels == ["pelvis_tilt", "pelvis_ty", "hip_flexion_r"]
    assert ds.streams["joint_angles"].rate_hz == 100.0
    assert sorted(ds.sequences) == ["S01_walk1", "S01_walk2"]
    assert ds.sequence_stream("S01_walk1", "joint_angles").n_frames == 60
    assert ds.subjects["S01"].mass_kg == 68.0 and ds.subjects["S01"].sex == "F"
    version = ds.records[0].provenance.config["format_version"]
    assert "nimblephysics 0." in version


def test_b3d_reader_crash_is_a_clear_message(tmp_path, monkeypatch):
    file = tmp_path / "S02.b3d"
    file.write_bytes(b"\x00" * 64)
    crash = "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"
    monkeypatch.setattr(b3d, "CHILD", [sys.executable, "-c", crash])
    with pytest.raises(MissingDependencyError,
                       match=r"crashed \(SIGSEGV\) reading .*S02.b3d: this nimblephysics build "
                             r"cannot read B3D files next to numpy"):
        import_dataset("addbiomechanics", file, tmp_path / "ds")


def test_b3d_bad_inputs(tmp_path):
    empty = tmp_path / "empty.b3d"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="is empty \\(0 bytes\\)"):
        import_dataset("addbiomechanics", empty, tmp_path / "ds")
    other = tmp_path / "trial.c3d"
    other.write_bytes(b"abc")
    with pytest.raises(InputError, match="is not a .b3d file"):
        import_dataset("addbiomechanics", other, tmp_path / "ds")
    (tmp_path / "none").mkdir()
    with pytest.raises(InputError, match="no .b3d file under"):
        import_dataset("addbiomechanics", tmp_path / "none", tmp_path / "ds")
    corrupt = tmp_path / "corrupt.b3d"
    corrupt.write_bytes(np.random.default_rng(0).bytes(256))
    try:
        import_dataset("addbiomechanics", corrupt, tmp_path / "ds")
    except MissingDependencyError as err:  # this build crashes on it: the message says so
        assert "crashed" in str(err)
    except InputError as err:
        assert "corrupt.b3d" in str(err)
    else:
        pytest.fail("a corrupt .b3d was accepted")


# -- the command -------------------------------------------------------------------------

def test_cli_unknown_kind_and_missing_source(tmp_path, capsys):
    assert main(["import", "amass", str(tmp_path), "--out", str(tmp_path / "ds")]) != 0
    assert "unknown import kind 'amass': use one of mint, addbiomechanics, opencap, mia" in \
        capsys.readouterr().err.replace("\n", " ")
    assert main(["import", "mia", str(tmp_path / "nope"), "--out", str(tmp_path / "ds")]) != 0
    assert "does not exist" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_imported_dataset_has_card_and_stats(mia):
    assert (mia / "ds" / "README.md").is_file()
    stats = json.loads((mia / "ds" / "meta" / "stats.json").read_text())
    assert "emg" in stats
