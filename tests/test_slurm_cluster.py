"""`musclekit simulate --slurm` against a real SLURM cluster (slow; skipped where none runs,
e.g. in CI's default run): jobs are submitted, one is cancelled mid-run with `scancel`, the
run is SIGKILLed, its jobs end, no process is left, and the rerun resumes to the outputs of
a clean local run. Start a cluster on this machine with `sudo scripts/slurm_local.sh`.
The scenario is benchmarks/slurm_cancel_resume.py (docs/cluster.md shows its output)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "slurm_cancel_resume.py"


def _scenario():
    spec = importlib.util.spec_from_file_location("slurm_cancel_resume", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.timeout(1500)
def test_simulate_on_slurm_survives_scancel_and_a_kill_and_resumes(tmp_path: Path, capsys):
    scenario = _scenario()
    why = scenario.slurm_up()
    if why:
        pytest.skip(f"no SLURM cluster here: {why}")
    import dask_jobqueue  # noqa: F401
    rc = scenario.run(tmp_path, duration_s=8.0, cancel_after=3, kill_after=8)
    out = capsys.readouterr().out
    assert rc == 0, out
    assert "scancel" in out and "the run went on" in out
    assert "SLURM jobs left: none (drained); processes left: none" in out
    assert "RESULT: ok" in out
