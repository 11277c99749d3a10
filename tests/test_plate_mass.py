"""The mass the plates weigh (pipelines/simulate/kinematics/plate_mass.py): synthetic plate
data of a known mass (walking over three plates, running, quiet standing), the warning when the
mass a run uses differs, `--mass plates` and the messages for bad --mass values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.cli.main import main
from musclekit.cli.simulate import typed_mass
from musclekit.errors import ExitCode, InputError
from musclekit.pipelines.simulate.kinematics.plate_mass import (
    G,
    PlateWeight,
    check_mass,
    weigh,
    weigh_force_file,
)

RATE = 1000.0


def gait(mass_kg: float, stride_s: float, stance_share: float, strides: int = 6,
         seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Two feet's vertical forces of a steady gait of `mass_kg`: each stance a double hump
    (walking) or a hump (running) scaled so that the stride's mean summed force is m g (the
    body's weight: its vertical momentum is periodic), the left foot half a stride behind;
    1 % noise on the force."""
    t = np.arange(0.0, strides * stride_s, 1.0 / RATE)
    stance = stance_share * stride_s
    rng = np.random.default_rng(seed)
    out = {}
    for side, lag in (("right", 0.0), ("left", 0.5 * stride_s)):
        phase = (t - lag) % stride_s
        s = np.clip(phase / stance, 0.0, 1.0)
        hump = np.sin(np.pi * s) * (1.0 + (0.3 * np.cos(2 * np.pi * s) if stance_share > 0.5
                                           else 0.0))
        hump[(phase >= stance) | (t < lag)] = 0.0
        out[side] = hump
    scale = mass_kg * G / np.mean(out["right"][t >= stride_s] + out["left"][t >= stride_s])
    return t, {k: v * scale * (1 + 0.01 * rng.standard_normal(len(t))) for k, v in out.items()}


def on_plates(t: np.ndarray, vy: dict[str, np.ndarray], lo: float, hi: float
              ) -> dict[str, np.ndarray]:
    """Only the stances that start within [lo, hi) are on plates (overground: the rest of the
    walk is on the floor)."""
    out = {}
    for k, f in vy.items():
        g = f.copy()
        on = np.concatenate([[False], f > 1.0, [False]])
        d = np.diff(on.astype(int))
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            if not lo <= t[a] < hi:
                g[a:b] = 0.0
        out[k] = g
    return out


def test_a_walk_over_three_plates_weighs_its_mass() -> None:
    t, vy = gait(68.0, stride_s=1.1, stance_share=0.62)
    vy = on_plates(t, vy, 2.0, 3.7)  # three consecutive steps on plates, the rest on the floor
    w = weigh(t, vy)
    assert w is not None and w.method == "steps" and w.steps == 3
    assert w.mass_kg == pytest.approx(68.0, rel=0.01)
    assert w.step_s == pytest.approx(0.55, abs=0.005)


def test_a_run_with_flights_weighs_its_mass() -> None:
    t, vy = gait(73.0, stride_s=0.7, stance_share=0.36)  # flight between the stances
    w = weigh(t, vy)
    assert w is not None and w.method == "steps" and w.steps >= 8
    assert w.mass_kg == pytest.approx(73.0, rel=0.01)


def test_a_step_off_the_plates_ends_the_chain() -> None:
    """Right on a plate, left on the floor, right on the next plate: not consecutive steps
    (one foot's impulse over two steps' time would halve the mass)."""
    t, vy = gait(70.0, stride_s=1.0, stance_share=0.6)
    vy = {"right": on_plates(t, {"r": vy["right"]}, 1.0, 3.0)["r"], "left": 0.0 * vy["left"]}
    assert weigh(t, vy) is None


def test_quiet_standing_weighs_its_mass() -> None:
    t = np.arange(0.0, 3.0, 1.0 / RATE)
    rng = np.random.default_rng(1)
    vy = {"plate 1": 0.55 * 81.0 * G * (1 + 0.01 * rng.standard_normal(len(t))),
          "plate 2": 0.45 * 81.0 * G * (1 + 0.01 * rng.standard_normal(len(t)))}
    w = weigh(t, vy)
    assert w is not None and w.method == "standing"
    assert w.mass_kg == pytest.approx(81.0, rel=0.005)


def test_unloaded_plates_weigh_nothing() -> None:
    t = np.arange(0.0, 2.0, 1.0 / RATE)
    assert weigh(t, {"plate 1": np.full(len(t), 3.0)}) is None


def test_a_mass_off_the_plates_is_warned_about_and_recorded() -> None:
    weight = PlateWeight(72.9, "steps", 3, 0.524, (0.741, 2.441))
    record, note = check_mass(62.0, "given (--mass)", weight)
    assert note == (
        "the plates weigh the subject at 72.9 kg (3 steps of 0.52 s) but the run uses 62.0 kg "
        "(given (--mass)), -15 %: every force in % body weight and every muscle demand is off "
        "by as much; give the subject's mass with --mass KG (or --mass plates for the plates' "
        "72.9 kg)")
    assert record["plates_kg"] == 72.9 and record["mass_kg"] == 62.0
    assert record["difference"] == pytest.approx(62.0 / 72.9 - 1, abs=1e-4)
    record, note = check_mass(74.0, "the C3D's mass", PlateWeight(72.2, "steps", 3, 0.539,
                                                                  (7.9, 9.6)))
    assert note is None and record["plates_kg"] == 72.2  # 2.5 %: within the tolerance
    record, note = check_mass(70.0, "given (--mass)", None)
    assert note is None and record["plates_kg"] is None


