"""Polynomial muscle paths of one scaling of a model mapped onto another scaling of it.

Every subject of a dataset gets its own scaled copy of the same generic model, so the path fit
(`kernel/path_fit.py`) would be paid once per subject. The polynomials' inputs are joint
coordinates, which scaling leaves alone; what scaling changes is where the path points and
wrap surfaces sit on each body. With one scale factor for every body a scaled length is
exactly s L(q); with per-body factors it is close to s L(q) plus a smooth, low-order function
of the coordinates. So each muscle of the template's fit is mapped as

    L_subject(q) ~ s L_template(q) + c(q),     r_subject(q) = -dL_subject/dq,

s and the correction polynomial c (order 0, then up to `MAP_CORRECTION_ORDER`, the lowest that
meets the bound) fitted by least squares to the subject's own geometric lengths and moment
arms at check poses of the subject's own motions (each IK frame and the first two samples of
its spread: `MAP_CHECK_PER_FRAME`, 3 of the fit's 10), from `PathSampler` (the path fit's
data). A muscle is mapped when the RMS errors of the mapped path on those poses are within
its template fit's own RMS errors (grown by s) plus `MAP_*_MARGIN_M`, and its coordinates are
the ones the fitter's rule picks on the subject; every other muscle is fitted afresh on the
full samples exactly as `fit_paths` would (the check poses, being samples, are not evaluated
twice). The mapped polynomial is the template's, coefficients times s plus c's: the same
`FunctionBasedPath` file as a fresh fit. benchmarks/bench_model_prep.py --map measures mapped
and fresh fits of several scalings on held-out poses (docs/dynamics.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.path_fit import (
    MOMENT_ARM_THRESHOLD_M,
    PathSampler,
    _fit_one,
    design,
    evaluate,
    one_blas_thread,
    probe_poses,
    read_path_set,
    solve_least_squares,
    term_exponents,
    write_path_set,
)
from musclekit.pipelines.simulate.dynamics.kernel.phases import PhaseClock

# Order of the correction polynomial added to the scaled template (10 terms over 3
# coordinates, against 56 for an order-5 fit): scaling moves path points within a body, which
# changes a length by a smooth function of the joint angles.
MAP_CORRECTION_ORDER = 3
# Poses per IK frame the mapping is checked on: the frame itself and the first two samples of
# its spread (of `path_fit_samples_per_frame`).
MAP_CHECK_PER_FRAME = 3
# A mapped muscle's RMS error on the check poses may exceed its template fit's own RMS error
# on the template's samples (times the muscle's length scale, >= 1: a fit scaled by s has s
# times its errors) by at most this much (m): the fitter's own stopping tolerances
# (0.1 mm, `LENGTH_TOLERANCE_M` / `MOMENT_ARM_TOLERANCE_M`), so a mapped muscle is within
# what the fitter calls a fit of the template's quality. Tighter would refit muscles whose
# fresh fit is no better (the template's error is the polynomial's, not the mapping's);
# looser lets the mapping's own error grow past the tolerance the fitter stops at.
# benchmarks/bench_model_prep.py --map measures mapped and fresh fits on held-out poses.
MAP_LENGTH_MARGIN_M = 1e-4
MAP_MOMENT_ARM_MARGIN_M = 1e-4
# What a mapped preparation depends on besides its inputs (part of its cache key).
MAP_RULE = (f"grown-order{MAP_CORRECTION_ORDER}-check{MAP_CHECK_PER_FRAME}-"
            f"margins{MAP_LENGTH_MARGIN_M:g},{MAP_MOMENT_ARM_MARGIN_M:g}")


def template_paths(template: Path) -> tuple[dict[str, dict], dict[str, dict]]:
    """The template's fitted paths ({force path: read_path_set entry}) and its per-muscle fit
    summaries ({muscle name: summary}) from its prepared folder."""
    try:
        info = json.loads((template / "prep.json").read_text())
        fit = info["path_fit"]
        return read_path_set(template / fit["file"]), fit.get("muscles", {})
    except (OSError, ValueError, KeyError) as err:
        raise InputError(f"template {template} is not a prepared model with polynomial "
                         f"paths ({err}); prepare it first") from err


def _map_one(fit: dict, x: np.ndarray, lengths: np.ndarray, arms: np.ndarray, order: int
             ) -> tuple[np.ndarray, float, np.ndarray, np.ndarray]:
    """One muscle's template polynomial mapped onto the subject: the scale s and the
    correction polynomial c (of `order`) with s L_template + c fitting the
    subject's lengths (N,) and moment arms (N, D) at x (N, D) best; returns (mapped
    coefficients in the template's term layout, s, length errors, moment-arm errors)."""
    lt, at = evaluate(fit["coef"], fit["order"], x)
    n, d = x.shape
    low = term_exponents(d, min(order, fit["order"]))
    values, derivs = design(x, low)
    a = np.concatenate([np.column_stack([lt, values]),
                        np.column_stack([at.T.reshape(-1), -derivs.reshape(d * n, -1)])])
    b = np.concatenate([lengths, arms.T.reshape(-1)])
    sol = solve_least_squares(a, b)
    err = a @ sol - b
    scale, correction = float(sol[0]), sol[1:]
    coef = scale * fit["coef"]
    full = {tuple(e): t for t, e in enumerate(term_exponents(d, fit["order"]))}
    for t, e in enumerate(low):
        coef[full[tuple(e)]] += correction[t]
    return coef, scale, err[:n], err[n:].reshape(d, n).T


