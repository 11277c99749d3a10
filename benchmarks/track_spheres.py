"""Each foot contact sphere's depth and force over a solved `track` chunk (issue 25).

Reads a chunk's work folder of `track` (as `validate_rajagopal_track.py --work W` leaves
them: W/<trial>/track_<grf>/chunk0000 with `model_feet_levelled.osim` (or pass --model),
`track_problem.npz` and `track_solution.npz`) and poses the model twice per mesh point:

- "ik": the reference motion the NLP tracks (`q_ref`, already shifted onto the floor),
  lifted by the solution's optimised vertical offset, at its finite-difference speeds;
- "solution": the solved q and v.

Per sphere and pose it prints the largest depth (penetration, m: radius minus the centre's
height above the floor), the time it is in contact (depth > 0), the peak normal force (N
and body weights), the time its force exceeds 20 % BW summed over the foot, and the
normal speed of the sphere's contact point at its peak force (`--timeline r|l`: one foot's
depths and forces at every mesh point, with `--grf-setup` the plates' force beside them,
low-passed at 6 Hz and as recorded).
Then, per foot, the
calcaneus frame's pitch at the frame of the foot's largest total force (the angle of the
body's x axis to the floor: the spheres are laid on a plane of the calcn frame, so a
pitched frame puts the heel spheres above the toe spheres), and what the Hunt-Crossley
dissipation does: the time above 20 % BW and the impulse of the elastic (Hertz) force
alone at the same depths (the dissipation scales the force by 1 + 1.5 d u_n, zero once the
sphere rises at 2 / (3 d) = 0.33 m/s, however deep it is).

Run:

    python benchmarks/track_spheres.py /tmp/mk_track/walk/track_none/chunk0000 \
        [--model PREPARED.osim] [--mass-kg 75.3] [--json out.json]
        [--timeline r --grf-setup W/lab/ID/grf_walk.xml]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np


def load_chunk(folder: Path) -> tuple[dict, dict, dict]:
    """(problem arrays, problem meta, solution arrays with meta) of a track work folder."""
    prob = np.load(folder / "track_problem.npz", allow_pickle=False)
    sol = np.load(folder / "track_solution.npz", allow_pickle=False)
    pmeta = json.loads(str(prob["meta"]))
    smeta = json.loads(str(sol["meta"]))
    return ({k: prob[k] for k in ("time_s", "q_ref")}, pmeta,
            {**{k: sol[k] for k in ("q", "v")}, **smeta})


def pose_spheres(tm, q: np.ndarray, v: np.ndarray) -> dict[str, np.ndarray]:
    """Per frame and sphere: centre (N, S, 3), centre velocity, body angular velocity, and
    the calcn bodies' x axes in ground (N, S, 3) at the poses q and speeds v."""
    N, S = len(q), len(tm.spheres)
    out = {k: np.zeros((N, S, 3)) for k in ("centre", "velocity", "omega", "x_axis")}
    for k in range(N):
        tm._set(q[k], v[k])
        centres, rotations = tm._sphere_frames()
        out["centre"][k] = centres
        out["x_axis"][k] = rotations[:, :, 0]
        out["velocity"][k] = tm._sphere_velocities()
        for s, body in enumerate(tm._sphere_bodies):
            w = body.getAngularVelocityInGround(tm.id_state)
            out["omega"][k, s] = [w.get(0), w.get(1), w.get(2)]
    return out


def sphere_table(tm, posed: dict[str, np.ndarray], dt: float, body_weight_n: float) -> list[dict]:
    """Per sphere: largest depth, contact time, peak normal force and the contact point's
    normal speed at that peak."""
    from musclekit.pipelines.simulate.dynamics.kernel.contact_law import sphere_force

    rows = []
    for s, sphere in enumerate(tm.spheres):
        depth = sphere.radius_m - (posed["centre"][:, s, 1] - sphere.plane_point[1])
        forces = np.array([sphere_force(np, sphere, posed["centre"][k, s],
                                        posed["velocity"][k, s], posed["omega"][k, s])[0]
                           for k in range(len(depth))], dtype=float)
        fy = forces[:, 1]
        # the same sphere without Hunt-Crossley dissipation: Hertz's elastic force alone
        elastic_sphere = replace(sphere, dissipation=0.0)
        elastic = np.array([sphere_force(np, elastic_sphere, posed["centre"][k, s],
                                         posed["velocity"][k, s], posed["omega"][k, s])[0][1]
                            for k in range(len(depth))], dtype=float)
        peak = int(np.argmax(fy))
        rows.append({"sphere": sphere.name, "body": sphere.body,
                     "max_depth_mm": round(1e3 * float(depth.max()), 1),
                     "min_height_mm": round(-1e3 * float(depth.max()), 1),
                     "contact_s": round(dt * int((depth > 0).sum()), 3),
                     "peak_n": round(float(fy.max()), 1),
                     "peak_bw": round(float(fy.max()) / body_weight_n, 2),
                     "speed_at_peak_m_s": round(float(posed["velocity"][peak, s, 1]), 3),
                     "force_n": fy, "elastic_n": elastic})
    return rows


