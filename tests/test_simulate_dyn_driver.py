"""The dynamics stage over a dataset: chunks on the real solver, gaps, resume, bad input."""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest

from musclekit.compute import ComputeConfig  # noqa: E402
from musclekit.dataset import open_dataset  # noqa: E402
from musclekit.errors import ExitCode, InputError  # noqa: E402
from musclekit.pipelines.simulate.dynamics import (  # noqa: E402
    run_dynamics,
)
from musclekit.pipelines.simulate.dynamics.stage.worker import solve_chunk_unit  # noqa: E402
from tests.helpers.simulate_dyn_fixtures import (  # noqa: E402
    failing_chunks,
    make_kinematics_dataset,
    small_dynamics_config,
)

small_config = small_dynamics_config


@pytest.fixture(scope="module")
def solved(tmp_path_factory):
    """1.2 s squat = 2 chunks; the second forced to fail -> one real solve, one gap."""
    root = make_kinematics_dataset(tmp_path_factory.mktemp("dyn") / "ds", duration_s=1.2)
    cfg = small_config()
    with failing_chunks(["S01_squat/chunk0001"]):
        report = run_dynamics(root, cfg)
    return root, cfg, report


def test_outputs_are_written_at_50_fps_with_a_gap(solved) -> None:
    root, cfg, report = solved
    assert report.chunks_done == 1 and list(report.chunks_failed) == ["S01_squat/chunk0001"]
    assert report.exit_code() == ExitCode.PARTIAL
    ds = open_dataset(root)
    for stream in ("activations", "muscle_forces", "grf", "joint_angles_solved", "residuals"):
        assert ds.info.streams[stream].rate_hz == 50.0
    a = ds.sequence_array("activations", "S01_squat")
    # Trimmed by 0.1 s at both ends, 50 fps.
    assert a.time_s[0] == pytest.approx(0.1) and a.time_s[-1] == pytest.approx(1.1)
    assert np.allclose(np.diff(a.time_s), 0.02)
    gap = a.time_s >= 0.6 - 1e-9
    assert (a.flags[gap] == 1).all() and (a.flags[~gap] == 0).all()
    assert np.isnan(a.values[gap]).all() and np.isfinite(a.values[~gap]).all()
    grf = ds.sequence_array("grf", "S01_squat")
    assert grf.channels[:3] == ["ground_force_right_vx", "ground_force_right_vy", "ground_force_right_vz"]
    extra = ds.sequences["S01_squat"].extra
    assert extra["dynamics"]["gaps_s"] == [[pytest.approx(0.6), pytest.approx(1.2)]]
    assert "opensim" in extra  # part 1's metadata is kept
    table = ds.read_table("chunks").sort("chunk")
    assert table["status"].to_list() == ["converged", "failed"]
    assert "forced to fail" in table["reason"][1]
    # inverse: residual forces are ~0 by construction; what can fail is checked instead.
    assert table["max_residual_moment_nm"][0] < 1.0 and table["max_reserve_nm"][0] < 5.0
    assert table["saturated_muscles"][0] == ""
    assert table["activation_out_of_range"][0] <= 1e-6


def test_rerun_skips_everything_and_changes_nothing(solved) -> None:
    root, cfg, _ = solved
    before = open_dataset(root).sequence_array("activations", "S01_squat").values
    t = time.perf_counter()
    report = run_dynamics(root, cfg)
    assert time.perf_counter() - t < 10
    assert report.chunks_done == 0 and report.chunks_skipped == 2
    assert report.sequences_skipped == ["S01_squat"]
    after = open_dataset(root).sequence_array("activations", "S01_squat").values
    assert np.array_equal(before, after, equal_nan=True)


