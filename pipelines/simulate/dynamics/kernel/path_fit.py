"""Polynomial muscle paths fitted in numpy: the same fit as OpenSim's PolynomialPathFitter, in
seconds instead of minutes.

OpenSim's fitter (opensim-core `PolynomialPathFitter`) solves, per muscle, the linear least
squares problem [lengths; moment arms] = [terms; -d terms / d q] c for the coefficients of a
`MultivariatePolynomialFunction` over the coordinates the muscle has a moment arm about
(>= 1 mm somewhere), raising the order from 2 until the RMS length and moment-arm errors are
both below 0.1 mm or the maximum order is reached. Nearly all of its time goes into the data:
it evaluates every path's moment arm about every coordinate of the model with OpenSim's
MomentArmSolver (~1.7 ms each on the 80-muscle LaiUhlrich2022), at every sample, and then does
all of it again on the fitted model to report its errors.

Here the same problem is fed from path lengths only (~50 us each): a moment arm is minus the
forward difference of the length along the coordinate, with every coupled coordinate moved
with it (the total derivative, as the MomentArmSolver's moment arm about an independent
coordinate), and only for the muscles that cross that coordinate. The samples, the
coordinate choice per muscle, the order rule and the output (a `FunctionBasedPath` set
written by OpenSim, read by `ModOpReplacePathsWithFunctionBasedPaths`) are the fitter's; the
least squares is numpy's. Everything is a pure function of the model and the seeded samples:
two runs write the same file, byte for byte.
"""

from __future__ import annotations

import ctypes
import time
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.phases import PhaseClock
from musclekit.pipelines.simulate.opensim.evaluate import couplers

# PolynomialPathFitter's defaults (opensim-core 4.5/4.6), kept so the fits are the same.
MOMENT_ARM_THRESHOLD_M = 1e-3  # a coordinate enters a muscle's fit above this |moment arm|
LENGTH_TOLERANCE_M = 1e-4  # RMS path length error that stops raising the order
MOMENT_ARM_TOLERANCE_M = 1e-4  # RMS moment arm error that stops raising the order
MIN_ORDER = 2
MAX_COORDINATES = 6  # the fitter refuses paths over more coordinates
# Forward-difference step (rad or m): truncation ~h L'' / 2 ~ 1e-8 m, round-off ~1e-16 m / h
# ~ 1e-10 m (path lengths, wrapping included, are smooth to ~1e-15 m between the kinks where a
# wrap object engages; checked in tests/test_simulate_dyn_path_fit.py).
FD_STEP = 1e-6
# Below this a moment arm is a path that does not cross the coordinate (round-off).
CROSSING_M = 1e-7
# The documented bound on a fit (docs/dynamics.md; tests/test_simulate_dyn_path_fit.py): every
# muscle's RMS error on held-out poses (IK frames between the fitted ones, spread as the fit),
# against its geometric path: length, and moment arm as minus the length's derivative.
# LaiUhlrich2022 around OpenCap's squat (benchmarks/bench_model_prep.py --check, 117 poses,
# 2026-12-07): median muscle 0.04 mm and 0.22 mm; worst glmax1_l (a wrapping discontinuity)
# 1.6 mm and 2.5 mm, where OpenSim's own fitter reaches 1.5 mm and 2.6 mm, and 2.6 mm and
# 3.8 mm on gasmed_r.
HELD_OUT_LENGTH_RMS_BOUND_M = 2e-3
HELD_OUT_MOMENT_ARM_RMS_BOUND_M = 3e-3


@contextmanager
def one_blas_thread():
    """numpy's OpenBLAS on one thread inside the block. The fit's least-squares problems are
    small (<= 2,800 x 462); threaded, each one cost 5-20x the CPU time of a single thread on
    the shared 2-core VM (threads spinning against other jobs), and one thread keeps the fit
    on the one core the preparation is given. A numpy without a findable OpenBLAS is left as
    it is (the results do not depend on it)."""
    setter = getter = None
    try:
        with open("/proc/self/maps") as maps:
            libs = sorted({line.split()[-1] for line in maps
                           if "openblas" in line.lower() and "/" in line})
        for path in libs:
            lib = ctypes.CDLL(path)
            for prefix in ("scipy_openblas", "openblas"):
                for suffix in ("64_", ""):
                    if hasattr(lib, f"{prefix}_set_num_threads{suffix}"):
                        setter = getattr(lib, f"{prefix}_set_num_threads{suffix}")
                        getter = getattr(lib, f"{prefix}_get_num_threads{suffix}")
                        break
                if setter:
                    break
            if setter:
                break
    except OSError:
        setter = None
    if setter is None:
        yield
        return
    getter.restype = ctypes.c_int
    before = getter()
    setter(1)
    try:
        yield
    finally:
        setter(before)


