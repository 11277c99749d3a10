"""Terms of track's objective (nlp/track.py) on a hand-made problem: one sphere under a point
mass, the objective read at the starting point (IPOPT stopped before its first step), so each
term's form and weight are checked against arithmetic."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from musclekit.pipelines.simulate.dynamics.nlp.child import solve_in_child
from musclekit.pipelines.simulate.dynamics.nlp.track import DEFAULT_TRACK_WEIGHTS, TrackProblem

BW = 30.0  # N, the force scale: the body weights the force term counts in
SPHERE = {"name": "s1_r", "body": "calcn_r", "location_m": [0.0, 0.0, 0.0], "radius_m": 0.035,
          "stiffness": 1e6, "dissipation": 2.0, "static_friction": 0.8,
          "dynamic_friction": 0.8, "viscous_friction": 0.5, "transition_velocity": 0.2,
          "constant_contact_force": 1e-5, "hertz_smoothing": 300.0,
          "hunt_crossley_smoothing": 50.0, "plane_normal": [0.0, 1.0, 0.0],
          "plane_point": [0.0, 0.0, 0.0], "force_name": "s1_r_force"}


def _point_mass_on_a_sphere(target: np.ndarray, **settings: float) -> TrackProblem:
    """A 3 kg point (coordinates x, y, z in m) resting on one sphere of the right foot, at
    rest on a 5-point mesh; `target` (3,): the right foot's tracked force (N)."""
    N, n, mass = 5, 3, 3.0
    t = np.linspace(0.0, 0.2, N)
    q = np.tile([0.0, 0.03, 0.0], (N, 1))  # the sphere 5 mm into the floor
    zeros = np.zeros((N, n))
    jac = np.broadcast_to(np.eye(3), (N, 1, 3, n)).copy()
    grf = np.zeros((N, 2, 3))
    grf[:, 0] = target
    return TrackProblem(
        time_s=t, q_ref=q, q_lin=q, v_lin=zeros, a_lin=zeros,
        g0=np.tile([0.0, mass * 9.80665, 0.0], (N, 1)), dg_dq=np.zeros((N, n, n)),
        dg_dv=np.zeros((N, n, n)), dg_da=np.broadcast_to(mass * np.eye(n), (N, n, n)).copy(),
        sphere_centre=q[:, None, :].copy(), sphere_jacobian=jac,
        body_angular_jacobian=np.zeros((N, 1, 3, n)), force_passive=np.zeros((N, 1)),
        force_active=np.zeros((N, 1)), moment_arm=np.zeros((N, 1, n)),
        translational=np.ones(n), actuator_coordinate=np.zeros(0, dtype=int),
        actuator_optimal_force=np.zeros(0), actuator_is_residual=np.zeros(0),
        actuator_cost_scale=np.zeros(0), activation_time_constant_s=np.array([0.01]),
        deactivation_time_constant_s=np.array([0.04]), activation_smoothing=np.array([0.1]),
        muscles=["m"], coordinates=["x", "y", "z"], actuators=[], spheres=[dict(SPHERE)],
        grf_target=grf, sphere_side=np.array([0]),
        settings={"trust_rad": 0.05, "trust_m": 0.02, "force_scale_n": BW, "tolerance": 1e-3,
                  "max_iterations": 0, "vertical_coordinate": 1, "offset_range_m": 0.0,
                  **settings})


def _objective_at_start(tmp_path: Path, problem: TrackProblem) -> float:
    sol = solve_in_child("musclekit.pipelines.simulate.dynamics.nlp.track", problem, tmp_path)
    return sol.objective


@pytest.mark.parametrize("multiple", [1.0, 2.5])
def test_the_mediolateral_force_is_tracked_at_its_multiple_of_the_force_weight(
        tmp_path: Path, multiple: float) -> None:
    """At rest the sphere has no sideways force, so a target of 0.1 BW sideways costs
    w_f * multiple * 0.1^2 on top of the same problem without it; a multiple of 0 leaves the
    sideways force free, as before (vertical and fore-aft only)."""
    w_f = DEFAULT_TRACK_WEIGHTS["grf"]
    sideways = np.array([0.0, 0.0, 0.1 * BW])
    free = _objective_at_start(tmp_path / "free", _point_mass_on_a_sphere(
        sideways, grf_mediolateral=0.0))
    none = _objective_at_start(tmp_path / "none", _point_mass_on_a_sphere(
        np.zeros(3), grf_mediolateral=multiple))
    tracked = _objective_at_start(tmp_path / "tracked", _point_mass_on_a_sphere(
        sideways, grf_mediolateral=multiple))
    assert free == pytest.approx(none, rel=1e-9)
    assert tracked - none == pytest.approx(w_f * multiple * 0.1 ** 2, rel=1e-3)


def test_the_default_tracks_the_mediolateral_force_at_the_force_weight() -> None:
    assert DEFAULT_TRACK_WEIGHTS["grf_mediolateral"] == 1.0