def test_resume_after_a_killed_run_gives_the_same_result(solved, tmp_path: Path) -> None:
    """A run killed after its first chunk (its report saved, the sequence not yet written)
    resumes from the saved chunk and produces identical outputs."""
    root, cfg, _ = solved
    killed = tmp_path / "ds"
    make_kinematics_dataset(killed, duration_s=1.2)
    # What the killed run left behind: chunk 0's saved result only.
    src = root / "opensim" / "S01_squat" / "dynamics" / "inverse"
    dst = killed / "opensim" / "S01_squat" / "dynamics" / "inverse"
    dst.mkdir(parents=True)
    for f in src.glob("chunk0000.*"):
        shutil.copy(f, dst / f.name)
    with failing_chunks(["S01_squat/chunk0001"]):  # as in the run it is compared with
        report = run_dynamics(killed, cfg)
    assert report.chunks_done == 0 and report.chunks_skipped == 1  # chunk 0 not solved again
    a = open_dataset(root).sequence_array("activations", "S01_squat").values
    b = open_dataset(killed).sequence_array("activations", "S01_squat").values
    assert np.array_equal(a, b, equal_nan=True)


def test_chunk_over_its_time_limit_becomes_a_failed_report(solved, tmp_path: Path) -> None:
    root, _, _ = solved
    payload = json.loads(next((root / "opensim" / "S01_squat" / "dynamics" / "inverse").glob(
        "chunk0000.payload.json")).read_text())
    payload["out_dir"] = str(tmp_path)
    # Less than any solve takes, even in a chunk process kept warm by the tests before.
    payload["time_limit_s"] = 0.01
    rep = solve_chunk_unit(payload)
    assert rep.status == "failed" and "time limit of 0.01 s per chunk reached" in rep.reason


def test_dataset_without_kinematics_is_refused(tmp_path: Path) -> None:
    from musclekit.dataset import DatasetWriter

    DatasetWriter.create_or_open(tmp_path / "empty", name="empty")
    with pytest.raises(InputError, match="no sequence in .* has kinematics"):
        run_dynamics(tmp_path / "empty", small_config())


def test_missing_kinematics_file_is_named(tmp_path: Path) -> None:
    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    (root / "opensim" / "S01_squat" / "ik.mot").unlink()
    with pytest.raises(InputError, match=r"S01_squat: IK kinematics file missing: .*ik.mot"):
        run_dynamics(root, small_config())


def test_unknown_sequence_and_method(tmp_path: Path) -> None:
    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    with pytest.raises(InputError, match=r"sequences not in dataset .*\['nope'\]"):
        run_dynamics(root, small_config(sequences=["nope"]))
    with pytest.raises(InputError, match="unknown method 'fast'"):
        run_dynamics(root, small_config(method="fast"))


def test_unreachable_scheduler_fails_fast_with_a_clear_message(tmp_path: Path) -> None:
    root = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    cfg = small_config(compute=ComputeConfig(scheduler="tcp://127.0.0.1:9", connect_timeout_s=2))
    t = time.perf_counter()
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        run_dynamics(root, cfg)
    assert time.perf_counter() - t < 30


def test_status_and_plot_commands(solved, tmp_path: Path, capsys) -> None:
    from musclekit.cli.main import main

    root, _, _ = solved
    assert main(["status", str(root), "--logs"]) == 0
    err = capsys.readouterr().err
    assert "S01_squat" in err and "forced to fail" in err
    png = tmp_path / "plot.png"
    assert main(["plot", str(root), "S01_squat", "--out", str(png)]) == 0
    assert png.stat().st_size > 10_000
    assert main(["plot", str(root), "nope"]) == 1
    assert "sequence 'nope' has no activations" in capsys.readouterr().err


