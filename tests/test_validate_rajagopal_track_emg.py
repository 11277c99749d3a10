"""benchmarks/validate_rajagopal_track_emg.py's pieces: one method's chunks stitched for the
EMG comparison (a failed chunk refused by name), and the side-by-side table naming the
phase where a method falls behind the reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.errors import MusclekitError
from musclekit.pipelines.simulate.dynamics.kernel.chunks import ChunkPlan, plan_chunks
from musclekit.pipelines.simulate.dynamics.kernel.result import ChunkOutput
from musclekit.pipelines.simulate.dynamics.stage.emg_compare import MuscleComparison
from tests.helpers.benchmark_script import load_benchmark

ROOT = Path(__file__).resolve().parents[1]
track_emg = load_benchmark("validate_rajagopal_track_emg")

MUSCLES = ["soleus_r", "tibant_r"]


def _outputs(chunks, fn):
    """Per chunk a ChunkOutput of activations fn(t) (N, 2) on its solve window at 100 Hz."""
    outs = []
    for c in chunks:
        t = np.arange(c.solve_start_s, c.solve_end_s + 1e-9, 0.01)
        outs.append(ChunkOutput(t, {"activations": fn(t)}, {"activations": list(MUSCLES)},
                                {"activations": ["", ""]}))
    return outs


def _walk_chunks():
    times = np.arange(0.0, 2.37 + 1e-9, 0.01)
    plan = ChunkPlan()
    return plan_chunks("walk", times, plan), plan, times


def test_stitched_activations_join_the_chunks_without_a_seam():
    chunks, plan, times = _walk_chunks()
    assert len(chunks) == 2
    fn = lambda t: np.column_stack([0.5 + 0.4 * np.sin(2 * np.pi * t), 0.1 + 0.05 * t])  # noqa: E731
    t, acts, muscles = track_emg.stitched_activations(
        chunks, _outputs(chunks, fn), times[0], times[-1], plan, "track none")
    assert muscles == MUSCLES
    inside = np.isfinite(acts).all(axis=1)
    assert inside.sum() > 0.9 * len(t)
    np.testing.assert_allclose(acts[inside], fn(t[inside]), atol=2e-3)


def test_a_failed_chunk_is_refused_by_name():
    chunks, plan, times = _walk_chunks()
    outs = _outputs(chunks, lambda t: np.ones((len(t), 2)))
    outs[1] = None
    with pytest.raises(MusclekitError, match=r"track estimated: chunk\(s\) \[1\] have no solution"):
        track_emg.stitched_activations(chunks, outs, times[0], times[-1], plan,
                                       "track estimated", (0.248, 1.5))
    # outside the compared window it is a gap there, as `simulate` leaves it
    t, acts, _ = track_emg.stitched_activations(chunks, outs, times[0], times[-1], plan,
                                                "track estimated", (0.248, 1.3925))
    inside = (t >= 0.248) & (t <= 1.3925)
    assert np.isfinite(acts[inside]).all()
    assert np.isnan(acts[t > 1.5]).all()
    outs[0] = None
    with pytest.raises(MusclekitError, match="no chunk has a solution"):
        track_emg.stitched_activations(chunks, outs, times[0], times[-1], plan, "track none",
                                       (5.0, 6.0))


def test_chunks_with_other_muscles_are_refused():
    chunks, plan, times = _walk_chunks()
    outs = _outputs(chunks, lambda t: np.ones((len(t), 2)))
    outs[1].channels["activations"] = ["gasmed_r", "tibant_r"]
    with pytest.raises(MusclekitError, match="chunk 1's muscles differ from chunk 0's"):
        track_emg.stitched_activations(chunks, outs, times[0], times[-1], plan, "inverse")


def _row(channel, pcc0, pcc, deficits):
    return MuscleComparison(channel, [], pcc, pcc0, 0.04, deficit_by_phase=deficits)


def test_side_by_side_names_the_phase_where_a_method_is_worse():
    results = {
        "inverse": [_row("SOL", 0.80, 0.90, {"stance": 0.15, "swing": 0.05}),
                    _row("TA", 0.50, 0.60, {"stance": 0.30, "swing": 0.20})],
        "track none": [_row("SOL", 0.60, 0.70, {"stance": 0.20, "swing": 0.20}),
                       _row("TA", 0.70, 0.75, {"stance": 0.10, "swing": 0.20})],
    }
    lines = track_emg.side_by_side(results)
    sol = next(ln for ln in lines if ln.startswith("SOL"))
    ta = next(ln for ln in lines if ln.startswith("TA"))
    # SOL: track's deficit grew by 0.15 in swing, 0.05 in stance
    assert "worse in track none: swing +0.15" in sol
    assert "worse" not in ta
    median = lines[-1]
    assert median.startswith("median")
    assert "0.650 / 0.750" in median  # inverse: medians of 0.80, 0.50 and 0.90, 0.60
    assert "0.650 / 0.725" in median  # track


def test_side_by_side_needs_its_reference():
    with pytest.raises(MusclekitError, match="no 'inverse' among"):
        track_emg.side_by_side({"track none": [_row("SOL", 0.6, 0.7, {})]})


def test_vs_reference_compares_each_channels_muscles_with_the_reference():
    t = np.arange(0.0, 2.0, 0.02)
    muscles = [f"{m}_r" for m in ("soleus", "gasmed", "gaslat", "tibant")]
    base = np.column_stack([np.sin(2 * np.pi * t + k) for k in range(4)]) + 1.0
    other = base.copy()
    other[:, 3] = 2.0 - base[:, 3]  # tibialis anterior mirrored
    solved = {"inverse": {"time_s": t, "activations": base, "muscles": muscles},
              "track none": {"time_s": t, "activations": other, "muscles": muscles}}
    chans = track_emg.CHANNELS
    track_emg.CHANNELS = ["SOL", "GAS", "TA"]
    try:
        out = track_emg.vs_reference(solved, (0.25, 1.4))
    finally:
        track_emg.CHANNELS = chans
    assert out == {"track none": {"SOL": 1.0, "GAS": 1.0, "TA": -1.0}}


def test_weights_are_parsed_against_track_s_defaults():
    assert track_emg.parse_weights(["accelerations=10", "control_effort=1"]) == {
        "accelerations": 10.0, "control_effort": 1.0}
    with pytest.raises(MusclekitError, match=r"--weights 'acceleration=10': expected KEY=VALUE"):
        track_emg.parse_weights(["acceleration=10"])
    with pytest.raises(MusclekitError, match=r"'ten' is not a number"):
        track_emg.parse_weights(["accelerations=ten"])
    assert track_emg.track_folder("none", {}) == "track_none"
    assert track_emg.track_folder("estimated", {"states": 1e5, "accelerations": 10.0}) == \
        "track_estimated_accelerations10_states100000"


def _kept(tmp_path, name, t, arms, f0, f1, act, coordinate, optimal, control, track):
    """A kept problem / solution pair as the NLP modules save them (arrays + meta JSON)."""
    import json

    p, s = tmp_path / f"{name}_problem.npz", tmp_path / f"{name}_solution.npz"
    np.savez(p, meta=json.dumps({"coordinates": ["hip", "knee"]}), time_s=t, moment_arm=arms,
             force_passive=f0, force_active=f1, actuator_coordinate=coordinate,
             actuator_optimal_force=optimal)
    key = "control" if track else "actuator_control"
    np.savez(s, activation=act, **{key: control})
    return p, s


def test_muscle_moments_sum_muscles_and_reserves(tmp_path):
    t = np.array([0.0, 0.5, 1.0])
    arms = np.zeros((3, 2, 2))
    arms[:, 0, 0], arms[:, 1, 1] = 0.05, -0.04  # one muscle per coordinate
    f0, f1 = np.full((3, 2), 10.0), np.full((3, 2), 1000.0)
    act = np.array([[0.1, 0.2], [0.3, 0.4], [0.5, 0.6]])
    files = _kept(tmp_path, "track", t, arms, f0, f1, act, np.array([1]), np.array([2.0]),
                  np.array([[0.5], [0.0], [-1.0]]), track=True)
    time_s, gen, coords = track_emg.muscle_moments(*files)
    assert coords == ["hip", "knee"]
    np.testing.assert_allclose(time_s, t)
    np.testing.assert_allclose(gen[:, 0], 0.05 * (10 + 1000 * act[:, 0]))
    np.testing.assert_allclose(gen[:, 1], -0.04 * (10 + 1000 * act[:, 1]) + [1.0, 0.0, -2.0])
    # inverse's solution names its controls actuator_control
    files = _kept(tmp_path, "inverse", t, arms, f0, f1, act, np.array([1]), np.array([2.0]),
                  np.array([[0.5], [0.0], [-1.0]]), track=False)
    np.testing.assert_allclose(track_emg.muscle_moments(*files)[1], gen)


def test_phase_means_and_a_phase_without_samples():
    t = np.arange(0.0, 1.0, 0.1)
    means = track_emg.phase_means(t, np.column_stack([t, 2 * t]), {"a": (0.0, 0.35), "b": (0.35, 1.0)})
    np.testing.assert_allclose(means["a"], [0.15, 0.3])
    np.testing.assert_allclose(means["b"], [0.65, 1.3])
    with pytest.raises(MusclekitError, match="no sample of 0.000-0.900 s in phase late"):
        track_emg.phase_means(t, t, {"late": (2.0, 3.0)})


def test_stitched_moments_take_each_chunk_s_core(tmp_path):
    chunks, plan, times = _walk_chunks()
    files = []
    for c in chunks:
        t = np.arange(c.solve_start_s, c.solve_end_s + 1e-9, 0.02)
        arms = np.zeros((len(t), 1, 2))
        arms[:, 0, 0] = 1.0
        act = np.full((len(t), 1), float(c.index))  # chunk k's moment is 1000 k
        d = tmp_path / f"c{c.index}"
        d.mkdir()
        files.append(_kept(d, "track", t, arms, np.zeros((len(t), 1)),
                           np.full((len(t), 1), 1000.0), act, np.array([], dtype=int),
                           np.array([]), np.zeros((len(t), 0)), track=True))
    t, gen, coords = track_emg.stitched_moments(chunks, files)
    assert np.all(np.diff(t) > 0)
    first = t < chunks[0].core_end_s - 1e-9
    assert np.all(gen[first, 0] == 0.0) and np.all(gen[~first, 0] == 1000.0)
    with pytest.raises(MusclekitError, match="no chunk has a kept problem and solution"):
        track_emg.stitched_moments(chunks, [None, None])


def test_right_foot_by_phase_weights_the_centre_of_pressure_by_the_load():
    from musclekit.pipelines.simulate.opensim.external_loads import GRF_CHANNELS

    t = np.arange(0.0, 1.0, 0.1)
    grf = np.zeros((len(t), len(GRF_CHANNELS)))
    ix = {c: i for i, c in enumerate(GRF_CHANNELS)}
    grf[:, ix["ground_force_right_vy"]] = [100, 300, 0, 0, 0, 10, 10, 10, 10, 10]
    grf[:, ix["ground_force_right_vz"]] = -5.0
    grf[:, ix["ground_force_right_px"]] = [0.1, 0.2, np.nan, 0, 0, 0, 0, 0, 0, 0]
    out = track_emg.right_foot_by_phase(t, grf, {"stance": (0.0, 0.45), "swing": (0.45, 1.0)})
    assert out["stance"][:3] == [0.0, 80.0, -5.0]  # mean over 0-0.4 s
    assert out["stance"][3] == pytest.approx(0.175)  # (100 * 0.1 + 300 * 0.2) / 400
    # below 20 N there is no centre of pressure
    assert np.isnan(out["swing"][3]) and out["swing"][1] == 10.0
