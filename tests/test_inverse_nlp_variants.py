"""benchmarks/inverse_nlp_variants.py: each reformulation of the `inverse` NLP reaches the
optimum of a small problem with a known answer, `default` gives nlp/inverse.py's bytes, and
bad requests are refused by name. Run in a child process: casadi must not be loaded beside
opensim in the test process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np

from musclekit.pipelines.simulate.dynamics.nlp.child import child_environment
from musclekit.pipelines.simulate.dynamics.nlp.common import save_npz
from musclekit.pipelines.simulate.dynamics.nlp.inverse import RedundancyProblem

ROOT = Path(__file__).resolve().parents[1]

CHILD = r"""
import sys, json
import numpy as np
sys.path.insert(0, sys.argv[2])
from inverse_nlp_variants import VARIANTS, solve_variant
from musclekit.pipelines.simulate.dynamics.nlp import inverse
from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz
problem = load_npz(inverse.RedundancyProblem, sys.argv[1])[0]
base = inverse.solve(problem)
out = {"base": base.activation.tolist()}
for name in VARIANTS:
    _, sol = solve_variant(name, problem)
    out[name] = {"a": sol.activation.tolist(), "c": sol.actuator_control.tolist(),
                 "objective": sol.objective, "success": sol.success}
for bad in ("no-such-variant", "reserves-eliminated-bounded"):
    try:
        if bad == "no-such-variant":
            solve_variant(bad, problem)
        else:
            problem.actuator_max_control = np.array([50.0])
            solve_variant("reserves-eliminated", problem)
    except Exception as err:
        out[bad] = f"{type(err).__name__}: {err}"
print(json.dumps(out))
"""


def _one_joint(n: int = 21) -> RedundancyProblem:
    """80 N m about one joint, one muscle of 50 N m capacity (0.05 m x 1000 N): the muscle
    saturates and a reserve of optimal force 1 carries the other 30 N m."""
    return RedundancyProblem(
        time_s=np.linspace(0.0, 0.4, n), tau=np.full((n, 1), 80.0),
        force_passive=np.zeros((n, 1)), force_active=np.full((n, 1), 1000.0),
        moment_arm=np.full((n, 1, 1), 0.05), actuator_coordinate=np.array([0]),
        actuator_optimal_force=np.array([1.0]), actuator_min_control=np.array([-np.inf]),
        actuator_max_control=np.array([np.inf]),
        activation_time_constant_s=np.array([0.015]),
        deactivation_time_constant_s=np.array([0.06]), activation_smoothing=np.array([0.1]),
        muscles=["m0"], coordinates=["q"], actuators=["reserve_q"], tolerance=1e-6,
        max_iterations=500)


def test_every_variant_reaches_the_known_optimum(tmp_path: Path) -> None:
    import json

    save_npz(tmp_path / "problem.npz", _one_joint())
    done = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path / "problem.npz"),
                           str(ROOT / "benchmarks")], capture_output=True, text=True,
                          env=child_environment(), timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    out = json.loads(done.stdout.strip().splitlines()[-1])
    # nlp/inverse.py's solve and the `default` variant are one computation.
    assert out["default"]["a"] == out["base"]
    objectives = {name: out[name]["objective"] for name in
                  ("default", "balanced-start", "convexified-hessian", "reserves-eliminated")}
    for name, objective in objectives.items():
        assert out[name]["success"], name
        a, c = np.array(out[name]["a"]), np.array(out[name]["c"])
        # after the first mesh points (the window starts in equilibrium) the muscle is full
        # on and the reserve supplies the rest
        assert a[3:].min() > 0.99, name
        assert np.allclose(c[3:, 0], 30.0, atol=0.5), name
        assert abs(objective - objectives["default"]) < 1e-3 * objectives["default"], name
    assert out["no-such-variant"].startswith("MusclekitError: unknown variant 'no-such-variant'")
    assert out["reserves-eliminated-bounded"].startswith(
        "MusclekitError: reserves-eliminated needs each reserve unbounded")
