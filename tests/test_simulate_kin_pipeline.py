"""End to end: synthetic AMASS walking on the stand-in body -> markers -> scaled model ->
IK -> dataset; the quality bar; TRC input; flagged frames; resume; CLI errors."""

from __future__ import annotations

import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from musclekit.cli.main import main
from musclekit.compute import ComputeConfig
from musclekit.dataset import Flag, open_dataset
from musclekit.errors import ExitCode, InputError
from musclekit.pipelines.simulate.kinematics.quality import (
    SHARED_COORDINATES,
    joint_angle_errors_deg,
)
from musclekit.pipelines.simulate.kinematics.run import (
    KinematicsSource,
    amass_sources,
    run_kinematics,
    trc_sources,
)
from musclekit.pipelines.simulate.kinematics.scale_ik import plan_registration, run_ik
from musclekit.pipelines.simulate.opensim.files import read_mot, read_trc, write_trc
from tests.helpers.simulate_kin_fixtures import (  # noqa: F401
    LOWER_BODY,
    amass_arrays,
    ground_truth,
    standin_body,
    walking_npz,
    write_npz,
)

INLINE = ComputeConfig(workers=0)


@pytest.fixture(scope="module")
def walking_dataset(tmp_path_factory, walking_npz, standin_body):  # noqa: F811
    out = tmp_path_factory.mktemp("ds") / "walk"
    report = run_kinematics(out, amass_sources([str(walking_npz)]), body_model=standin_body,
                            compute=INLINE)
    assert not report.failed, report.failed
    return out, report


def test_walking_meets_the_quality_bar(walking_dataset, walking_npz):  # noqa: F811
    out, report = walking_dataset
    ds = open_dataset(out)
    (seq_id,) = ds.sequences
    assert seq_id == "S01_walking_poses"
    err = ds.sequence_array("ik_error", seq_id)
    assert err.channels == ["rms_m", "max_m"]
    assert np.all(err.values[:, 0] <= 0.01), err.values[:, 0].max()
    assert not np.any(err.flags & Flag.FLAGGED)
    angles = ds.sequence_array("joint_angles", seq_id)
    errors = joint_angle_errors_deg(ground_truth(walking_npz), angles.channels, angles.values)
    assert set(LOWER_BODY) <= set(errors) and len(errors) == len(SHARED_COORDINATES)
    assert max(errors.values()) < 2.0, errors
    assert ds.info.streams["joint_angles"].units[angles.channels.index("pelvis_ty")] == "m"
    markers = ds.sequence_array("markers", seq_id)
    assert markers.values.shape == (15, 67, 3)
    assert np.nanmin(markers.values[..., 1]) == pytest.approx(0.02, abs=1e-5)


def test_dataset_holds_subject_provenance_and_opensim_files(walking_dataset):
    out, _ = walking_dataset
    ds = open_dataset(out)
    seq = ds.sequences["S01_walking_poses"]
    subject = ds.subjects[seq.subject_id]
    assert 50 < subject.mass_kg < 100 and 1.6 < subject.height_m < 2.0
    osim = seq.extra["opensim"]
    for key in ("scaled_model", "trc", "ik_mot", "static_trc"):
        assert (out / osim[key]).is_file(), key
    # every .mot musclekit leaves is SI and says so: OpenSim's IK degrees were rewritten
    assert (out / osim["ik_mot"]).read_text().splitlines().count("inDegrees=no") == 1
    assert "ik_in_degrees" not in osim
    ik = read_mot(out / osim["ik_mot"])
    angles = ds.sequence_array("joint_angles", "S01_walking_poses")
    assert ik.names == angles.channels
    assert np.allclose(ik.values, angles.values, atol=1e-9)
    assert read_trc(out / osim["trc"]).positions.shape == (15, 67, 3)
    import opensim

    # OpenSim's own adapters read the files the stage wrote
    assert opensim.TimeSeriesTableVec3(str(out / osim["trc"])).getNumRows() == 15
    ik_table = opensim.TimeSeriesTable(str(out / osim["ik_mot"]))
    assert ik_table.getNumRows() == 15 and "knee_angle_r" in list(ik_table.getColumnLabels())
    assert ik_table.getTableMetaDataAsString("inDegrees") == "no"
    assert np.allclose(ik_table.getMatrix().to_numpy(), angles.values, atol=1e-9)
    scaled = opensim.Model(str(out / osim["scaled_model"]))
    assert not scaled.getCoordinateSet().get("pelvis_tx").get_clamped()  # long walks
    assert scaled.getCoordinateSet().get("knee_angle_r").get_locked() is False
    kin = seq.extra["kinematics"]
    assert kin["marker_set_version"] == "1.0.0" and kin["body_model_kind"] == "standin-v1"
    assert kin["static_joint_centre_rms_m"] < 0.002  # registration pose met the body


