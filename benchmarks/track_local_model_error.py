"""Where a `track` round's local model misses OpenSim: the dynamics defect at one round's
solution, split into what the local model (nlp/track.py) left out.

A round's NLP states the equations of motion with the skeleton linearised at the round's
trajectory (q_lin, v_lin, a_lin), the muscles' moment arms and tendon forces held there, and
each contact sphere's exact contact law at its linearised centre and velocity, mapped to
generalized forces through the spheres' Jacobians at q_lin. OpenSim's defect at the round's
solution (methods/track/setup.py `opensim_defect`) is then exactly

    defect = skeleton - muscles - contact

(each: OpenSim's value at the solution minus the local model's; muscles and contact without
the first-order terms of the applied forces), which this script prints per part (largest
value, where, when), and the error with those terms (`applied_dq`, `applied_dv`: the round's
own when its problem has them, else evaluated here at the linearisation point with the
round's warm-start activations).

Input: a chunk's work folder as `track` leaves it (`track_problem.npz`, `track_solution.npz`
of its last round, `model_feet_levelled.osim` or the prepared model given by --model).

    python benchmarks/track_local_model_error.py WORK_FOLDER [--model MODEL.osim]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

ROOT = ["pelvis_tilt", "pelvis_list", "pelvis_rotation", "pelvis_tx", "pelvis_ty", "pelvis_tz"]


def split_defect(folder: Path, model: Path) -> dict:
    from musclekit.pipelines.simulate.dynamics.kernel.contact_law import sphere_force
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel
    from musclekit.pipelines.simulate.dynamics.nlp.track import TrackProblem
    from musclekit.pipelines.simulate.opensim.evaluate import (
        crossing_sets,
        dgf_model_processor,
        muscle_terms,
    )

    p, guess = TrackProblem.load(folder / "track_problem.npz")
    s = dict(np.load(folder / "track_solution.npz", allow_pickle=True))
    start = time.process_time()
    tm = TrackModel(dgf_model_processor(str(model)), ROOT)
    if tm.coordinates != p.coordinates:
        raise SystemExit(f"{model} is not the model of {folder}: its coordinates differ")
    N = len(p.time_s)
    q, v, a, act = s["q"], s["v"], s["a"], s["activation"]
    dq, dv = q - p.q_lin, v - p.v_lin
    defect = tm.opensim_defect(p.time_s, q, v, a, act, s["control"])
    crossing = crossing_sets(tm.model, tm.state, tm.muscles, tm.coordinates,
                             [dict(zip(tm.coordinates, q[k], strict=True))
                              for k in (0, N // 2, N - 1)])
    skeleton, muscles, contact = (np.zeros_like(q) for _ in range(3))
    slope_terms = np.zeros_like(q)
    act_lin = guess.get("activation", act)
    for k in range(N):
        local = (p.g0[k] + p.dg_dq[k] @ dq[k] + p.dg_dv[k] @ dv[k]
                 + p.dg_da[k] @ (a[k] - p.a_lin[k]))
        skeleton[k] = tm.generalized_forces(q[k], v[k], a[k]) - local
        f0, f1, arms = muscle_terms(tm.model, tm.state, tm.muscles, tm.coordinates, crossing,
                                    float(p.time_s[k]),
                                    dict(zip(tm.coordinates, q[k], strict=True)),
                                    dict(zip(tm.coordinates, v[k], strict=True)))
        muscles[k] = (arms.T @ (f0 + act[k] * f1)
                      - p.moment_arm[k].T @ (p.force_passive[k] + act[k] * p.force_active[k]))
        here = tm.linearise(q[k], v[k], a[k])
        for i, sphere in enumerate(tm.spheres):
            f, point = sphere_force(np, sphere, here["centre"][i], here["jac_centre"][i] @ v[k],
                                    here["jac_angular"][i] @ v[k])
            f = np.asarray(f)
            exact = (here["jac_centre"][i].T @ f + here["jac_angular"][i].T
                     @ np.cross(np.asarray(point) - here["centre"][i], f))
            J, Jw = p.sphere_jacobian[k, i], p.body_angular_jacobian[k, i]
            c = p.sphere_centre[k, i] + J @ dq[k]
            f, point = sphere_force(np, sphere, c, J @ v[k] + p.sphere_velocity_dq[k, i] @ dq[k],
                                    Jw @ v[k])
            f = np.asarray(f)
            contact[k] += exact - (J.T @ f + Jw.T @ np.cross(np.asarray(point) - c, f))
        if p.applied_dq is not None:  # the round's NLP had them
            slope_terms[k] = p.applied_dq[k] @ dq[k] + p.applied_dv[k] @ dv[k]
        else:
            lin = tm.linearise(p.q_lin[k], p.v_lin[k], p.a_lin[k], activation=act_lin[k])
            slope_terms[k] = lin["applied_dq"] @ dq[k] + lin["applied_dv"] @ dv[k]
    # The NLP's own equations hold at its solution: with the terms in the problem, OpenSim's
    # defect is the local model's error with them; without, the error without them.
    with_terms = p.applied_dq is not None
    without = defect - slope_terms if with_terms else defect
    unexplained = without - (skeleton - muscles - contact)

    def worst(x: np.ndarray) -> dict:
        k, j = np.unravel_index(int(np.argmax(np.abs(x))), x.shape)
        return {"max": round(float(np.abs(x).max()), 3), "t_s": round(float(p.time_s[k]), 3),
                "coordinate": p.coordinates[j]}

    k, j = np.unravel_index(int(np.argmax(np.abs(without))), without.shape)
    return {
        "step_rad_or_m": round(float(np.abs(dq).max()), 5),
        "round_had_first_order_terms": with_terms,
        "opensim_defect": worst(defect), "skeleton": worst(skeleton), "muscles": worst(muscles),
        "contact": worst(contact), "unexplained": worst(unexplained),
        "at_worst": {"skeleton": round(float(skeleton[k, j]), 3),
                     "muscles": round(float(muscles[k, j]), 3),
                     "contact": round(float(contact[k, j]), 3)},
        "without_first_order_terms": worst(without),
        "with_first_order_terms": worst(defect if with_terms else defect + slope_terms),
        "cpu_s": round(time.process_time() - start, 1),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--model", type=Path, default=None)
    args = ap.parse_args(argv)
    model = args.model or args.folder / "model_feet_levelled.osim"
    for key, value in split_defect(args.folder, model).items():
        print(f"{key}: {value}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
