"""The dynamics demo runs end to end on the project's own model."""

from __future__ import annotations

from pathlib import Path

import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest


@pytest.mark.slow
def test_demo(tmp_path: Path) -> None:
    from musclekit.pipelines.simulate.dynamics.stage.demo import run_demo

    out = run_demo(tmp_path)
    assert out["chunks_total"] == 3 and out["chunks_converged"] == 3
    assert out["max_residual_moment_nm"] < 1.0 and out["max_reserve_nm"] < 5.0
    assert out["saturated_muscles"] == []
    assert Path(out["plot"]).is_file() and out["exit_code"] == 0
