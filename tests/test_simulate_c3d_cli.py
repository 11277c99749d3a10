"""`musclekit simulate --c3d`: markers, force plates and analog EMG from one C3D file, end to
end through scaling-free IK on the default model (the file is written by ezc3d in a child
process: ezc3d and OpenSim cannot both write in one process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import ezc3d  # noqa: E402,F401  (a required dependency: missing fails the suite)
import numpy as np
import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest

from tests.test_simulate_c3d import _corners, _int_param, _plate_signals  # noqa: E402

POINT_RATE, ANALOG_RATE, N = 100.0, 1000.0, 50


def _lab_from_opensim(p: np.ndarray) -> np.ndarray:
    """OpenSim (Y up, m) -> a Z-up lab in mm: opensim (x, y, z) = lab (x, z, -y)."""
    return np.stack([p[..., 0], -p[..., 2], p[..., 1]], axis=-1) * 1000.0


def _trial_arrays() -> dict:
    import opensim as osim

    from musclekit.pipelines.simulate.opensim.model import default_model_path

    model = osim.Model(str(default_model_path()))
    state = model.initSystem()
    ms = model.getMarkerSet()
    names = [ms.get(i).getName() for i in range(ms.getSize())]
    pos = np.array([ms.get(i).getLocationInGround(state).to_numpy() for i in range(len(names))])
    # The model stands at its default pose; lift it so the lowest marker is 2 cm above the floor.
    pos[:, 1] -= pos[:, 1].min() - 0.02
    heel = {s: model.getBodySet().get(f"calcn_{s}").getPositionInGround(state).to_numpy()
            for s in "rl"}
    lift = -(np.array([ms.get(i).getLocationInGround(state).to_numpy()
                       for i in range(len(names))])[:, 1].min() - 0.02)
    t = np.arange(N) / POINT_RATE
    sway = 0.01 * np.sin(2 * np.pi * t)[:, None, None] * np.array([1.0, 0.0, 0.0])
    points = _lab_from_opensim(pos[None] + sway)  # (T, M, 3) mm
    ta = np.arange(int(N * ANALOG_RATE / POINT_RATE)) / ANALOG_RATE
    plates, signals, channels = [], [], []
    for k, (s, on) in enumerate((("r", (0.0, 0.3)), ("l", (0.2, 0.49)))):
        centre = _lab_from_opensim(heel[s] + [0.0, lift, 0.0])
        centre[2] = 0.0
        plate = {"centre": centre, "half": (200.0, 150.0),
                 "axes": np.array([[1.0, 0, 0], [0, -1.0, 0], [0, 0, -1.0]]).T,
                 "origin": np.array([0.0, 0.0, 40.0])}
        loaded = (ta >= on[0]) & (ta < on[1])
        w = np.where(loaded, 300.0 * np.sin(np.pi * (ta - on[0]) / (on[1] - on[0])), 0.0)
        grf = np.column_stack([0 * w, 0 * w, w])
        cop = np.tile(centre, (len(ta), 1))
        signals.append(_plate_signals(plate, grf, cop, 0 * w))
        channels.append(list(range(6 * k + 1, 6 * k + 7)))
        plates.append(_corners(plate))
    emg = np.column_stack([1e-4 * np.sin(2 * np.pi * 80 * ta), 2e-4 * np.cos(2 * np.pi * 50 * ta)])
    return {"names": names, "points": points, "plates": np.stack(plates, axis=2),
            "signals": np.column_stack([*signals, emg]), "channels": np.array(channels)}


def _write(path: str, arrays: str) -> None:

    z = np.load(arrays)
    names = [str(n) for n in z["names"]]
    c = ezc3d.c3d()
    c["parameters"]["POINT"]["RATE"]["value"] = [POINT_RATE]
    c["parameters"]["POINT"]["LABELS"]["value"] = names
    c["parameters"]["POINT"]["UNITS"]["value"] = ["mm"]
    pts = np.ones((4, len(names), N))
    pts[:3] = z["points"].transpose(2, 1, 0)
    c["data"]["points"] = pts
    c["parameters"]["ANALOG"]["RATE"]["value"] = [ANALOG_RATE]
    labels = [f"{q}{k}" for k in (1, 2) for q in ("Fx", "Fy", "Fz", "Mx", "My", "Mz")] + ["VL", "TA"]
    c["parameters"]["ANALOG"]["LABELS"]["value"] = labels
    c["parameters"]["ANALOG"]["UNITS"]["value"] = (["N"] * 3 + ["Nmm"] * 3) * 2 + ["V", "V"]
    c["data"]["analogs"] = z["signals"].T[None, :, :]
    _int_param(c, "FORCE_PLATFORM", "USED", [2])
    _int_param(c, "FORCE_PLATFORM", "TYPE", [2, 2])
    c.add_parameter("FORCE_PLATFORM", "CORNERS", z["plates"].transpose(1, 0, 2))
    c.add_parameter("FORCE_PLATFORM", "ORIGIN", np.array([[0.0, 0.0, 40.0]] * 2).T)
    _int_param(c, "FORCE_PLATFORM", "CHANNEL", z["channels"].T)
    c.write(path)


@pytest.mark.timeout(600)
def test_simulate_c3d_end_to_end(tmp_path: Path) -> None:
    from musclekit.cli.main import main
    from musclekit.dataset import open_dataset
    from musclekit.pipelines.simulate.opensim.external_loads import read_measured_grf
    from musclekit.pipelines.simulate.opensim.model import default_model_path

    arrays = tmp_path / "arrays.npz"
    np.savez(arrays, **_trial_arrays())
    c3d = tmp_path / "walk.c3d"
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parents[1])!r}); "
            f"import tests.test_simulate_c3d_cli as t; t._write({str(c3d)!r}, {str(arrays)!r})")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]

    ds = tmp_path / "ds"
    assert main(["simulate", "--c3d", str(c3d), "--model", str(default_model_path()),
                 "--until", "ik", "--out", str(ds), "--workers", "0"]) == 0
    d = open_dataset(ds)
    raw = d.sequence_array("emg_raw", "walk")
    assert raw.channels == ["VL", "TA"] and d.info.streams["emg_raw"].rate_hz == pytest.approx(1000.0)
    assert np.abs(raw.values[:, 0]).max() == pytest.approx(1e-4, rel=0.01)
    osim_files = d.sequences["walk"].extra["opensim"]
    grf = read_measured_grf(ds / osim_files["grf"])
    vy = {s: grf.values[:, grf.values.shape[1] and i] for s, i in (("right", 1), ("left", 4))}
    t = grf.time_s
    # Plate 1 stands under the right heel (loaded 0-0.3 s), plate 2 under the left (0.2-0.49 s).
    assert vy["right"].max() == pytest.approx(300.0, rel=0.02) and vy["right"][t > 0.31].max() < 1
    assert vy["left"].max() == pytest.approx(300.0, rel=0.02) and vy["left"][t < 0.19].max() < 1
    periods = d.sequences["walk"].extra["kinematics"]["plates"]
    assert [p["side"] for p in periods] == ["r", "l"]
    assert json.loads(json.dumps(d.sequences["walk"].extra["kinematics"]["analogs"]))["VL"]["unit"] == "V"


def test_c3d_without_plates_and_grf_c3d_is_refused(tmp_path: Path, capsys) -> None:
    from musclekit.cli.main import main

    assert main(["simulate", "--trc", str(tmp_path / "x.trc"), "--grf", "c3d", "--until", "ik",
                 "--out", str(tmp_path / "ds")]) != 0
    assert "--grf c3d takes the force plates of the --c3d file: give --c3d" in capsys.readouterr().err
    assert not (tmp_path / "ds").exists()