def solve_least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin |a x - b| by a Householder QR of [a | b] (R's last column is Q^T b): as
    accurate as numpy's SVD-based lstsq on these full-rank problems, and cheaper."""
    n = a.shape[1]
    r = np.linalg.qr(np.column_stack([a, b]), mode="r")
    return np.linalg.solve(r[:n, :n], r[:n, n])


@cache
def term_exponents(dimension: int, order: int) -> np.ndarray:
    """Exponents (T, dimension) of the terms of OpenSim's MultivariatePolynomialFunction, in
    its coefficient order, read from OpenSim itself: each term's value at the first primes
    factorises uniquely into its exponents."""
    import opensim as osim

    primes = [2, 3, 5, 7, 11, 13, 17, 19, 23][:dimension]
    from math import comb

    n_terms = comb(dimension + order, order)
    fn = osim.MultivariatePolynomialFunction(osim.Vector(n_terms, 0.0), dimension, order)
    x = osim.Vector(dimension, 0.0)
    for i, p in enumerate(primes):
        x[i] = float(p)
    values = fn.getTermValues(x)
    out = np.zeros((n_terms, dimension), dtype=int)
    for t in range(n_terms):
        v = int(round(values[t]))
        for i, p in enumerate(primes):
            while v % p == 0:
                v //= p
                out[t, i] += 1
        if v != 1:
            raise RuntimeError("unexpected MultivariatePolynomialFunction term layout")
    return out


def design(x: np.ndarray, exponents: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Term values (N, T) and their derivatives (D, N, T) at the points x (N, D)."""
    n, d = x.shape
    max_e = int(exponents.max(initial=0))
    powers = np.ones((max_e + 1, n, d))
    for e in range(1, max_e + 1):
        powers[e] = powers[e - 1] * x
    # per_dim[i, n, t] = x[n, i] ** exponents[t, i]
    per_dim = np.stack([powers[exponents[:, i], :, i].T for i in range(d)])
    values = per_dim.prod(axis=0)
    derivs = np.empty((d, n, len(exponents)))
    for i in range(d):
        e = exponents[:, i]
        lower = powers[np.maximum(e - 1, 0), :, i].T  # (N, T): x_i ** (e - 1)
        others = np.prod(np.delete(per_dim, i, axis=0), axis=0) if d > 1 else 1.0
        derivs[i] = e * lower * others
    return values, derivs


def fit_muscle(x: np.ndarray, lengths: np.ndarray, arms: np.ndarray, max_order: int
               ) -> tuple[int, np.ndarray]:
    """The fitter's order rule on one muscle: x (N, D) coordinates, lengths (N,), arms (N, D)
    moment arms; returns (order, coefficients)."""
    b = np.concatenate([lengths, arms.T.reshape(-1)])
    n, d = x.shape
    order = MIN_ORDER
    while True:
        values, derivs = design(x, term_exponents(d, order))
        a = np.concatenate([values, -derivs.reshape(d * n, -1)])
        coef = solve_least_squares(a, b)
        err = b - a @ coef
        rms_len = np.sqrt(np.mean(err[:n] ** 2))
        rms_arm = np.sqrt(np.mean(err[n:] ** 2))
        if (rms_len < LENGTH_TOLERANCE_M and rms_arm < MOMENT_ARM_TOLERANCE_M) or order >= max_order:
            return order, coef
        order += 1


def evaluate(coef: np.ndarray, order: int, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A fitted path's lengths (N,) and moment arms (N, D) at x (N, D)."""
    values, derivs = design(x, term_exponents(x.shape[1], order))
    return values @ coef, -(derivs @ coef).T


class PathSampler:
    """Path lengths and moment arms of a model's muscles at given poses, from lengths only.

    `columns`: the coordinates a pose gives (all unlocked coordinates the fit samples);
    coupled coordinates among them are recomputed from their independents (as the fitter's
    `TabOpAppendCoupledCoordinateValues`), so a pose's own values for them do not matter.
    Poses are written into the state's generalized coordinates directly, as the solvers do:
    a coordinate's clamping range does not move a sample beyond it back to the range's end
    (`Coordinate.setValue` would, and the path would then be fitted flat there)."""

    def __init__(self, model, columns: list[str], state=None):
        self.model = model
        self.state = model.initSystem() if state is None else state
        cset = model.getCoordinateSet()
        self.columns = list(columns)
        self.coords = [cset.get(n) for n in self.columns]
        index = {n: i for i, n in enumerate(self.columns)}
        self.couplers = []  # (dependent index, [independent indices], function)
        for dep, c in couplers(model).items():
            if dep in index and all(n in index for n in c.independents):
                self.couplers.append((index[dep], [index[n] for n in c.independents], c.function))
        dependent = {c[0] for c in self.couplers}
        self.independent = [i for i in range(len(self.columns)) if i not in dependent]
        # Per independent coordinate, the couplers it drives: moving it moves only these.
        self.driven = {j: [c for c in self.couplers if j in c[1]] for j in self.independent}
        muscles = model.getMuscles()
        self.muscles = [muscles.get(i) for i in range(muscles.getSize())]
        self.names = [m.getName() for m in self.muscles]
        self.force_paths = [m.getAbsolutePathString() for m in self.muscles]
        self.paths = [m.getPath() for m in self.muscles]
        self.q_index = self._q_index()

    def _q_index(self) -> np.ndarray:
        """The index of each column in the state's Q (one generalized coordinate per
        coordinate, as in OpenSim's custom and pin joints)."""
        import opensim as osim

        q0 = self.state.getQ().to_numpy().copy()
        out = np.empty(len(self.columns), dtype=int)
        for k, c in enumerate(self.coords):
            probe = q0.copy()
            self.state.setQ(osim.Vector.createFromMat(probe))
            mark = 0.3 + 0.01 * k
            c.setValue(self.state, mark, False)
            hit = np.flatnonzero(self.state.getQ().to_numpy() != probe)
            if len(hit) != 1 or self.state.getQ()[int(hit[0])] != mark:
                raise InputError(f"coordinate {self.columns[k]} is not one generalized "
                                 "coordinate of the model (a ball or free joint's "
                                 "quaternion?): polynomial paths need one per coordinate; "
                                 "turn polynomial paths off for this model")
            out[k] = hit[0]
        self.state.setQ(osim.Vector.createFromMat(q0))
        self._q = q0
        return out

    def coupled(self, poses: np.ndarray) -> np.ndarray:
        """`poses` (N, C) with every coupled coordinate set from its independents."""
        return self._apply(np.array(poses, dtype=float), self.couplers)

    @staticmethod
    def _apply(out: np.ndarray, which) -> np.ndarray:
        import opensim as osim

        for dep, ind, fn in which:
            arg = osim.Vector(len(ind), 0.0)
            for r in range(len(out)):
                for k, i in enumerate(ind):
                    arg[k] = float(out[r, i])
                out[r, dep] = fn.calcValue(arg)
        return out

    def _set(self, pose: np.ndarray) -> None:
        import opensim as osim

        q = self._q.copy()
        q[self.q_index] = pose
        self.state.setQ(osim.Vector.createFromMat(q))
        self.model.realizePosition(self.state)

    def _lengths(self, which) -> np.ndarray:
        return np.array([self.paths[m].getLength(self.state) for m in which])

    def _moved(self, pose: np.ndarray, j: int, step: float) -> np.ndarray:
        moved = pose.copy()
        moved[j] += step
        return self._apply(moved[None], self.driven.get(j, []))[0]

    def _nudge(self, pose: np.ndarray, j: int, step: float) -> list[int]:
        """Move coordinate j (and what it drives) of the realised `pose` by `step` in the
        state, realised; returns the columns changed (`_restore` puts them back)."""
        moved = self._moved(pose, j, step)
        changed = [j] + [dep for dep, _, _ in self.driven.get(j, [])]
        for k in changed:
            self.state.updQ()[int(self.q_index[k])] = float(moved[k])
        self.model.realizePosition(self.state)
        return changed

    def _restore(self, pose: np.ndarray, changed: list[int]) -> None:
        for k in changed:
            self.state.updQ()[int(self.q_index[k])] = float(pose[k])

    def crossings(self, poses: np.ndarray) -> np.ndarray:
        """(M, C) True where a muscle's length depends on an independent coordinate at any of
        `poses` (coupled already)."""
        hit = np.zeros((len(self.paths), len(self.columns)), dtype=bool)
        every = range(len(self.paths))
        for pose in poses:
            self._set(pose)
            base = self._lengths(every)
            for j in self.independent:
                changed = self._nudge(pose, j, FD_STEP)
                hit[:, j] |= np.abs(self._lengths(every) - base) / FD_STEP > CROSSING_M
                self._restore(pose, changed)
        return hit

    def step_groups(self, crossing: np.ndarray, mine: np.ndarray) -> list[list[int]]:
        """The independent coordinates (with muscles of `mine` crossing them) in groups that
        one finite-difference step can move together: no muscle crosses two coordinates of a
        group, and no two drive the same coupled coordinate, so each muscle's length change
        is its derivative along its own coordinate of the group (left and right legs, a hip
        and an ankle...). One realisation per group instead of one per coordinate."""
        groups: list[list[int]] = []
        muscles: list[np.ndarray] = []
        driven: list[set[int]] = []
        for j in self.independent:
            mj = crossing[:, j] & mine
            if not mj.any():
                continue
            deps = {dep for dep, _, _ in self.driven.get(j, [])} | {j}
            for g, members in enumerate(groups):
                if not (muscles[g] & crossing[:, j]).any() and not (driven[g] & deps):
                    members.append(j)
                    muscles[g] = muscles[g] | crossing[:, j]
                    driven[g] |= deps
                    break
            else:
                groups.append([j])
                muscles.append(crossing[:, j].copy())
                driven.append(set(deps))
        return groups

    def sample(self, poses: np.ndarray, crossing: np.ndarray, muscles=None
               ) -> tuple[np.ndarray, np.ndarray]:
        """Lengths (N, M) and moment arms (N, M, C) at `poses` (coupled already), the arms
        only where `crossing` (M, C) (zero elsewhere); with `muscles` (indices), only theirs
        (the other rows stay NaN / zero)."""
        n, m, c = len(poses), len(self.paths), len(self.columns)
        lengths = np.full((n, m), np.nan)
        arms = np.zeros((n, m, c))
        every = np.arange(m) if muscles is None else np.asarray(sorted(muscles), dtype=int)
        mine = np.zeros(m, dtype=bool)
        mine[every] = True
        groups = [[(j, np.flatnonzero(crossing[:, j] & mine)) for j in g]
                  for g in self.step_groups(crossing, mine)]
        for r, pose in enumerate(poses):
            self._set(pose)
            lengths[r, every] = self._lengths(every)
            for group in groups:
                changed = self._nudge_all(pose, [j for j, _ in group], FD_STEP)
                for j, which in group:
                    arms[r, which, j] = -(self._lengths(which) - lengths[r, which]) / FD_STEP
                self._restore(pose, changed)
        return lengths, arms

    def _nudge_all(self, pose: np.ndarray, coords: list[int], step: float) -> list[int]:
        """`_nudge` of several coordinates at once (one realisation)."""
        changed = []
        for j in coords:
            moved = self._moved(pose, j, step)
            for k in [j] + [dep for dep, _, _ in self.driven.get(j, [])]:
                self.state.updQ()[int(self.q_index[k])] = float(moved[k])
                changed.append(k)
        self.model.realizePosition(self.state)
        return changed


def muscled_coordinates_fd(model, names: list[str], state=None) -> set[str]:
    """Coordinates at least one muscle's length depends on at the model's default pose (the
    fitter welds the others): a forward difference of every path length along each coordinate,
    the coordinate moved alone. Replaces ~1.7 ms MomentArmSolver calls per muscle and
    coordinate by one length evaluation of the model per coordinate and direction."""
    if state is None:
        state = model.initSystem()
    cset = model.getCoordinateSet()
    muscles = model.getMuscles()
    paths = [muscles.get(i).getPath() for i in range(muscles.getSize())]
    model.realizePosition(state)
    base = np.array([p.getLength(state) for p in paths])
    out = set()
    for name in names:
        c = cset.get(name)
        v0 = c.getValue(state)
        c.setValue(state, v0 + FD_STEP, False)
        model.realizePosition(state)
        moved = np.array([p.getLength(state) for p in paths])
        c.setValue(state, v0, False)
        if np.abs(moved - base).max() / FD_STEP > 1e-5:
            out.add(name)
    model.realizePosition(state)
    return out


def _fit_one(m, name, sampler, columns, poses, crossing, lengths, arms, max_order):
    """One muscle's fit: (coordinate indices, order, coefficients, summary) or None when its
    length depends on no coordinate."""
    # The fitter's rule: coordinates whose moment arm reaches the threshold somewhere.
    keep = [j for j in sampler.independent
            if crossing[m, j] and np.abs(arms[:, m, j]).max() >= MOMENT_ARM_THRESHOLD_M]
    if not keep:
        return None
    if len(keep) > MAX_COORDINATES:
        raise InputError(f"muscle {name} depends on {len(keep)} coordinates "
                         f"({[columns[j] for j in keep]}); polynomial paths support at most "
                         f"{MAX_COORDINATES}: turn polynomial paths off for this model")
    x = poses[:, keep]
    order, coef = fit_muscle(x, lengths[:, m], arms[:, m, keep], max_order)
    fit_len, fit_arm = evaluate(coef, order, x)
    e_len = fit_len - lengths[:, m]
    e_arm = fit_arm - arms[:, m, keep]
    return keep, order, coef, {
        "coordinates": [columns[j] for j in keep], "order": order,
        "length_rms_m": float(np.sqrt(np.mean(e_len ** 2))),
        "length_max_m": float(np.abs(e_len).max()),
        "moment_arm_rms_m": float(np.sqrt(np.mean(e_arm ** 2))),
        "moment_arm_max_m": float(np.abs(e_arm).max()),
    }


def fit_paths(model, columns: list[str], poses: np.ndarray, max_order: int,
              out_file: Path, crossing_poses: int = 8, state=None,
              clock: PhaseClock | None = None) -> dict:
    """Fit every muscle of `model` (its muscles' paths still geometric) over `poses` (N, C) of
    `columns` and write the FunctionBasedPath set to `out_file`; returns the fit's summary:
    per muscle its coordinates, order and RMS / max length and moment-arm errors (m) on the
    samples. `state`: the model's initialised state (initialised here when not given)."""
    clock = clock or PhaseClock()
    start = time.perf_counter()
    with clock("sample"):
        sampler = PathSampler(model, columns, state)
        poses = sampler.coupled(poses)
        crossing = sampler.crossings(probe_poses(poses, crossing_poses))
        lengths, arms = sampler.sample(poses, crossing)
    sampled_s = time.perf_counter() - start
    with clock("fit"), one_blas_thread():
        fits = {m: _fit_one(m, name, sampler, columns, poses, crossing, lengths, arms, max_order)
                for m, name in enumerate(sampler.names)}
    with clock("write"):
        summary = write_path_set(model, sampler, columns, fits, out_file)
    return {"muscles": summary, "samples": len(poses), "sampling_seconds": sampled_s,
            "fit_seconds": time.perf_counter() - start - sampled_s}


def probe_poses(poses: np.ndarray, count: int) -> np.ndarray:
    """`count` of `poses`, evenly spread: where the muscles' crossings are looked for."""
    return poses[np.unique(np.linspace(0, len(poses) - 1, count).round().astype(int))]


def write_path_set(model, sampler: PathSampler, columns: list[str], fits: dict,
                   out_file: Path) -> dict:
    """Write the fitted paths `fits` ({muscle index: (coordinate indices, order,
    coefficients, summary) or None}) as OpenSim's FunctionBasedPath set; returns the
    summaries by muscle name."""
    import opensim as osim

    cset = model.getCoordinateSet()
    path_set = osim.SetFunctionBasedPaths()
    summary = {}
    for m, name in enumerate(sampler.names):
        if fits[m] is None:
            continue
        keep, order, coef, summary[name] = fits[m]
        fn = osim.MultivariatePolynomialFunction()
        fn.setDimension(len(keep))
        fn.setOrder(order)
        fn.setCoefficients(osim.Vector.createFromMat(coef))
        path = osim.FunctionBasedPath()
        path.setName(sampler.force_paths[m])
        names = osim.StdVectorString()
        for j in keep:
            names.append(cset.get(columns[j]).getAbsolutePathString())
        path.setCoordinatePaths(names)
        path.setLengthFunction(fn)
        path_set.cloneAndAppend(path)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    path_set.printToXML(str(out_file))
    return summary


def read_path_set(file: str | Path) -> dict[str, dict]:
    """A FunctionBasedPath set file (either fitter's) as {force path: {"coordinates" (names),
    "order", "coef"}}, for evaluating it in numpy."""
    import xml.etree.ElementTree as ET

    out = {}
    for path in ET.parse(str(file)).getroot().iter("FunctionBasedPath"):
        poly = path.find("length_function/MultivariatePolynomialFunction")
        out[path.get("name")] = {
            "coordinates": [p.rsplit("/", 1)[-1] for p in path.findtext("coordinate_paths").split()],
            "order": int(poly.findtext("order")),
            "coef": np.array([float(v) for v in poly.findtext("coefficients").split()]),
        }
    return out


def held_out_errors(model, columns: list[str], poses: np.ndarray, fits: list[dict[str, dict]],
                    solver_arms: bool = True) -> list[dict[str, dict]]:
    """Per fit (`read_path_set`) and muscle, the errors (m) of the fitted paths against
    `model`'s own geometric paths at `poses` (N, C) of `columns`, coupled coordinates
    recomputed: length RMS and max; moment arm RMS and max about every coordinate the path
    crosses or a fit uses, against OpenSim's MomentArmSolver (`GeometryPath.computeMomentArm`;
    with `solver_arms`) and against minus the central difference of the geometric length
    (`moment_arm_dl`). The reference values are computed once for all fits."""
    sampler = PathSampler(model, columns)
    poses = sampler.coupled(poses)
    crossing = sampler.crossings(poses[:: max(1, len(poses) // 8)])
    index = {n: j for j, n in enumerate(columns)}
    out: list[dict[str, dict]] = [{} for _ in fits]
    h = 1e-5
    for m, name in enumerate(sampler.names):
        mine = [f.get(sampler.force_paths[m]) or f.get(name) for f in fits]
        if any(f is None for f in mine):
            continue
        cols = sorted({index[c] for f in mine for c in f["coordinates"]}
                      | {j for j in sampler.independent if crossing[m, j]})
        length = np.empty(len(poses))
        solver = np.zeros((len(poses), len(cols)))
        dl = np.zeros((len(poses), len(cols)))
        path = sampler.paths[m]
        for r, pose in enumerate(poses):
            sampler._set(pose)
            length[r] = path.getLength(sampler.state)
            if solver_arms:
                for k, j in enumerate(cols):
                    solver[r, k] = path.computeMomentArm(sampler.state, sampler.coords[j])
            for k, j in enumerate(cols):
                sampler._set(sampler._moved(pose, j, h))
                up = path.getLength(sampler.state)
                sampler._set(sampler._moved(pose, j, -h))
                dl[r, k] = -(up - path.getLength(sampler.state)) / (2 * h)
        for f, fit in enumerate(mine):
            used = [index[c] for c in fit["coordinates"]]
            fit_len, fit_arm = evaluate(fit["coef"], fit["order"], poses[:, used])
            arms = np.zeros((len(poses), len(cols)))
            for k, j in enumerate(used):
                arms[:, cols.index(j)] = fit_arm[:, k]
            e = {"length": fit_len - length, "moment_arm_dl": arms - dl}
            if solver_arms:
                e["moment_arm"] = arms - solver
            out[f][name] = {"coordinates": [columns[j] for j in cols]}
            for key, err in e.items():
                out[f][name][f"{key}_rms_m"] = float(np.sqrt(np.mean(err ** 2)))
                out[f][name][f"{key}_max_m"] = float(np.abs(err).max())
    return out
