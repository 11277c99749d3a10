"""Where a `track` chunk with `--track-grf` leaves its contact forces against their target, and
what each term of the objective costs there (issue 25).

Reads a chunk's work folder of `track` (as `validate_rajagopal_track.py --work W` leaves it:
W/<trial>/track_<grf>[_w<weight>]/chunk0000 with `track_problem.npz`, the last round's local
model, and `track_solution.npz`, its solution) and evaluates, without OpenSim, what that NLP
saw at its solution:

- each foot's vertical, fore-aft and mediolateral contact force (the spheres' law at the
  linearised sphere centres and velocities, as nlp/track.py states it) against the round's
  target (the estimate or the plates): RMSE in % body weight over the whole window, and the
  same for the feet's summed vertical force, which the body's vertical acceleration fixes (a split
  between the feet can be wrong with the sum right, not the other way round);
- the objective's terms at the solution (weights as the round had them, trapezoidal rule over
  the window divided by its duration as nlp/track.py): states (with the floor offset that
  fits q best), speeds, accelerations, excitations and the force term;
- the coordinates furthest from the tracked motion (RMS, rad or m).

Run:

    python benchmarks/track_grf_terms.py W/walk/track_estimated_w10000/chunk0000 [--json out.json]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.contact_law import ContactSphere, sphere_force
from musclekit.pipelines.simulate.dynamics.nlp.common import trapezoid_weights


def foot_forces(z, q: np.ndarray, v: np.ndarray, spheres: list[ContactSphere]) -> np.ndarray:
    """(N, 2, 3) right and left feet's summed sphere forces (N) of the local model at (q, v)."""
    dq = q - z["q_lin"]
    side = np.asarray(z["sphere_side"], dtype=int)
    out = np.zeros((len(q), 2, 3))
    for k in range(len(q)):
        for s, sphere in enumerate(spheres):
            if side[s] < 0:
                continue
            centre = z["sphere_centre"][k, s] + z["sphere_jacobian"][k, s] @ dq[k]
            velocity = z["sphere_jacobian"][k, s] @ v[k] + z["sphere_velocity_dq"][k, s] @ dq[k]
            force, _ = sphere_force(np, sphere, centre, velocity,
                                    z["body_angular_jacobian"][k, s] @ v[k])
            out[k, side[s]] += force
    return out


def analyse(folder: Path) -> dict:
    prob, sol = folder / "track_problem.npz", folder / "track_solution.npz"
    if not (prob.is_file() and sol.is_file()):
        raise InputError(f"{folder} holds no track_problem.npz and track_solution.npz: pass a "
                         "track chunk's work folder (validate_rajagopal_track.py --work W)")
    with np.load(prob, allow_pickle=True) as zf, np.load(sol) as sf:
        z, s = dict(zf), dict(sf)
    if "grf_target" not in z:
        raise InputError(f"{folder}: the chunk was solved without --track-grf (no target)")
    meta = json.loads(str(z["meta"]))
    st, names = meta["settings"], meta["coordinates"]
    bw = float(st["force_scale_n"])
    t, q, v, a = z["time_s"], s["q"], s["v"], s["a"]
    feet = foot_forces(z, q, v, [ContactSphere(**d) for d in meta["spheres"]])
    target = np.asarray(z["grf_target"])
    w = trapezoid_weights(t) / (t[-1] - t[0])

    def rmse_pct(x: np.ndarray) -> float:
        return round(100.0 * float(np.sqrt(np.sum(w * x ** 2))) / bw, 1)

    out: dict = {"folder": str(folder), "grf_weight": st["grf"]}
    for i, side in enumerate(("right", "left")):
        out[f"{side}_vertical_rmse_bw_pct"] = rmse_pct(feet[:, i, 1] - target[:, i, 1])
        out[f"{side}_fore_aft_rmse_bw_pct"] = rmse_pct(feet[:, i, 0] - target[:, i, 0])
        out[f"{side}_mediolateral_rmse_bw_pct"] = rmse_pct(feet[:, i, 2] - target[:, i, 2])
    out["sum_vertical_rmse_bw_pct"] = rmse_pct(feet[:, :, 1].sum(1) - target[:, :, 1].sum(1))
    q_ref = z["q_ref"].copy()
    j = int(st["vertical_coordinate"])
    q_ref[:, j] += float(np.sum(w * (q[:, j] - q_ref[:, j])))  # the best floor offset
    v_ref = np.gradient(z["q_ref"], t, axis=0)
    a_ref = np.gradient(v_ref, t, axis=0)
    terms = {"states": st["states"] * ((q - q_ref) ** 2).sum(1),
             "speeds": st["speeds"] * ((v - v_ref) ** 2).sum(1),
             "accelerations": st["accelerations"] * ((a - a_ref) ** 2).sum(1),
             "excitations": st["control_effort"] * (s["excitation"] ** 2).sum(1),
             "grf": _grf_term(st, feet, target, bw)}
    out["objective_terms"] = {k: round(float(np.sum(w * x)), 2) for k, x in terms.items()}
    rms = np.sqrt(np.sum(w[:, None] * (q - q_ref) ** 2, axis=0))
    out["furthest_coordinates"] = [[names[i], round(float(rms[i]), 4)]
                                   for i in np.argsort(rms)[::-1][:5]]
    return out


def _grf_term(st: dict, feet: np.ndarray, target: np.ndarray, bw: float) -> np.ndarray:
    """The force term per mesh point as nlp/track.py builds it: vertical and fore-aft at the
    force weight, mediolateral at its multiple `grf_mediolateral` (absent in chunks solved
    before b00bb85: 0, the sideways force free)."""
    axis_weight = np.array([1.0, 1.0, float(st.get("grf_mediolateral", 0.0))])[[1, 0, 2]]
    err = ((feet - target)[:, :, [1, 0, 2]] / bw) ** 2
    return st["grf"] * (err * axis_weight).sum((1, 2))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chunk", type=Path, nargs="+", help="track chunk work folders")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    rows = [analyse(c) for c in args.chunk]
    for r in rows:
        print(json.dumps(r), flush=True)
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
