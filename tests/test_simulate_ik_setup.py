"""`--ik-setup` is OpenSim's IK problem, as OpenSim's tool poses it (issue 26): `musclekit
simulate --trc --model --ik-setup --until ik`, the command a user types, against
`opensim.InverseKinematicsTool(setup).run()` on the same setup, model and marker file: small
setups written here (OpenSim 4 with per-marker weights, markers switched off, coordinate tasks
and a coordinate file; OpenSim 3, Version 30000) and the shared Rajagopal walk. The default
solver (ik_solver.py, issue 24) is compared with OpenSim's tool converged (accuracy 1e-8: at a
lab's 1e-5 OpenSim's tool stops short of the minimum, by up to ~1 deg on a real run);
`--ik-solver opensim` is OpenSim's tool itself, exactly. Dead markers and markers IK cannot
follow are printed, recorded and shown by `inspect`, and change a lab's setup only when
asked."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from musclekit.cli.main import main
from tests.helpers.ik_setup_fixtures import (
    LAB_WEIGHTS,
    SHOULDER_WEIGHTS,
    SWITCHED_OFF,
    angle_differences_deg,
    marker_lab,
    opensim_ik,
    rajagopal_lab_ik,
    write_corpus_setup,
    write_setup_v3,
    write_setup_v4,
)

DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "rajagopal2016"
needs_data = pytest.mark.skipif(not (DATA / "ExpData").is_dir(),
                                reason="../shared/data/rajagopal2016 absent")
CORPUS = Path(__file__).resolve().parents[2] / "shared" / "data" / "corpus" / "lisbon_shoulder"
needs_corpus = pytest.mark.skipif(not (CORPUS / "abdbonepin.trc").is_file(),
                                  reason="../shared/data/corpus/lisbon_shoulder absent")
GOAL_DEG = 0.05  # the issue's: median difference to OpenSim's tool
CONVERGED = 1e-8  # OpenSim's tool run to this accuracy: the minimum both solvers look for


@pytest.fixture(scope="module")
def lab(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("lab")
    made = marker_lab(folder)
    return {**made, "v4": write_setup_v4(folder, made["model"], made["trc"], coordinate_file="knee.mot"),
            "v3": write_setup_v3(folder, made["model"], made["trc"])}


def simulate(tmp: Path, trc: Path, model: Path, setup: Path, *extra: str) -> Path:
    out = tmp / "ds"
    code = main(["simulate", "--trc", str(trc), "--model", str(model), "--ik-setup",
                 str(setup), "--until", "ik", "--workers", "0", "--out", str(out), *extra])
    assert code == 0
    return next(out.glob("opensim/*"))


def tasks_written(folder: Path) -> dict[str, tuple[bool, float]]:
    """The IKTaskSet musclekit handed to OpenSim: name -> (apply, weight)."""
    root = ET.parse(folder / "ik_setup.xml").getroot()
    out = {}
    for task in root.iter():
        if task.tag in ("IKMarkerTask", "IKCoordinateTask"):
            out[task.get("name")] = (task.findtext("apply").strip() == "true",
                                     float(task.findtext("weight")))
    return out


@pytest.mark.parametrize("version", ["v4", "v3"])
def test_ik_setup_gives_opensims_angles(version, lab, tmp_path) -> None:
    theirs = opensim_ik(lab[version], out_mot=tmp_path / "opensim" / "ik.mot",
                        accuracy=CONVERGED)
    seq = simulate(tmp_path, lab["trc"], lab["model"], lab[version])
    diff = angle_differences_deg(lab["model"], seq / "ik.mot", theirs)
    every = np.concatenate(list(diff.values()))
    assert np.median(every) <= GOAL_DEG and every.max() <= GOAL_DEG, {
        c: float(d.max()) for c, d in diff.items()}
    # --ik-solver opensim: OpenSim's own tool at the setup's accuracy, to the last digit
    exact = opensim_ik(lab[version], out_mot=tmp_path / "opensim_exact" / "ik.mot")
    seq = simulate(tmp_path / "exact", lab["trc"], lab["model"], lab[version], "--ik-solver",
                   "opensim")
    diff = angle_differences_deg(lab["model"], seq / "ik.mot", exact)
    assert max(float(d.max()) for d in diff.values()) <= 1e-6
    # the lab's weights, switched-off markers and coordinate tasks reach OpenSim untouched
    tasks = tasks_written(seq)
    for name, w in LAB_WEIGHTS.items():
        if version == "v3" and name == "STRN":
            continue
        assert tasks[name] == (True, w), name
    assert all(not tasks[n][0] for n in SWITCHED_OFF)
    coordinate = {"v4": "lumbar_extension", "v3": "hip_flexion_l"}[version]
    assert tasks[coordinate][0]


def test_marker_weights_override_only_the_markers_they_name(lab, tmp_path, capsys) -> None:
    weights = tmp_path / "w.csv"
    weights.write_text("marker,weight\nRASI,1\nRMT5,3\n")
    seq = simulate(tmp_path, lab["trc"], lab["model"], lab["v4"], "--marker-weights",
                   str(weights))
    tasks = tasks_written(seq)
    assert tasks["RASI"] == (True, 1.0) and tasks["RMT5"] == (True, 3.0)
    assert tasks["LASI"] == (True, 10.0) and tasks["LMT5"][0] is False
    err = " ".join(capsys.readouterr().err.split())
    assert "marker RASI: weight 1 from --marker-weights (the IK setup says 10)" in err
    assert "marker RMT5: weight 3 from --marker-weights (the IK setup says 1, not applied)" in err


def test_bad_markers_are_said_and_left_out_only_when_asked(lab, tmp_path, capsys) -> None:
    """A dead marker (at the origin) and one 12 cm off its place, both applied by the lab's
    setup: printed, recorded, shown by `inspect`; the setup runs as written (OpenSim's
    angles) until --drop-dead-markers / --drop-outlier-markers."""
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.opensim.files import read_trc, write_trc

    data = read_trc(lab["trc"])
    pos = data.positions.copy()
    pos[:, data.names.index("LTHB")] = 0.0
    pos[:, data.names.index("LTIB")] += (0.0, 0.12, 0.0)
    trc = write_trc(lab["folder"] / "bad.trc", data.time_s, data.names, pos)
    setup = write_setup_v4(lab["folder"], lab["model"], trc, coordinate_file="knee.mot")
    setup = setup.rename(lab["folder"] / "ik_setup_bad.xml")

    seq = simulate(tmp_path / "asis", trc, lab["model"], setup)
    err = " ".join(capsys.readouterr().err.split())
    assert ("marker LTHB carries no data (at the origin in 100 % of frames), but the IK setup "
            "ik_setup_bad.xml applies it: kept, as OpenSim's IK tool would track it; "
            "--drop-dead-markers leaves it out") in err
    assert "marker LTIB: IK cannot follow it (median IK error" in err
    assert "kept in the IK setup ik_setup_bad.xml: --drop-outlier-markers leaves it out" in err
    tasks = tasks_written(seq)
    assert tasks["LTHB"][0] and tasks["LTIB"][0]
    diff = angle_differences_deg(lab["model"], seq / "ik.mot",
                                 opensim_ik(setup, out_mot=tmp_path / "o" / "ik.mot",
                                            accuracy=CONVERGED))
    assert max(float(d.max()) for d in diff.values()) <= GOAL_DEG
    ds = open_dataset(tmp_path / "asis" / "ds")
    kin = ds.sequences["bad"].extra["kinematics"]
    assert kin["marker_problems"]["LTHB"]["action"] == "kept"
    assert kin["marker_problems"]["LTIB"] == {**kin["marker_problems"]["LTIB"],
                                             "problem": "outlier", "action": "kept"}
    assert kin["markers_left_out"] == {} and kin["ik_setup"]["changes"] == []
    assert main(["inspect", str(tmp_path / "asis" / "ds")]) == 0
    shown = " ".join(capsys.readouterr().err.split())
    assert ("markers IK could not follow, kept (--drop-outlier-markers leaves them out): LTIB"
            in shown)
    assert "markers without data kept because the IK setup applies them" in shown

    seq = simulate(tmp_path / "drop", trc, lab["model"], setup, "--drop-dead-markers",
                   "--drop-outlier-markers")
    err = " ".join(capsys.readouterr().err.split())
    assert "marker LTHB left out of IK: no data (at the origin in 100 % of frames) " \
           "(--drop-dead-markers)" in err
    assert "marker LTIB left out of IK and IK rerun (--drop-outlier-markers)" in err
    assert "marker LTIB: switched off (the IK setup applies it with weight 0.3)" in err
    tasks = tasks_written(seq)
    assert not tasks["LTHB"][0] and not tasks["LTIB"][0]
    kin = open_dataset(tmp_path / "drop" / "ds").sequences["bad"].extra["kinematics"]
    assert set(kin["markers_left_out"]) == {"LTHB", "LTIB"}


def test_a_model_without_the_files_markers_names_the_ways_to_put_them_on() -> None:
    from musclekit.errors import InputError
    from musclekit.pipelines.simulate.kinematics.marker_checks import marker_mismatch

    with pytest.raises(InputError) as err:
        marker_mismatch(["R.ASIS", "L.ASIS"], ["RASI", "LASI"], Path("walk.trc"),
                        Path("model.osim"))
    assert "--marker-set markers.xml" in str(err.value)
    assert "--scale-setup scale_setup.xml" in str(err.value)


@pytest.mark.slow  # ~2-3 min on 2 cores: OpenSim's IK twice on 238 frames of a 39-dof model
@needs_data
def test_rajagopal_walk_ik_setup_gives_opensims_angles(tmp_path, capsys) -> None:
    """The shared Rajagopal walk with the lab's IK setup (26 of 49 tasks were rewritten
    before) and the lab's scaled model, through the command, against OpenSim's tool run to
    1e-7 (at the lab's 1e-5 it stops early: 0.05 deg median off its own minimum, the
    forearms' pronation, flat for these markers, 36 deg). At 1e-7 OpenSim's pronation is
    still creeping towards its limit (1 deg short), and the elbows follow it (0.06-0.08 deg)."""
    ref = rajagopal_lab_ik(DATA, tmp_path / "lab", "walk")
    seq = simulate(tmp_path, DATA / "ExpData" / "motion_capture_walk.trc", ref["model"],
                   DATA / "IK" / "ik_setup_walk.xml")
    theirs = opensim_ik(ref["setup"], out_mot=tmp_path / "converged" / "ik.mot",
                        accuracy=1e-7)
    diff = angle_differences_deg(ref["model"], seq / "ik.mot", theirs)
    every = np.concatenate(list(diff.values()))
    medians = {c: float(np.median(d)) for c, d in diff.items()}
    # every coordinate, arms too: their flat valleys amplify any change of the inputs
    assert np.median(every) <= GOAL_DEG and max(medians.values()) <= 1.5, medians
    flat = {"pro_sup_r", "pro_sup_l", "elbow_flex_r", "elbow_flex_l"}  # the forearms' valley
    assert max(v for c, v in medians.items() if c not in flat) <= GOAL_DEG, medians
    assert tasks_written(seq)["R.ASIS"] == (True, 50.0)
    assert tasks_written(seq)["R.Knee"] == (True, 35.0)



@needs_corpus
def test_another_labs_trial_with_its_weights_gives_opensims_angles(tmp_path) -> None:
    """The issue's case on another lab's real trial and model (corpus/lisbon_shoulder): an IK
    setup of per-marker weights 0.1-10, a switched-off marker and a coordinate task. The
    model's scapulothoracic joint has more generalized coordinates than speeds, which
    ik_solver.py does not take on: OpenSim's tool solves it, as the setup says, and the
    command says so."""
    from musclekit.dataset import open_dataset

    model, trc = CORPUS / "subject1_abdbonepin.osim", CORPUS / "abdbonepin.trc"
    setup = write_corpus_setup(tmp_path, model, trc)
    theirs = opensim_ik(setup)
    seq = simulate(tmp_path, trc, model, setup)
    kin = open_dataset(tmp_path / "ds").sequences[seq.name].extra["kinematics"]
    assert kin["ik_solver"] == "opensim"
    assert any("IK ran in OpenSim's InverseKinematicsTool: the model has 18 generalized "
               "coordinates for 17" in w for w in kin["warnings"]), kin["warnings"]
    diff = angle_differences_deg(model, seq / "ik.mot", theirs)
    medians = {c: float(np.median(d)) for c, d in diff.items()}
    assert max(medians.values()) <= GOAL_DEG, medians
    tasks = tasks_written(seq)
    assert all(tasks[n] == (True, float(w)) for n, w in SHOULDER_WEIGHTS.items())
