"""The numpy path fitter (kernel/path_fit.py): OpenSim's polynomial layout, moment arms from
path lengths equal to OpenSim's MomentArmSolver's, the same fit as OpenSim's
PolynomialPathFitter, bit-identical preparations, and fit errors within the documented
bound on held-out poses."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import opensim as osim
import pytest

from musclekit.pipelines.simulate.dynamics.kernel import path_fit as pf
from musclekit.pipelines.simulate.dynamics.kernel.prep import (
    PreparedModel,
    PrepSettings,
    _fit_inputs,
    prepare_model,
    sample_poses,
)
from musclekit.pipelines.simulate.opensim.files import write_mot
from musclekit.pipelines.simulate.opensim.test_model import build_test_model, squat_motion

FEET = {"right": ("calcn_r",), "left": ("calcn_l",)}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> tuple[Path, Path]:
    d = tmp_path_factory.mktemp("pathfit")
    model = build_test_model(d / "twoleg.osim")
    mot = write_mot(d / "squat.mot", squat_motion(1.2, period_s=1.2))
    return model, mot


def test_term_layout_is_opensims():
    rng = np.random.default_rng(0)
    for dim, order in [(1, 3), (2, 5), (4, 4)]:
        exps = pf.term_exponents(dim, order)
        x = rng.uniform(-1.5, 1.5, (3, dim))
        values, derivs = pf.design(x, exps)
        fn = osim.MultivariatePolynomialFunction(osim.Vector(len(exps), 0.0), dim, order)
        for r in range(3):
            xv = osim.Vector.createFromMat(x[r])
            np.testing.assert_allclose(values[r], fn.getTermValues(xv).to_numpy(), rtol=1e-12)
            for i in range(dim):
                which = osim.StdVectorInt()
                which.append(i)
                np.testing.assert_allclose(derivs[i, r], fn.getTermDerivatives(which, xv).to_numpy(),
                                           rtol=1e-12, atol=1e-12)


def test_moment_arms_from_lengths_equal_the_moment_arm_solver(inputs):
    model_path, mot = inputs
    model, _, _, cols, _, sampled, _ = _fit_inputs(model_path, [mot], PrepSettings(feet=FEET))
    sampler = pf.PathSampler(model, cols)
    poses = sampler.coupled(sampled[::37])
    crossing = sampler.crossings(poses)
    _, arms = sampler.sample(poses, crossing)
    assert crossing.sum() == 14  # 10 one-joint muscles + 2 biarticular hamstrings
    for r, pose in enumerate(poses):
        sampler._set(pose)
        for m, path in enumerate(sampler.paths):
            for j in sampler.independent:
                ref = path.computeMomentArm(sampler.state, sampler.coords[j])
                assert abs(arms[r, m, j] - ref) < 1e-6, (sampler.names[m], cols[j])


def _digests(folder: Path) -> dict[str, str]:
    return {str(f.relative_to(folder)): hashlib.sha256(f.read_bytes()).hexdigest()
            for f in sorted(folder.rglob("*")) if f.is_file() and f.name != "prep.json"}


def _prep_json(folder: Path) -> dict:
    info = json.loads((folder / "prep.json").read_text())
    for key in ("seconds", "phases"):  # measured run to run
        info.pop(key)
    info["path_fit"].pop("seconds")
    return info


@pytest.mark.timeout(600)
def test_preparation_is_bit_identical_and_within_the_documented_bound(inputs, tmp_path):
    model_path, mot = inputs
    settings = PrepSettings(feet=FEET)
    fa, fb = (prepare_model(model_path, tmp_path / f"cache{k}", settings, mot) for k in range(2))
    assert _digests(fa) == _digests(fb)
    assert _prep_json(fa) == _prep_json(fb)
    prep = PreparedModel.load(fa)
    assert prep.path_fit["fitter"] == "numpy" and len(prep.path_fit["muscles"]) == 12
    # Held-out poses: half way between the fitted frames, spread by another seed.
    model, _, _, cols, rotational, sampled, _ = _fit_inputs(model_path, [mot], settings)
    frames = sampled[::settings.path_fit_samples_per_frame]  # each frame comes first
    between = sample_poses((frames[:-1] + frames[1:]) / 2, [c in rotational for c in cols],
                           np.deg2rad(settings.path_fit_range_deg), 3,
                           seed=settings.path_fit_seed + 1)
    errors = pf.held_out_errors(model, cols, between,
                                [pf.read_path_set(fa / prep.path_fit["file"])])[0]
    assert len(errors) == 12
    for name, e in errors.items():
        assert e["length_rms_m"] <= pf.HELD_OUT_LENGTH_RMS_BOUND_M, name
        assert e["moment_arm_dl_rms_m"] <= pf.HELD_OUT_MOMENT_ARM_RMS_BOUND_M, name
        assert e["moment_arm_rms_m"] <= pf.HELD_OUT_MOMENT_ARM_RMS_BOUND_M, name


@pytest.mark.timeout(600)
def test_the_numpy_fit_is_opensims_fit(inputs, tmp_path):
    """Same samples, same coordinates per muscle, same orders, and the fitted lengths and
    moment arms agree far inside the fit's own error (OpenSim solves the normal equations
    with MomentArmSolver data; numpy a QR with length differences)."""
    model_path, mot = inputs
    sets = {}
    for fitter in ("numpy", "opensim"):
        folder = prepare_model(model_path, tmp_path / fitter,
                               PrepSettings(feet=FEET, path_fitter=fitter), mot)
        sets[fitter] = pf.read_path_set(folder / PreparedModel.load(folder).path_fit["file"])
    assert sets["numpy"].keys() == sets["opensim"].keys()
    _, _, _, cols, _, sampled, _ = _fit_inputs(model_path, [mot], PrepSettings(feet=FEET))
    for name, new in sets["numpy"].items():
        old = sets["opensim"][name]
        assert new["coordinates"] == old["coordinates"] and new["order"] == old["order"], name
        x = sampled[:, [cols.index(c) for c in new["coordinates"]]]
        (ln, an), (lo, ao) = (pf.evaluate(f["coef"], f["order"], x) for f in (new, old))
        assert np.abs(ln - lo).max() < 1e-5 and np.abs(an - ao).max() < 1e-4, name
