"""`--plates compare`: a C3D's force plates (or a --grf file) are kept beside the kinematics
for comparison and recorded as the sequence's `plates`, not as `grf`, so the dynamics
estimate the ground forces as they do without plates; bad combinations are refused before
any work. The C3D is written by ezc3d in a child process (tests/test_simulate_c3d_cli.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.test_simulate_c3d_cli import _trial_arrays

ROOT = Path(__file__).resolve().parents[1]


def _c3d_with_plates(tmp_path: Path) -> Path:
    arrays = tmp_path / "arrays.npz"
    np.savez(arrays, **_trial_arrays())
    c3d = tmp_path / "walk.c3d"
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            f"import tests.test_simulate_c3d_cli as t; t._write({str(c3d)!r}, {str(arrays)!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return c3d


@pytest.mark.timeout(600)
def test_plates_compare_keeps_the_plates_out_of_the_dynamics(tmp_path: Path) -> None:
    from musclekit.cli.main import main
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.kinematics.record import KinematicsRecord
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
        read_measured_grf,
    )
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    c3d = _c3d_with_plates(tmp_path)
    ds = tmp_path / "ds"
    assert main(["simulate", "--c3d", str(c3d), "--model", str(default_model_path()),
                 "--plates", "compare", "--until", "ik", "--out", str(ds),
                 "--workers", "0"]) == 0
    seq = open_dataset(ds).sequences["walk"]
    record = KinematicsRecord.from_extra("walk", seq.extra)
    # what the dynamics read (jobs.py: record.path(root, "grf")) is absent: they estimate
    assert record.path(ds, "grf") is None and record.path(ds, "grf_setup") is None
    plates = record.path(ds, "plates")
    assert plates is not None and plates.name == "plates.mot" and plates.is_file()
    kept = read_measured_grf(plates)
    vy = {s: kept.values[:, GRF_CHANNELS.index(f"ground_force_{s}_vy")] for s in ("right", "left")}
    # the plates as assigned to the feet: plate 1 under the right heel, plate 2 the left
    assert vy["right"].max() == pytest.approx(300.0, rel=0.02)
    assert vy["left"].max() == pytest.approx(300.0, rel=0.02)
    kin = seq.extra["kinematics"]
    assert kin["plates_compared"] == "plates.mot"
    assert [p["side"] for p in kin["plates"]] == ["r", "l"]
    assert any("--plates compare" in w for w in kin["warnings"])
    assert not (ds / "opensim" / "walk" / "grf.mot").exists()


@pytest.mark.parametrize("args, message", [
    (["--plates", "measured"], "--plates 'measured': choose apply (the measured forces drive "
                               "the dynamics, the default) or compare"),
    (["--plates", "compare"], "--plates compare keeps measured forces beside the estimate: "
                              "give them, as a --c3d with force plates or a force file with "
                              "--grf FILE"),
])
def test_plates_flag_refused_on_a_trc_without_forces(tmp_path, capsys, args, message) -> None:
    from musclekit.cli.main import main
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    trc = tmp_path / "walk.trc"
    trc.write_text("x")  # never read: the flags are refused first
    assert main(["simulate", "--trc", str(trc), "--model", str(default_model_path()),
                 *args, "--out", str(tmp_path / "ds")]) != 0
    assert message in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


def test_plates_compare_with_grf_c3d_is_refused(tmp_path, capsys) -> None:
    from musclekit.cli.main import main
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    c3d = tmp_path / "walk.c3d"
    c3d.write_bytes(b"\x02\x50" + bytes(510))  # never read: the flags are refused first
    assert main(["simulate", "--c3d", str(c3d), "--model", str(default_model_path()),
                 "--grf", "c3d", "--plates", "compare", "--out", str(tmp_path / "ds")]) != 0
    assert ("--grf c3d applies the C3D's force plates and --plates compare leaves them out of "
            "the dynamics: give one of them") in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()


@pytest.mark.timeout(600)
def test_plates_compare_on_a_c3d_without_plates_fails_with_the_fix(tmp_path, capsys) -> None:
    from musclekit.cli.main import main
    from tests.test_simulate_real_files import _model_points, write_c3d

    names, pts = _model_points(100.0, 20)
    c3d = tmp_path / "walk.c3d"
    write_c3d(c3d, names, pts)
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    assert main(["simulate", "--c3d", str(c3d), "--model", str(default_model_path()),
                 "--plates", "compare", "--until", "ik", "--out", str(tmp_path / "ds"),
                 "--workers", "0"]) != 0
    assert ("has no force plates (FORCE_PLATFORM:USED = 0): drop --plates compare, or give "
            "the force file with --grf") in capsys.readouterr().err
