"""OpenSim's log per unit of work: into a file, never onto the terminal, state restored."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import UnitFailedError
from musclekit.pipelines.simulate.kinematics.scale_ik import run_ik
from musclekit.pipelines.simulate.opensim.files import write_trc
from musclekit.pipelines.simulate.opensim.log import opensim_log, quiet_console
from musclekit.pipelines.simulate.opensim.model import load_model


def in_fresh_process(test):
    """Run the test in a fresh Python process (pytest on this one test). OpenSim's IK tool
    was seen to fail with std::bad_alloc in this suite's long-lived process after hundreds
    of other tests (2 full runs of 3, never alone): the checks here are about the log file,
    so they run where OpenSim starts clean."""
    import functools
    import os
    import subprocess
    import sys

    @functools.wraps(test)
    def wrapper(*args, **kwargs):
        if os.environ.get("MUSCLEKIT_TEST_CHILD") == test.__name__:
            return test(*args, **kwargs)
        env = dict(os.environ, MUSCLEKIT_TEST_CHILD=test.__name__)
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                               f"{__file__}::{test.__name__}"], env=env, capture_output=True,
                              text=True, timeout=600)
        assert done.returncode == 0, (done.stdout + done.stderr)[-3000:]

    return wrapper

def _slider_model(path: Path) -> Path:
    """One body on a slider along x with two markers: IK has one coordinate to find."""
    import opensim

    model = opensim.Model()
    model.setName("slider")
    body = opensim.Body("block", 1.0, opensim.Vec3(0), opensim.Inertia(0.01))
    model.addBody(body)
    joint = opensim.SliderJoint("slide", model.getGround(), body)
    joint.updCoordinate().setName("block_tx")
    model.addJoint(joint)
    for name, y in (("M1", 0.1), ("M2", -0.1)):
        model.addMarker(opensim.Marker(name, body, opensim.Vec3(0, y, 0)))
    model.finalizeConnections()
    model.printToXML(str(path))
    return path


def _ik(tmp_path: Path, model: Path) -> np.ndarray:
    t = np.array([0.0, 0.01, 0.02])
    pos = np.zeros((3, 2, 3))
    pos[:, 0, 1], pos[:, 1, 1] = 0.1, -0.1
    pos[:, :, 0] = (0.2 * t)[:, None]
    trc = write_trc(tmp_path / "m.trc", t, ["M1", "M2"], pos)
    work = tmp_path / "ik"
    work.mkdir(exist_ok=True)
    # OpenSim's own tool: its log is what this checks (the default solver logs little)
    res = run_ik(model, trc, (0.0, 0.02), {"M1": 1.0, "M2": 1.0}, work / "ik.mot", work,
                 solver="opensim")
    return res.values[:, res.coordinates.index("block_tx")]


def _level() -> str:
    import opensim

    return opensim.Logger.getLevelString().lower()


@in_fresh_process
def test_model_load_and_ik_log_into_the_file_not_the_console(tmp_path, capfd):
    model = _slider_model(tmp_path / "slider.osim")
    quiet_console()
    assert _level() == "off"
    log = tmp_path / "unit" / "opensim.log"  # the folder is created
    with opensim_log(log) as path:
        assert path == log.absolute() and _level() == "info"
        load_model(model)  # a first load_model inside must not turn the level off
        assert _level() == "info"
        tx = _ik(tmp_path, model)
    assert np.allclose(tx, [0.0, 0.002, 0.004], atol=1e-5)
    out, err = capfd.readouterr()
    assert out == "" and err == ""
    text = log.read_text()
    assert "[info] Loaded model slider" in text
    assert "Running tool ik" in text or "InverseKinematicsTool" in text, text
    assert text.rstrip().endswith("block ended: ok ---")
    # restored: level off again, OpenSim writes nowhere, our stdout works again
    assert _level() == "off"
    load_model(model)
    assert log.read_text() == text
    print("visible")
    assert capfd.readouterr().out == "visible\n"


def test_previous_level_restored_and_the_file_is_appended_to(tmp_path, capfd):
    import opensim

    model = _slider_model(tmp_path / "slider.osim")
    log = tmp_path / "opensim.log"
    quiet_console()  # the policy is in place: a load_model inside does not change it
    opensim.Logger.setLevelString("warn")
    try:
        with opensim_log(log, level="debug"):
            assert _level() == "debug"
            load_model(model)
        assert _level() == "warn"
        with opensim_log(log):
            load_model(model)
    finally:
        quiet_console()
    text = log.read_text()
    assert text.count("OpenSim log, level") == 2 and text.count("Loaded model slider") == 2
    assert capfd.readouterr() == ("", "")


def test_the_file_is_there_after_an_exception(tmp_path, capfd):
    model = _slider_model(tmp_path / "slider.osim")
    quiet_console()
    log = tmp_path / "opensim.log"
    with pytest.raises(UnitFailedError, match="boom"), opensim_log(log):
        load_model(model)
        raise UnitFailedError("boom")
    text = log.read_text()
    assert "Loaded model slider" in text
    assert text.rstrip().endswith("block ended: UnitFailedError: boom ---")
    assert _level() == "off"
    assert capfd.readouterr() == ("", "")
    print("stdout back")
    assert capfd.readouterr().out == "stdout back\n"


def test_blocks_nest(tmp_path):
    model = _slider_model(tmp_path / "slider.osim")
    quiet_console()
    outer, inner = tmp_path / "outer.log", tmp_path / "inner.log"
    with opensim_log(outer):
        load_model(model)
        with opensim_log(inner, level="warn"):
            assert _level() == "warn"
            load_model(model)  # info: below the inner level
        assert _level() == "info"
        load_model(model)
    assert outer.read_text().count("Loaded model slider") == 2
    assert "Loaded model" not in inner.read_text()
    assert _level() == "off"


def test_quiet_console_leaves_no_stray_log_file(tmp_path, monkeypatch, capfd):
    monkeypatch.chdir(tmp_path)
    quiet_console()
    load_model(_slider_model(tmp_path / "slider.osim"))
    assert not (tmp_path / "opensim.log").exists()
    assert capfd.readouterr() == ("", "")


def test_an_unknown_level_is_refused(tmp_path):
    with pytest.raises(ValueError, match="'loud'"), opensim_log(tmp_path / "x.log", "loud"):
        pass
    assert not (tmp_path / "x.log").exists()


@in_fresh_process
def test_each_kinematics_unit_writes_its_log_next_to_its_opensim_files(tmp_path, capfd):
    from musclekit.compute import ComputeConfig
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.kinematics.run import run_kinematics, trc_sources

    model = _slider_model(tmp_path / "slider.osim")
    t = np.arange(5) / 100.0
    pos = np.zeros((5, 2, 3))
    pos[:, 0, 1], pos[:, 1, 1] = 0.1, -0.1
    pos[:, :, 0] = (0.3 * t)[:, None]
    (tmp_path / "in").mkdir()
    trc = write_trc(tmp_path / "in" / "slide.trc", t, ["M1", "M2"], pos)
    out = tmp_path / "ds"
    report = run_kinematics(out, trc_sources([trc], "S01"), model_path=model,
                            compute=ComputeConfig(workers=0))
    assert not report.failed, report.failed
    ds = open_dataset(out)
    osim = ds.sequences["slide"].extra["opensim"]
    assert osim["log"] == "opensim/slide/opensim.log"
    assert (out / osim["log"]).parent == (out / osim["ik_mot"]).parent
    text = (out / osim["log"]).read_text()
    # the IK's model load (musclekit's solver; OpenSim's tool logs "Running tool ik" too)
    assert "[info] Loaded model slider" in text, text
    assert text.rstrip().endswith("block ended: ok ---")
    units = ds.info.streams["joint_angles"].units
    assert units == ["m"]  # the slider's one coordinate
    captured = capfd.readouterr()
    assert "[info]" not in captured.out + captured.err

    # a unit that fails says where its log is
    import opensim

    bare = opensim.Model(str(model))
    bare.updMarkerSet().clearAndDestroy()
    bare.printToXML(str(tmp_path / "bare.osim"))
    report = run_kinematics(tmp_path / "ds2", trc_sources([trc], "S01"),
                            model_path=tmp_path / "bare.osim", compute=ComputeConfig(workers=0))
    (reason,) = report.failed.values()
    log = tmp_path / "ds2" / "opensim" / "slide" / "opensim.log"
    assert "none of the markers" in reason and f"(OpenSim log: {log})" in reason
    assert "block ended: InputError" in log.read_text()
