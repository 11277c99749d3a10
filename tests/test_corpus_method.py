"""benchmarks/corpus.py --estimate --method: the command a lab would type for each dynamics
method, the rows' labels, and the track run's per-chunk summary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from musclekit.errors import MusclekitError
from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
corpus = load_benchmark("corpus", "corpus_bench")

TRIAL = corpus.Trial("lab walk", "Lab", ["--trc", "lab/walk.trc", "--mass", "70"],
                     plates=True, estimate=True)


def _after(cmd: list[str], flag: str) -> str:
    return cmd[cmd.index(flag) + 1]


def test_inverse_command_is_unchanged(tmp_path):
    (tmp_path / "lab").mkdir()
    (tmp_path / "lab" / "walk.trc").write_text("")
    cmd = corpus.estimate_command(TRIAL, tmp_path, tmp_path / "ds")
    assert cmd[:2] == ["musclekit", "simulate"]
    assert _after(cmd, "--trc") == str(tmp_path / "lab" / "walk.trc")
    assert _after(cmd, "--method") == "inverse" and _after(cmd, "--plates") == "compare"
    assert "--track-grf" not in cmd and "--add-foot-contact" not in cmd
    assert corpus.estimate_label(TRIAL.name, "inverse") == "lab walk"


def test_track_command_tracks_the_estimate_with_foot_spheres(tmp_path):
    cmd = corpus.estimate_command(TRIAL, tmp_path, tmp_path / "ds", "track")
    assert _after(cmd, "--method") == "track"
    assert _after(cmd, "--track-grf") == "estimated"  # never the plates: they are compared
    assert _after(cmd, "--plates") == "compare" and "--add-foot-contact" in cmd
    assert _after(cmd, "--out") == str(tmp_path / "ds")
    assert corpus.estimate_label(TRIAL.name, "track") == "lab walk [track]"


def test_unknown_method_is_refused(tmp_path):
    with pytest.raises(MusclekitError, match="one of inverse, track"):
        corpus.estimate_command(TRIAL, tmp_path, tmp_path / "ds", "moco")


def test_track_flags_exist_in_the_command():
    out = subprocess.run(["musclekit", "simulate", "--help"], capture_output=True, text=True,
                         timeout=120)
    for flag in ("--track-grf", "--add-foot-contact", "--plates", "--method"):
        assert flag in out.stdout + out.stderr


def test_track_summary_counts_converged_chunks(tmp_path):
    (tmp_path / "tables" / "chunks").mkdir(parents=True)
    extra = [json.dumps({"rounds": [{}, {"accepted": False}, {"accepted": True}], "cpu_s": 40.0,
                         "max_dynamics_defect": 3.5,
                         "grf_vs_estimate": {"right_rmse_bw_pct": 4.0}}),
             json.dumps({"rounds": [{}] * 50, "cpu_s": 90.0})]
    pd.DataFrame({"chunk": [0, 1], "status": ["converged", "failed"], "reason": ["", "rounds"],
                  "iterations": [120, 400], "solve_time_s": [40.04, 90.0],
                  "tracking_error_rad": [0.01, float("nan")], "extra": extra}).to_parquet(
        tmp_path / "tables" / "chunks" / "dynamics-gait.parquet")
    s = corpus.track_summary(tmp_path)
    assert s["chunks"] == 2 and s["converged"] == 1
    assert s["per_chunk"][1]["status"] == "failed" and s["per_chunk"][0]["iterations"] == 120
    assert s["rounds"] == [3, 50] and s["cpu_s_per_chunk"] == 65.0
    assert s["per_chunk"][0]["max_dynamics_defect"] == 3.5 and s["per_chunk"][0]["rejected"] == 1
    assert s["per_chunk"][0]["grf_vs_estimate"] == {"right_rmse_bw_pct": 4.0}
    cell = corpus.track_cell(s)
    assert cell.startswith("1/2 converged, rounds 3/50, 65 CPU s per chunk")
    assert "chunk 1: rounds" in cell  # a failed chunk says why
    s["per_chunk"][1]["max_dynamics_defect"] = 15.46
    assert "chunk 1 failed: defect 15.5 N after 50 rounds" in corpus.track_cell(s)


def test_track_summary_without_diagnostics(tmp_path):
    """A chunks table without the `extra` column (or a chunk without rounds) still sums up."""
    (tmp_path / "tables" / "chunks").mkdir(parents=True)
    pd.DataFrame({"chunk": [0], "status": ["converged"], "reason": [""], "iterations": [10],
                  "solve_time_s": [1.0], "tracking_error_rad": [0.01]}).to_parquet(
        tmp_path / "tables" / "chunks" / "dynamics-gait.parquet")
    s = corpus.track_summary(tmp_path)
    assert s["rounds"] == [None] and s["cpu_s_per_chunk"] is None
    assert corpus.track_cell(s) == "1/1 converged, rounds -, - CPU s per chunk"


def test_estimate_table_shows_track_convergence():
    side = {"vy_rmse_bw_pct": 4.0, "vy_pcc": 0.99, "vx_rmse_bw_pct": 3.0,
            "swing_max_bw_pct": 8.0, "cop_x_rms_cm": 2.0}
    track = {"chunks": 2, "converged": 2, "rounds": [4, 3], "cpu_s_per_chunk": 80.0,
             "per_chunk": [{"chunk": 0, "status": "converged", "reason": ""},
                           {"chunk": 1, "status": "converged", "reason": ""}]}
    row = {"trial": "lab walk [track]", "mass_kg": 70.0, "plates_mass_kg": 69.0, "steps": 2,
           "frames": 43, "window_s": [1.0, 2.0], "right": side, "left": side,
           "seconds": 200.0, "cpu_s": 160.0, "commit": "abc1234 2026", "track": track}
    failed = {"trial": "other [track]", "mass_kg": 60.0, "verdict": "exit 1: error: boom"}
    text = corpus.estimate_table([row, failed])
    assert "abc1234 (2/2 converged, rounds 4/3, 80 CPU s per chunk)" in text
    assert "| other [track] | 60.0 | exit 1: error: boom |" in text
    widths = {line.count("|") for line in text.splitlines()}
    assert len(widths) == 1  # every row has the header's columns


def test_a_named_commit_is_recorded_for_a_snapshot():
    assert corpus._commit("3d6b7a6") == ("3d6b7a6", "")


def test_only_forces_blind_to_the_plates_are_compared():
    assert corpus.blind_source("estimated from the kinematics")
    assert corpus.blind_source("contact model")
    assert not corpus.blind_source("measured (plates)")
    assert not corpus.blind_source("")


def test_resume_keeps_what_a_timed_out_run_left(tmp_path):
    ds = tmp_path / "ds"
    (ds / "opensim").mkdir(parents=True)
    (ds / "opensim" / "chunk0000.json").write_text("{}")
    quiet = [sys.executable, "-c", "pass"]  # writes no dataset: the row says so
    row, _ = corpus._simulate(quiet, ds, 60, resume=True)
    assert (ds / "opensim" / "chunk0000.json").exists()  # the finished chunk is kept
    assert row["verdict"].startswith("exit 0")
    corpus._simulate(quiet, ds, 60)
    assert not ds.exists()  # a fresh run starts from nothing


def _two_steps():
    """Two overlapping stances on two plates, 50 fps (a right step, then a left one)."""
    t = np.arange(0, 2.0, 0.02)
    right = np.where((t > 0.2) & (t < 1.0), 600.0, 0.0)
    left = np.where((t > 0.8) & (t < 1.6), 600.0, 0.0)
    return t, {"right": right, "left": left}


def test_failed_chunks_over_the_plates_are_named_not_the_plates():
    t, vy = _two_steps()
    forces = np.ones((len(t), 4))
    w, info, error = corpus.compared_frames(t, forces, vy)
    assert error is None and w.sum() >= 10 and info["steps"] == 2
    forces[(t > 0.5) & (t < 1.5)] = np.nan  # a failed chunk's gap over the plates' window
    w, _, error = corpus.compared_frames(t, forces, vy)
    assert "chunks there failed" in error and "the plates never carry" not in error
    _, _, error = corpus.compared_frames(t, forces, {k: 0 * v for k, v in vy.items()})
    assert error.startswith("the plates never carry the whole body")


def test_table_from_puts_each_track_row_after_its_inverse_row(tmp_path):
    names = [t.name for t in corpus.trials() if t.estimate][:2]
    rows = [{"trial": f"{names[1]} [track]", "lab": "b", "estimate": True, "verdict": "x"},
            {"trial": f"{names[0]} [track]", "lab": "a", "estimate": True, "verdict": "x"},
            {"trial": names[1], "lab": "b", "estimate": True, "verdict": "x"},
            {"trial": names[0], "lab": "a", "estimate": True, "verdict": "x"}]
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "corpus.py"), "--table-from",
                          str(tmp_path / "rows.json")], capture_output=True, text=True,
                         timeout=300, check=True).stdout
    order = [line.split(" | ")[0].removeprefix("| ") for line in out.splitlines()
             if line.startswith("| ") and "[track]" in line or any(
                 line.startswith(f"| {n} |") for n in names)]
    assert order == [names[0], f"{names[0]} [track]", names[1], f"{names[1]} [track]"]


def test_largest_deviations_from_ik():
    from musclekit.pipelines.simulate.opensim.files import Motion

    t = np.linspace(0.0, 1.0, 51)
    ik = Motion(time_s=t, names=["pelvis_tx", "lumbar_rotation", "knee_angle_r", "hip_flexion_r"],
                values=np.zeros((51, 4)))
    solved = np.zeros((51, 4))
    solved[:, 0] = 1.0  # a translation: not a rotation's error
    solved[:, 1] = 0.2
    solved[:, 2] = 0.05
    solved[40:] = np.nan  # a failed chunk's gap: left out
    out = corpus.largest_deviations(t, solved, ["pelvis_tx", "lumbar_rotation", "knee_angle_r",
                                                "hip_flexion_r"], ik, top=2)
    assert out == {"lumbar_rotation": 0.2, "knee_angle_r": 0.05}
    assert corpus.largest_deviations(t, np.full((51, 4), np.nan), ik.names, ik) == {}
