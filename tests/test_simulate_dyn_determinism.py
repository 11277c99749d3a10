"""Same inputs, same outputs: preparing the test model twice from scratch gives the same
prepared model bit for bit (the polynomial-path samples are drawn from a seeded generator,
not by OpenSim's unseedable fitter), and one inverse chunk solved on each gives the same
activations and muscle forces."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import opensim  # noqa: E402,F401  (a required dependency: missing fails the suite)
import pytest

from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks  # noqa: E402
from musclekit.pipelines.simulate.dynamics.kernel.prep import (  # noqa: E402
    PrepSettings,
    prepare_model,
    sample_poses,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.settings import (  # noqa: E402
    InverseSettings,
)
from musclekit.pipelines.simulate.dynamics.methods.inverse.solve import (  # noqa: E402
    solve_chunk as solve_inverse_chunk,
)
from musclekit.pipelines.simulate.opensim.files import write_mot  # noqa: E402
from musclekit.pipelines.simulate.opensim.test_model import build_test_model, squat_motion  # noqa: E402

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}
# Measured run to run; only these describe the run, not the model.
TIMINGS = ("seconds", "phases")


def _digests(folder: Path) -> dict[str, str]:
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file() and f.name != "prep.json"}


def _prep_json(folder: Path) -> dict:
    info = json.loads((folder / "prep.json").read_text())
    for key in TIMINGS:
        info.pop(key)
        info["path_fit"].pop(key, None)
    return info


def test_sample_poses_are_seeded_and_stay_in_the_spread():
    frames = np.array([[0.1, 0.5, 0.02], [0.3, -0.2, 0.02]])
    a = sample_poses(frames, [True, True, False], 0.4, 10, seed=0)
    assert np.array_equal(a, sample_poses(frames, [True, True, False], 0.4, 10, seed=0))
    assert not np.array_equal(a, sample_poses(frames, [True, True, False], 0.4, 10, seed=1))
    assert a.shape == (20, 3)
    assert np.array_equal(a[[0, 10]], frames)  # each frame itself comes first
    around = a.reshape(2, 10, 3) - frames[:, None, :]
    assert np.abs(around[..., :2]).max() <= 0.4 and np.abs(around[..., :2]).max() > 0.3
    assert (around[..., 2] == 0).all()  # a non-rotational coordinate is not spread
    # Latin hypercube: the 9 samples of a frame fall one per stratum in each column.
    strata = np.floor((around[0, 1:, :2] / 0.4 + 1.0) / 2.0 * 9).astype(int)
    assert all(sorted(strata[:, j]) == list(range(9)) for j in range(2))


@pytest.mark.timeout(600)
def test_two_preparations_and_chunk_solves_from_scratch_are_identical(tmp_path: Path):
    model = build_test_model(tmp_path / "twoleg.osim")
    motion = squat_motion(1.2, period_s=1.2)
    mot = write_mot(tmp_path / "squat.mot", motion)
    chunk = plan_chunks("sq", motion.time_s,
                        ChunkPlan(chunk_s=0.6, buffer_s=0.1, blend_s=0.05, trim_s=0.1))[0]
    runs = []
    for k in range(2):
        folder = prepare_model(model, tmp_path / f"cache{k}", PrepSettings(feet=FEET), mot)
        report, out = solve_inverse_chunk(folder, mot, chunk,
                                          InverseSettings(mesh_per_s=25, max_iterations=300),
                                          tmp_path / f"work{k}")
        assert report.status == "converged", report.reason
        runs.append((folder, report, out))
    (fa, ra, oa), (fb, rb, ob) = runs
    assert fa.name == fb.name  # same cache key
    assert _digests(fa) == _digests(fb)  # model.osim and the fitted path set, bit for bit
    assert _prep_json(fa) == _prep_json(fb)
    assert ra.iterations == rb.iterations and ra.objective == rb.objective
    assert np.array_equal(oa.time_s, ob.time_s)
    for stream in ("activations", "muscle_forces", "grf", "residuals"):
        a, b = oa.values[stream], ob.values[stream]
        assert a.shape == b.shape
        # Bit for bit where the solver allows; the tolerance otherwise.
        np.testing.assert_allclose(a, b, rtol=0, atol=1e-6, equal_nan=True, err_msg=stream)
    exact = {s: bool(np.array_equal(oa.values[s], ob.values[s], equal_nan=True))
             for s in oa.values}
    print("bit-identical streams:", exact)
