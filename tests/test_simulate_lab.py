"""Lab motion capture in: subject inputs, marker weights, dead and bad markers, scaling with
the lab's setup (real data when present), one clock for every stream."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import InputError
from musclekit.pipelines.simulate.kinematics.lab import (
    LabInputs,
    dead_markers,
    outlier_markers,
    read_marker_weights,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rajagopal2016"
needs_data = pytest.mark.skipif(not (DATA / "ExpData").is_dir(),
                                reason="../shared/data/rajagopal2016 absent")


def test_subject_inputs_are_checked_before_any_work(tmp_path: Path) -> None:
    static = tmp_path / "static.trc"
    static.write_text("x")
    with pytest.raises(InputError, match=r"--mass -3.0: the subject's mass must be > 0 kg"):
        LabInputs(static_trc=str(static), mass_kg=-3.0).validate()
    with pytest.raises(InputError, match="--static needs the subject's mass: --mass KG"):
        LabInputs(static_trc=str(static)).validate()
    with pytest.raises(InputError, match="--ik-setup file not found"):
        LabInputs(ik_setup=str(tmp_path / "nope.xml")).validate()
    with pytest.raises(InputError, match="give the height in metres"):
        LabInputs(static_trc=str(static), mass_kg=70.0, height_m=180.0).validate()
    with pytest.raises(InputError, match="--scale-setup needs the static trial"):
        LabInputs(scale_setup=str(static)).validate()


def test_marker_weights_from_csv_and_toml(tmp_path: Path) -> None:
    csv = tmp_path / "w.csv"
    csv.write_text("marker,weight\nRASI,10\nLASI, 10.5\n# a comment\n\nRTOE,0\n")
    assert read_marker_weights(csv) == {"RASI": 10.0, "LASI": 10.5, "RTOE": 0.0}
    toml = tmp_path / "w.toml"
    toml.write_text('RASI = 10\n"R.Heel" = 2.5\n')
    assert read_marker_weights(toml) == {"RASI": 10.0, "R.Heel": 2.5}
    bad = tmp_path / "bad.csv"
    bad.write_text("RASI,10\nLASI,heavy\n")
    with pytest.raises(InputError, match=r"bad.csv, line 2: weight 'heavy' is not a number"):
        read_marker_weights(bad)
    with pytest.raises(InputError, match="--marker-weights file not found"):
        read_marker_weights(tmp_path / "missing.csv")
    with pytest.raises(InputError, match="weights must be >= 0"):
        LabInputs(marker_weights={"RASI": -1.0}).validate()


def test_dead_markers_are_named_with_why() -> None:
    rng = np.random.default_rng(0)
    T = 100
    walk = np.cumsum(rng.normal(0, 0.01, (T, 4, 3)), axis=0) + np.linspace(0, 1, T)[:, None, None]
    walk[:, 1] = 0.0  # an exporter's "missing": the origin
    walk[:, 2] = [0.3, 1.0, 0.2]  # stuck
    dead = dead_markers(["A", "B", "C", "D"], walk)
    assert set(dead) == {"B", "C"}
    assert "at the origin in 100 % of frames" in dead["B"]
    assert dead["C"].startswith("does not move")


def test_a_marker_ik_cannot_follow_is_named() -> None:
    errors = {"A": np.full(50, 0.01), "B": np.full(50, 0.012), "C": np.full(50, 0.2),
              "D": np.full(50, 0.011)}
    bad = outlier_markers(errors)
    assert list(bad) == ["C"] and "median IK error 200 mm" in bad["C"]
    assert outlier_markers({"A": np.full(5, 0.03), "B": np.full(5, 0.01)}) == {}


@needs_data
def test_scaling_with_the_labs_setup_applies_the_labs_scale_factors(tmp_path: Path) -> None:
    import opensim as osim

    from musclekit.pipelines.simulate.kinematics.lab import scale_from_static

    lab = LabInputs(static_trc=str(DATA / "ExpData" / "static_walk_1.trc"), mass_kg=85.07,
                    height_m=1.829, scale_setup=str(DATA / "Scale" / "scale_setup_walk_scaleOnly.xml"))
    out = scale_from_static(DATA / "Rajagopal2016.osim", DATA / "ExpData" / "static_walk_1.trc",
                            tmp_path, lab)
    applied = osim.ScaleSet(str(DATA / "Scale" / "scaleSet_applied_walk.xml"))
    for i in range(applied.getSize()):
        sc = applied.get(i)
        ref = [sc.getScaleFactors().get(k) for k in range(3)]
        assert out.scale_factors[sc.getSegmentName()] == pytest.approx(ref, abs=1e-3)
    assert 0.005 < out.static_rms_m < 0.05  # OpenSim's own placer: 31 mm RMS on this trial
    scaled = osim.Model(str(out.model_path))
    assert scaled.getTotalMass(scaled.initSystem()) == pytest.approx(85.07, rel=1e-3)


@needs_data
def test_a_static_trial_lacking_the_setups_markers_is_refused(tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.kinematics.lab import scale_from_static

    lab = LabInputs(static_trc=str(DATA / "ExpData" / "static_walk_2.trc"), mass_kg=85.07,
                    scale_setup=str(DATA / "Scale" / "scale_setup_walk_scaleOnly.xml"))
    with pytest.raises(InputError, match=r"static trial .*static_walk_2.trc lacks markers the "
                                         r"scale setup .* measures: \['L.AnkleJoint'"):
        scale_from_static(DATA / "Rajagopal2016.osim", DATA / "ExpData" / "static_walk_2.trc",
                          tmp_path / "s", lab)
    assert not (tmp_path / "s" / "scaled.osim").exists()


@needs_data
def test_a_trial_whose_markers_the_model_lacks_is_refused(tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.kinematics.lab import scale_from_static

    lab = LabInputs(static_trc=str(DATA / "ExpData" / "static_walk_2.trc"), mass_kg=85.07)
    with pytest.raises(InputError, match=r"shares 0 markers with model .*put the lab's marker "
                                         r"set on the model \(--marker-set"):
        scale_from_static(DATA / "Rajagopal2016.osim", DATA / "ExpData" / "static_walk_2.trc",
                          tmp_path, lab)


def test_every_stream_keeps_the_motions_clock(tmp_path: Path) -> None:
    """A marker file that starts at 0.5 s: the dynamics streams start at 0.5 s + trim, on the
    same clock as joint_angles (no silent re-zeroing)."""
    import opensim  # noqa: F401

    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.dynamics import run_dynamics
    from tests.helpers.simulate_dyn_fixtures import make_kinematics_dataset, small_dynamics_config

    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2, start_s=0.5)
    run_dynamics(root, small_dynamics_config())
    ds = open_dataset(root)
    ja = ds.sequence_array("joint_angles", "S01_squat")
    assert ja.time_s[0] == pytest.approx(0.5)
    for stream in ("activations", "grf", "joint_angles_solved", "residuals"):
        a = ds.sequence_array(stream, "S01_squat")
        assert a.time_s[0] == pytest.approx(0.6) and a.time_s[-1] == pytest.approx(1.6)
    extra = ds.sequences["S01_squat"].extra["dynamics"]
    assert all(0.5 <= s <= 1.7 for s in extra["seams_s"])
    assert extra["grf_source"] == "estimated from the kinematics"