def test_rerun_skips_finished_sequences(walking_dataset, walking_npz, standin_body):  # noqa: F811
    out, _ = walking_dataset
    report = run_kinematics(out, amass_sources([str(walking_npz)]), body_model=standin_body,
                            compute=INLINE)
    assert report.skipped == ["kinematics.S01_walking_poses"] and not report.done


def test_a_later_run_adds_sequences_at_another_rate(walking_dataset, standin_body, tmp_path):  # noqa: F811
    from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence

    out, _ = walking_dataset
    npz = write_synthetic_sequence(tmp_path / "S03" / "squat25_poses.npz", "squat",
                                   standin_body, duration_s=0.4, rate_hz=25.0)
    report = run_kinematics(out, amass_sources([str(npz)]), body_model=standin_body,
                            compute=INLINE)
    assert list(report.done) == ["kinematics.S03_squat25_poses"], report.failed
    ds = open_dataset(out)
    assert ds.sequences["S03_squat25_poses"].extra["kinematics"]["rate_hz"] == 25.0
    assert np.allclose(np.diff(ds.sequence_array("joint_angles", "S03_squat25_poses").time_s),
                       0.04)
    assert ds.subjects["S03"].mass_kg != ds.subjects["S01"].mass_kg


def test_trc_input_and_frames_above_the_error_threshold_are_flagged(walking_dataset, tmp_path):
    out, _ = walking_dataset
    osim = open_dataset(out).sequences["S01_walking_poses"].extra["opensim"]
    data = read_trc(out / osim["trc"])
    pos = data.positions.copy()
    pos[5:8, data.names.index("RTOE"), 1] += 0.15  # a marker swap / glitch
    trc = write_trc(tmp_path / "glitch.trc", data.time_s, data.names, pos)
    report = run_kinematics(tmp_path / "ds", trc_sources([trc], "S01"),
                            model_path=out / osim["scaled_model"], compute=INLINE)
    assert not report.failed, report.failed
    ds = open_dataset(tmp_path / "ds")
    arr = ds.sequence_array("ik_error", "glitch")
    flagged = np.flatnonzero(arr.flags & Flag.FLAGGED)
    assert flagged.tolist() == [5, 6, 7]
    assert np.all(arr.values[[0, 1, 2, 10], 0] < 0.005)


def test_model_with_none_of_the_markers(walking_dataset, tmp_path):
    import opensim

    out, _ = walking_dataset
    osim = open_dataset(out).sequences["S01_walking_poses"].extra["opensim"]
    model = opensim.Model(str(out / osim["scaled_model"]))
    model.updMarkerSet().clearAndDestroy()
    bare = tmp_path / "bare.osim"
    model.printToXML(str(bare))
    with pytest.raises(InputError, match="has none of the markers in .*markers.trc"):
        run_ik(bare, out / osim["trc"], (0.0, 0.1), {"RASI": 1.0}, tmp_path / "x.mot", tmp_path)


