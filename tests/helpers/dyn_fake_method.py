"""A stand-in dynamics method for tests of the kernel's checks (registered by the tests that
use it): its `solve_chunk` returns what a solver that broke its bounds would."""

from __future__ import annotations

import numpy as np

from musclekit.pipelines.simulate.dynamics.kernel.result import ChunkOutput, ChunkReport


def solve_chunk(prep_folder, motion_path, chunk, settings, work):
    t = np.linspace(chunk.solve_start_s, chunk.solve_end_s, 5)
    act = np.full((5, 1), 0.5)
    act[2, 0] = 1.2  # outside [0, 1]
    report = ChunkReport(sequence_id=chunk.sequence_id, chunk=chunk.index, method="fake",
                         status="converged", activation_out_of_range=0.2)
    out = ChunkOutput(time_s=t, values={"activations": act}, channels={"activations": ["m"]},
                      units={"activations": [""]})
    return report, out