def write_grf(path: Path, t: np.ndarray, vy: dict[str, np.ndarray]) -> Path:
    from musclekit.pipelines.simulate.opensim.files import Motion, write_mot

    names, cols = [], []
    for s, key in (("R", "right"), ("L", "left")):
        for k in ("force_vx", "force_vy", "force_vz", "force_px", "force_py", "force_pz",
                  "torque_x", "torque_y", "torque_z"):
            names.append(f"{s}_ground_{k}")
            cols.append(vy[key] if k == "force_vy" else np.zeros(len(t)))
    write_mot(path, Motion(t, names, np.column_stack(cols)), name="grf")
    return path


def test_mass_plates_reads_a_force_file(tmp_path: Path) -> None:
    t, vy = gait(66.0, stride_s=1.0, stance_share=0.6, strides=4)
    grf = write_grf(tmp_path / "grf.mot", t, vy)
    w = weigh_force_file(grf)
    assert w is not None and w.mass_kg == pytest.approx(66.0, rel=0.01)
    mass, source = typed_mass("plates", [], grf, None)
    assert mass == w.mass_kg
    assert source.startswith("the mass grf.mot's forces weigh (--mass plates, ")
    assert typed_mass(" 72.5kg", [], None, None) == (72.5, None)


def test_an_unreadable_force_file_is_recorded_not_fatal(tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.kinematics.plate_mass import check_force_file

    record, note = check_force_file(70.0, "given (--mass)", tmp_path / "absent.mot")
    assert note is None and record["plates_kg"] is None
    assert record["why_none"].startswith("force file not found")


def test_mass_plates_without_steps_or_standing_is_refused(tmp_path: Path) -> None:
    t = np.arange(0.0, 2.0, 1.0 / RATE)
    grf = write_grf(tmp_path / "grf.mot", t, {"right": np.zeros(len(t)), "left": np.zeros(len(t))})
    with pytest.raises(InputError, match=r"--mass plates: grf.mot's forces show neither two "
                       r"consecutive steps nor 1 s of quiet standing, so they do not weigh the "
                       r"subject: give the mass in kg \(--mass KG\)"):
        typed_mass("plates", [], grf, None)


@pytest.mark.parametrize("mass, message", [
    ("abc", "--mass abc: give the subject's mass in kg (e.g. --mass 72.5) or --mass plates "
     "(the mass the force plates weigh)"),
    ("plates", "--mass plates weighs the subject on the force plates: give --c3d with plates "
     "or --grf, or the mass in kg (--mass KG)"),
    ("0", "--mass 0.0: the subject's mass must be > 0 kg"),
    ("nan", "--mass nan: the subject's mass must be > 0 kg"),
])
def test_bad_mass_values_are_refused(mass, message, tmp_path, capsys) -> None:
    static = tmp_path / "static.trc"
    static.write_text("PathFileType\t4\t(X/Y/Z)\tstatic.trc\n")
    code = main(["simulate", "--trc", str(static), "--model", str(tmp_path / "m.osim"),
                 "--static", str(static), "--mass", mass, "--until", "ik",
                 "--out", str(tmp_path / "ds")])
    assert code == ExitCode.ERROR
    assert message in " ".join(capsys.readouterr().err.split())
    assert not (tmp_path / "ds").exists()


RAJ = Path(__file__).resolve().parents[2] / "shared" / "data" / "rajagopal2016"


@pytest.mark.slow
@pytest.mark.skipif(not (RAJ / "ExpData" / "grf_walk.mot").is_file(),
                    reason="the shared Rajagopal2016 data is absent")
def test_the_command_warns_and_records_a_wrong_mass(tmp_path, capsys) -> None:
    """The Rajagopal walk with the run's 72.84 kg typed (its plates weigh 84.6): `simulate
    --until ik` warns with both masses and keeps them in the sequence's metadata (IK only,
    about 5 CPU s)."""
    from musclekit.dataset import open_dataset

    e = RAJ / "ExpData"
    code = main(["simulate", "--trc", str(e / "motion_capture_walk.trc"), "--static",
                 str(e / "static_walk_1.trc"), "--mass", "72.84", "--model",
                 str(RAJ / "Rajagopal2016.osim"), "--scale-setup",
                 str(RAJ / "Scale" / "scale_setup_walk_scaleOnly.xml"), "--ik-setup",
                 str(RAJ / "IK" / "ik_setup_walk.xml"), "--grf", str(e / "grf_walk.mot"),
                 "--grf-setup", str(RAJ / "ID" / "grf_walk.xml"), "--workers", "0",
                 "--until", "ik", "--out", str(tmp_path / "ds")])
    assert code == ExitCode.OK
    out = capsys.readouterr()
    said = " ".join((out.out + out.err).split())
    (seq,) = open_dataset(tmp_path / "ds").sequences.values()
    record = seq.extra["kinematics"]["plate_mass"]
    assert record["mass_kg"] == 72.84 and record["plates_kg"] == pytest.approx(84.6, abs=0.3)
    assert record["difference"] < -0.05
    assert "the plates weigh the subject at 84.6 kg" in said and "uses 72.8 kg" in said
    assert "--mass KG" in said