def foot_summary(tm, posed: dict[str, np.ndarray], rows: list[dict], dt: float,
                 body_weight_n: float) -> dict:
    """Per foot: time above 20 % BW, peak (BW), the calcn frame's pitch (deg, toes down
    positive) at the foot's peak force."""
    out = {}
    for side in ("r", "l"):
        mine = [s for s, sp in enumerate(tm.spheres) if sp.body.endswith(f"_{side}")]
        if not mine:
            continue
        total = np.sum([rows[s]["force_n"] for s in mine], axis=0)
        elastic = np.sum([rows[s]["elastic_n"] for s in mine], axis=0)
        k = int(np.argmax(total))
        calcn = next(s for s in mine if tm.spheres[s].body.startswith("calcn"))
        x = posed["x_axis"][k, calcn]
        pitch = math.degrees(math.atan2(-x[1], math.hypot(x[0], x[2])))
        out[side] = {"loaded_s": round(dt * int((total > 0.2 * body_weight_n).sum()), 3),
                     "peak_bw": round(float(total.max()) / body_weight_n, 2),
                     "calcn_pitch_deg_at_peak": round(pitch, 1),
                     # what the dissipation does: loaded time and impulse of the elastic
                     # (Hertz) force alone at the same depths
                     "elastic_loaded_s": round(dt * int((elastic > 0.2 * body_weight_n).sum()), 3),
                     "impulse_over_elastic": round(float(total.sum() / elastic.sum()), 3)
                     if elastic.sum() > 0 else None}
    return out


def plates_vertical(grf_setup: Path, t: np.ndarray, side: str,
                    cutoff_hz: float | None = 6.0) -> np.ndarray:
    """The plates' vertical force on one foot (N) at times t, low-passed at `cutoff_hz` as
    the validation does (None: as recorded; a running stance's sharp edges survive only
    there, validate_rajagopal_track.vertical_agreement)."""
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
        read_measured_grf,
    )

    g = np.nan_to_num(read_measured_grf(None, grf_setup).resample(t, cutoff_hz))
    name = {"r": "right", "l": "left"}[side]
    return g[:, GRF_CHANNELS.index(f"ground_force_{name}_vy")]


def timeline(tm, posed: dict[str, np.ndarray], rows: list[dict], t: np.ndarray,
             body_weight_n: float, side: str, plates: np.ndarray | None = None,
             plates_recorded: np.ndarray | None = None) -> None:
    """Per mesh point of one foot: the calcn frame's pitch (deg, toes down +), each sphere's
    depth (mm, > 0 in contact), the force (BW) of its calcaneus and toes spheres, and the
    plates' (BW) where given."""
    mine = [s for s, sp in enumerate(tm.spheres) if sp.body.endswith(f"_{side}")]
    if not mine:
        return
    calcn = next(s for s in mine if tm.spheres[s].body.startswith("calcn"))
    print(f"t (s)  pitch  depth mm: {' '.join(f'{tm.spheres[s].name:>6s}' for s in mine)}"
          "  | F calcn, toes" + (", plates 6 Hz" if plates is not None else "")
          + (", as recorded" if plates_recorded is not None else "") + " (BW)")
    for k in range(len(t)):
        x = posed["x_axis"][k, calcn]
        pitch = math.degrees(math.atan2(-x[1], math.hypot(x[0], x[2])))
        depth = [1e3 * (tm.spheres[s].radius_m - posed["centre"][k, s, 1]) for s in mine]
        f = {kind: sum(rows[s]["force_n"][k] for s in mine
                       if tm.spheres[s].body.startswith(kind)) / body_weight_n
             for kind in ("calcn", "toes")}
        print(f"{t[k]:5.2f} {pitch:6.1f}  " + " ".join(f"{d:6.1f}" for d in depth)
              + f"  | {f['calcn']:5.2f} {f['toes']:5.2f}"
              + (f" {plates[k] / body_weight_n:5.2f}" if plates is not None else "")
              + (f" {plates_recorded[k] / body_weight_n:5.2f}"
                 if plates_recorded is not None else ""))


