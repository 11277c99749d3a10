"""`musclekit status` at 80 columns keeps the sequence ids whole (a user types them next)."""

from __future__ import annotations

import os
import subprocess
import sys

from musclekit.pipelines.simulate.dynamics.kernel.result import ChunkReport, save_chunk

LONG_ID = "BMLmovi_Subject_11_F_MoSh_Subject_11_F_14_poses"


def test_status_keeps_long_ids_whole_at_80_columns(tmp_path) -> None:
    folder = tmp_path / "ds" / "opensim" / LONG_ID / "dynamics" / "inverse"
    save_chunk(folder, "chunk0000", ChunkReport(sequence_id=LONG_ID, chunk=0, method="inverse",
                                                status="converged", solve_time_s=2.0), None)
    done = subprocess.run([sys.executable, "-m", "musclekit.cli.main", "status",
                           str(tmp_path / "ds")], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "COLUMNS": "80"})
    assert done.returncode == 0, done.stderr
    text = done.stdout + done.stderr
    assert LONG_ID in text, text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "1 converged, 0 failed, 0 running; solve median 2.0 s" in text