def test_config_from_cli_options() -> None:
    from musclekit.pipelines.simulate.dynamics import config_from_cli

    cfg = config_from_cli(method="inverse", chunk_s=1.0, buffer_s=0.1, max_iterations=50,
                          foot_bodies_right="foot_r", foot_bodies_left="foot_l")
    assert cfg.chunk.chunk_s == 1.0 and cfg.chunk.blend_s == 0.07
    assert cfg.solve.max_iterations == 50 and cfg.prep.feet["right"] == ("foot_r",)
    with pytest.raises(InputError, match="not longer than its two buffers"):
        config_from_cli(chunk_s=0.2, buffer_s=0.14)
    with pytest.raises(InputError, match=r"unknown options: \[.bogus.\]"):
        config_from_cli(bogus=1)
    assert config_from_cli().solve.solver == "casadi"
    assert config_from_cli(solver="moco").solve.solver == "moco"
    with pytest.raises(InputError, match="unknown solver 'ipopt'; choose one of casadi, moco"):
        config_from_cli(solver="ipopt")


def test_a_solver_process_that_dies_leaves_a_failed_report(solved, tmp_path: Path,
                                                          monkeypatch) -> None:
    root, _, _ = solved
    payload = json.loads(next((root / "opensim" / "S01_squat" / "dynamics" / "inverse").glob(
        "chunk0000.payload.json")).read_text())
    payload["out_dir"] = str(tmp_path)
    # The chunk's own process dies without a word: a sitecustomize on its path kills the
    # interpreter as it starts (only the chunk's process gets this environment).
    (tmp_path / "crash").mkdir()
    (tmp_path / "crash" / "sitecustomize.py").write_text(
        "import os, signal\nos.kill(os.getpid(), signal.SIGKILL)\n")
    from musclekit.pipelines.simulate.dynamics.stage import worker

    real_env = worker.child_env
    monkeypatch.setattr(worker, "child_env",
                        lambda: {**real_env(), "PYTHONPATH": str(tmp_path / "crash")})
    rep = solve_chunk_unit(payload)
    assert rep.status == "failed" and "exited with code -9" in rep.reason
    assert (tmp_path / "chunk0000.json").is_file() and not (tmp_path / "chunk0000.npz").exists()


@pytest.mark.slow
def test_local_dask_cluster_gives_the_same_result(solved, tmp_path: Path) -> None:
    root, cfg, _ = solved
    other = make_kinematics_dataset(tmp_path / "ds", duration_s=1.2)
    # The same prepared model (the polynomial path fit samples poses at random, unseeded).
    cfg2 = small_config(compute=ComputeConfig(workers=1),
                        cache_dir=str(root / "opensim" / "_dynamics_models"))
    with failing_chunks(["S01_squat/chunk0001"]):
        report = run_dynamics(other, cfg2)
    assert report.chunks_done == 1
    a = open_dataset(root).sequence_array("activations", "S01_squat").values
    b = open_dataset(other).sequence_array("activations", "S01_squat").values
    assert np.allclose(a, b, equal_nan=True, atol=1e-6)


def test_retry_failed_solves_a_written_sequences_failed_chunks_and_writes_it_again(
        solved, tmp_path: Path) -> None:
    # The sequence was written with chunk 1 a gap; a plain rerun keeps it (above). With
    # --retry-failed the failed chunk is solved again and the sequence written without the
    # gap, the converged chunk kept.
    root, cfg, _ = solved
    copy = tmp_path / "ds"
    shutil.copytree(root, copy)
    before = open_dataset(copy).sequence_array("activations", "S01_squat")
    cfg2 = small_config(retry_failed=True)
    report = run_dynamics(copy, cfg2)
    assert report.chunks_done == 1 and report.chunks_skipped == 1
    assert not report.chunks_failed and report.exit_code() == ExitCode.OK
    after = open_dataset(copy).sequence_array("activations", "S01_squat")
    assert (after.flags == 0).all() and np.isfinite(after.values).all()
    # chunk 0 alone before its blend with chunk 1 (0.05 s each side of the seam at 0.6 s)
    kept = (before.flags == 0) & (before.time_s < 0.55 - 1e-9)
    assert np.array_equal(before.values[kept], after.values[kept])
    table = open_dataset(copy).read_table("chunks").sort("chunk")
    assert table["status"].to_list() == ["converged", "converged"]