def main(argv: list[str] | None = None) -> int:
    from musclekit.pipelines.simulate.dynamics.methods.track.setup import TrackModel
    from musclekit.pipelines.simulate.opensim.evaluate import dgf_model_processor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("chunk", type=Path, help="a track chunk's work folder")
    ap.add_argument("--model", type=Path, default=None,
                    help="the model (default: the folder's model_feet_levelled.osim)")
    ap.add_argument("--mass-kg", type=float, default=None,
                    help="body mass for %% BW (default: the chunk's force scale, its body weight)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--timeline", choices=["r", "l"], default=None,
                    help="also print one foot's depths and forces at every mesh point")
    ap.add_argument("--grf-setup", type=Path, default=None,
                    help="the plates' external loads XML: their force beside the timeline")
    args = ap.parse_args(argv)
    model = args.model or args.chunk / "model_feet_levelled.osim"
    if not model.exists():
        print(f"no model: {model} (pass --model)", file=sys.stderr)
        return 2
    prob, pmeta, sol = load_chunk(args.chunk)
    tm = TrackModel(dgf_model_processor(str(model)), [], None)
    if [s.name for s in tm.spheres] != [d["name"] for d in pmeta["spheres"]]:
        print("the model's spheres are not the chunk's", file=sys.stderr)
        return 2
    # body weight: the NLP's force scale (the chunk's body weight), else the given mass
    bw = (args.mass_kg * 9.80665 if args.mass_kg
          else float(pmeta.get("settings", {}).get("force_scale_n", 0.0))
          or tm.model.getTotalMass(tm.state) * 9.80665)
    t = prob["time_s"]
    dt = float(np.median(np.diff(t)))
    vertical = pmeta.get("settings", {}).get("vertical_coordinate")
    q_ik = prob["q_ref"].copy()
    if vertical is not None:
        q_ik[:, vertical] += sol["offset"]
    poses = {"ik": (q_ik, np.gradient(q_ik, t, axis=0)), "solution": (sol["q"], sol["v"])}
    report = {"chunk": str(args.chunk), "time_s": [float(t[0]), float(t[-1])],
              "body_weight_n": round(bw, 1)}
    for name, (q, v) in poses.items():
        posed = pose_spheres(tm, q, v)
        rows = sphere_table(tm, posed, dt, bw)
        feet = foot_summary(tm, posed, rows, dt, bw)
        print(f"== {name}  ({args.chunk}, {t[0]:.2f}-{t[-1]:.2f} s, BW {bw:.0f} N)")
        print(f"{'sphere':8s} {'body':8s} {'maxdepth_mm':>11s} {'contact_s':>9s} "
              f"{'peak_N':>8s} {'peak_BW':>7s} {'vy@peak':>8s}")
        for r in rows:
            print(f"{r['sphere']:8s} {r['body']:8s} {r['max_depth_mm']:11.1f} "
                  f"{r['contact_s']:9.3f} {r['peak_n']:8.1f} {r['peak_bw']:7.2f} "
                  f"{r['speed_at_peak_m_s']:8.3f}")
        for side, f in feet.items():
            print(f"foot {side}: loaded > 20 % BW {f['loaded_s']} s, peak {f['peak_bw']} BW, "
                  f"calcn pitch at peak {f['calcn_pitch_deg_at_peak']} deg (toes down +); "
                  f"without dissipation loaded {f['elastic_loaded_s']} s, impulse with / "
                  f"without {f['impulse_over_elastic']}")
        if args.timeline:
            plates = (plates_vertical(args.grf_setup, t, args.timeline)
                      if args.grf_setup else None)
            recorded = (plates_vertical(args.grf_setup, t, args.timeline, None)
                        if args.grf_setup else None)
            timeline(tm, posed, rows, t, bw, args.timeline, plates, recorded)
        report[name] = {"spheres": [{k: v for k, v in r.items()
                                     if k not in ("force_n", "elastic_n")}
                                    for r in rows], "feet": feet}
    if args.json:
        args.json.write_text(json.dumps(report, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