def test_model_with_none_of_the_bodies(tmp_path):
    import opensim

    model = opensim.Model()
    block = opensim.Body("block", 1.0, opensim.Vec3(0), opensim.Inertia(0.1))
    model.addBody(block)
    model.addJoint(opensim.FreeJoint("free", model.getGround(), block))
    path = tmp_path / "block.osim"
    model.finalizeConnections()
    model.printToXML(str(path))
    with pytest.raises(InputError, match="has none of the bodies the virtual markers attach to"):
        plan_registration(path, {"RASI": "pelvis"}, {"jc_hip_r": "femur_r"})


def test_cli_needs_a_body_model_for_amass(tmp_path, walking_npz, capsys, monkeypatch):  # noqa: F811
    monkeypatch.delenv("MUSCLEKIT_BODY_MODEL", raising=False)
    code = main(["simulate", "--amass", str(walking_npz), "--out", str(tmp_path / "d"),
                 "--until", "ik", "--workers", "0"])
    assert code == 1
    assert "AMASS input needs the SMPL-H body model: --body-model DIR" in capsys.readouterr().err


def test_cli_bad_until_and_missing_folder(tmp_path, walking_npz, capsys):  # noqa: F811
    code = main(["simulate", "--amass", str(walking_npz), "--out", str(tmp_path / "d"),
                 "--until", "moco", "--workers", "0"])
    assert code == 1 and "--until 'moco': choose ik or dynamics" in capsys.readouterr().err
    code = main(["simulate", "--amass", str(walking_npz), "--body-model", str(tmp_path / "no"),
                 "--out", str(tmp_path / "d"), "--until", "ik", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 1 and "body model folder" in err and "does not exist" in err


def test_cli_refuses_dynamics_options_when_stopping_after_ik(tmp_path, walking_npz, capsys):  # noqa: F811
    code = main(["simulate", "--amass", str(walking_npz), "--out", str(tmp_path / "d"),
                 "--until", "ik", "--workers", "0", "--method", "track", "--upper-model",
                 str(tmp_path / "upper.osim")])
    assert code == 1
    assert " ".join(capsys.readouterr().err.split()) == (
        "error: --method, --upper-model only apply to the dynamics stage, which --until ik "
        "skips: leave out --until ik")
    assert not (tmp_path / "d").exists()  # refused before any work


def test_cli_smplx_sequence_fails_with_its_reason(tmp_path, standin_body, capsys):  # noqa: F811
    bad = write_npz(tmp_path / "X" / "S1" / "x_poses.npz", **amass_arrays(width=165))
    code = main(["simulate", "--amass", str(bad), "--body-model", str(standin_body),
                 "--out", str(tmp_path / "d"), "--until", "ik", "--workers", "0"])
    err = capsys.readouterr().err
    assert code == 1
    assert "kinematics failed for every sequence" in err and "SMPL-X (55 joints x 3)" in err


def test_duplicate_sequence_ids_are_refused(tmp_path):
    src = KinematicsSource("trc", tmp_path / "a.trc", "same", "S", 60.0)
    with pytest.raises(InputError, match="several inputs map to the same sequence id"):
        run_kinematics(tmp_path / "d", [src, src], model_path=tmp_path / "m.osim",
                       compute=INLINE)


@pytest.mark.slow
@pytest.mark.parametrize("motion", ["squat", "jumping_jack"])
def test_other_synthetic_motions_meet_the_quality_bar(tmp_path, standin_body, motion):  # noqa: F811
    from musclekit.pipelines.simulate.kinematics.sequence import (
        KinematicsConfig,
        kinematics_from_amass,
    )
    from musclekit.pipelines.simulate.kinematics.synthetic import write_synthetic_sequence

    npz = write_synthetic_sequence(tmp_path / "S02" / f"{motion}_poses.npz", motion,
                                   standin_body, gender="female", betas=np.array([-0.8, 0.5]),
                                   duration_s=0.6, rate_hz=30.0)
    r = kinematics_from_amass(npz, standin_body, tmp_path / "out", None, KinematicsConfig())
    assert r.rms_m.max() <= 0.01 and not r.flags.any()
    errors = joint_angle_errors_deg(ground_truth(npz), r.coordinates, r.joint_angles)
    assert max(errors.values()) < 2.0, errors


@pytest.mark.slow
def test_resume_after_a_killed_run(tmp_path, walking_npz, standin_body):  # noqa: F811
    """Kill the CLI (SIGKILL) while it works on the second sequence; rerunning the same
    command skips the finished one, redoes the other and leaves a readable dataset."""
    amass = tmp_path / "amass" / "Synthetic" / "S01"
    amass.mkdir(parents=True)
    for name in ("a_poses.npz", "b_poses.npz"):
        shutil.copy(walking_npz, amass / name)
    out = tmp_path / "ds"
    cmd = [sys.executable, "-m", "musclekit.cli.main", "simulate", "--amass", str(amass),
           "--body-model", str(standin_body), "--out", str(out), "--until", "ik",
           "--workers", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    first = out / "opensim" / "S01_b_poses" / "markers.trc"
    deadline = time.time() + 300
    while not first.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.2)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    ds = open_dataset(out)
    assert list(ds.sequences) == ["S01_a_poses"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "1 done, 1 skipped" in done.stderr
    assert sorted(open_dataset(out).sequences) == ["S01_a_poses", "S01_b_poses"]


def test_dynamics_options_reach_the_one_graph_of_units(tmp_path, walking_npz, standin_body,  # noqa: F811
                                                       monkeypatch):
    """`--until dynamics` hands the DynamicsConfig built from the dynamics flags (and the
    run's compute settings) to flow.run_simulate, which runs both parts on one cluster; its
    dynamics report sets the exit code; `--until ik` hands none."""
    from musclekit.compute import RunReport
    from musclekit.pipelines.simulate import flow
    from musclekit.pipelines.simulate.dynamics.stage.report import DynamicsReport
    seen = {}

    def fake_run(out, sources, **kw):
        seen.update(kw, out=out, sources=sources)
        report = DynamicsReport(chunks_failed={"S01_walk/chunk0000": "diverged"})
        return flow.SimulateResult(RunReport(done={}), report if kw["dynamics"] else None,
                                   wall_s=1.0, busy_s=0.5, workers=1)

    monkeypatch.setattr(flow, "run_simulate", fake_run)
    base = ["simulate", "--amass", str(walking_npz), "--body-model", str(standin_body),
            "--out", str(tmp_path / "ds"), "--workers", "0"]
    code = main([*base, "--method", "track", "--retry-failed", "--chunk-s", "2.0",
                 "--buffer-s", "0.2", "--mesh-per-s", "25", "--max-iterations", "100",
                 "--sequence", "S01_walk"])
    assert code == 3  # PARTIAL: a chunk failed
    cfg = seen["dynamics"]
    assert cfg.method == "track" and cfg.retry_failed and cfg.compute is seen["compute"]
    assert (cfg.chunk.chunk_s, cfg.chunk.buffer_s) == (2.0, 0.2)
    assert (cfg.solve.mesh_per_s, cfg.solve.max_iterations) == (25, 100)
    assert cfg.sequences == ["S01_walk"]
    assert main([*base, "--until", "ik"]) == 0 and seen["dynamics"] is None


def test_bad_dynamics_options_are_refused_before_any_work(tmp_path, walking_npz, standin_body,  # noqa: F811
                                                          capsys):
    code = main(["simulate", "--amass", str(walking_npz), "--body-model", str(standin_body),
                 "--out", str(tmp_path / "ds"), "--workers", "0", "--chunk-s", "0.2"])
    assert code == int(ExitCode.ERROR)
    assert "chunk length 0.2 s is not longer than its two buffers" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()