def map_paths(model, state, columns: list[str], poses: np.ndarray, template: Path,
              max_order: int, out_file: Path, clock: PhaseClock | None = None,
              per_frame: int = 10, crossing_poses: int = 8) -> dict:
    """The template's paths mapped onto `model` (geometric paths, initialised `state`), the
    muscles outside the bound fitted afresh over `poses` (N, C) of `columns` (the samples a
    fresh fit would use, `per_frame` per IK frame); writes the FunctionBasedPath set to
    `out_file` and returns what `fit_paths` does plus "mapping" (how many were mapped and
    refitted, the check poses)."""
    clock = clock or PhaseClock()
    paths, summaries = template_paths(template)
    with clock("sample"):
        sampler = PathSampler(model, columns, state)
        missing = [p for p in sampler.force_paths if p not in paths]
        extra = sorted(set(paths) - set(sampler.force_paths))
        index = {n: j for j, n in enumerate(columns)}
        unknown = sorted({c for p in paths.values() for c in p["coordinates"] if c not in index})
        if extra or unknown:
            raise InputError(f"template {template} is not a scaling of this model: "
                             f"paths {extra[:3]} / coordinates {unknown[:3]} it fits are not "
                             "in the model")
        poses = sampler.coupled(poses)
        crossing = sampler.crossings(probe_poses(poses, crossing_poses))
        per_frame = max(1, int(per_frame))
        rows = np.arange(len(poses)).reshape(-1, per_frame)[:, :min(MAP_CHECK_PER_FRAME, per_frame)]
        checked = rows.reshape(-1)
        check = poses[checked]
        lengths, arms = sampler.sample(check, crossing)
    fits: dict[int, tuple | None] = {}
    refit = []
    mapped_summary = {}
    with clock("map"), one_blas_thread():
        for m, name in enumerate(sampler.names):
            fit = paths.get(sampler.force_paths[m])
            if fit is None:
                if sampler.force_paths[m] in missing and not crossing[m].any():
                    fits[m] = None  # depends on no coordinate: no path, as a fresh fit
                else:
                    refit.append(m)
                continue
            keep = [index[c] for c in fit["coordinates"]]
            # The fitter's rule on the subject: the coordinates it would fit this muscle over.
            rule = [j for j in sampler.independent if crossing[m, j]
                    and np.abs(arms[:, m, j]).max() >= MOMENT_ARM_THRESHOLD_M]
            own = summaries.get(name, {})
            # The lowest correction order within the bound: a uniform scaling needs none (a
            # constant), and a higher order than needed would fit the check poses' noise.
            for order in range(MAP_CORRECTION_ORDER + 1):
                coef, scale, e_len, e_arm = _map_one(fit, check[:, keep], lengths[:, m],
                                                     arms[:, m, keep], order)
                if order == 0:
                    # Scaling a fit by s scales its errors by s: the template's own error,
                    # grown by the muscle's scale (from the constant-only map), plus margin.
                    grown = max(1.0, scale)
                    bound_len = grown * own.get("length_rms_m", 0.0) + MAP_LENGTH_MARGIN_M
                    bound_arm = grown * own.get("moment_arm_rms_m", 0.0) + MAP_MOMENT_ARM_MARGIN_M
                len_rms = float(np.sqrt(np.mean(e_len ** 2)))
                arm_rms = float(np.sqrt(np.mean(e_arm ** 2)))
                if len_rms <= bound_len and arm_rms <= bound_arm:
                    break
            ok = sorted(rule) == sorted(keep) and len_rms <= bound_len and arm_rms <= bound_arm
            mapped_summary[name] = {"scale": scale, "correction_order": order,
                                    "check_length_rms_m": len_rms,
                                    "check_moment_arm_rms_m": arm_rms}
            if not ok:
                refit.append(m)
                continue
            fits[m] = (keep, fit["order"], coef, {
                "coordinates": list(fit["coordinates"]), "order": fit["order"],
                "mapped": True, "scale": scale, "correction_order": order,
                "length_rms_m": len_rms, "length_max_m": float(np.abs(e_len).max()),
                "moment_arm_rms_m": arm_rms, "moment_arm_max_m": float(np.abs(e_arm).max()),
            })
    if refit:
        with clock("sample"):
            # The check poses are among the samples: only the others are evaluated again.
            rest = np.setdiff1d(np.arange(len(poses)), checked)
            full_lengths = np.full((len(poses), len(sampler.paths)), np.nan)
            full_arms = np.zeros((len(poses), len(sampler.paths), len(columns)))
            full_lengths[checked], full_arms[checked] = lengths, arms
            full_lengths[rest], full_arms[rest] = sampler.sample(poses[rest], crossing,
                                                                 muscles=refit)
        with clock("fit"), one_blas_thread():
            for m in refit:
                fits[m] = _fit_one(m, sampler.names[m], sampler, columns, poses, crossing,
                                   full_lengths, full_arms, max_order)
                if fits[m] is not None:
                    fits[m][3]["mapped"] = False
                    fits[m][3].update({f"map_{k}": v for k, v in
                                       mapped_summary.get(sampler.names[m], {}).items()})
    with clock("write"):
        summary = write_path_set(model, sampler, columns, fits, out_file)
    return {"muscles": summary, "samples": len(poses),
            "mapping": {"template": template.name, "check_poses": len(check),
                        "mapped": sum(1 for v in summary.values() if v.get("mapped")),
                        "refitted": sorted(sampler.names[m] for m in refit)}}
