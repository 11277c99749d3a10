"""Reformulations of the `inverse` NLP tried for speed on saved chunk problems (issue 24).

Each variant solves the same optimisation problem as nlp/inverse.py (same objective, same
constraints, same optima), changing only what IPOPT is given:

- `default`: nlp/inverse.py as it is (exact Hessian, all activations and excitations 0.1,
  reserves 0).
- `balanced-start`: the same, but the reserves start where they balance every equation at
  a = e = 0.1 (the start is then feasible: a constant a = e satisfies the dynamics).
- `convexified-hessian`: the Lagrangian's Hessian with each muscle's 2x2 (a, e) block
  shifted by a multiple of the identity where its smaller eigenvalue is below the
  objective's own curvature in a (2e-3 w); exact where the block is convex enough. IPOPT
  then never needs its own (global) inertia correction.
- `reserves-eliminated`: every unbounded reserve that is alone on its equation replaced by
  what it must supply, c = (demand - G a) / o, so the equation leaves the constraints and
  c^2 enters the objective (fewer variables and constraints, denser Hessian).

Only in a process without opensim (casadi's libraries clash with opensim's).
"""

from __future__ import annotations

import resource

import numpy as np

from musclekit.errors import MusclekitError

VARIANTS = ("default", "balanced-start", "convexified-hessian", "reserves-eliminated")
START = 0.1  # nlp/inverse.py's start of every activation and excitation


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def convexified_hessian(ca, inv, problem, nlp):
    """hess_lag for nlpsol: the exact Hessian of `nlp` (inverse._graph) with each (a, e) block
    lifted to a smallest eigenvalue of at least 2e-3 w (the objective's curvature in a)."""
    N, M = problem.force_active.shape
    K = len(problem.actuator_coordinate)
    sigma = ca.SX.sym("sigma")
    lam = ca.SX.sym("lam", nlp.g.numel())
    # rate[:, k] enters interval k-1's and interval k's trapezoid with weight -h/2 each.
    lh = ca.reshape(lam[M:M + M * (N - 1)], M, N - 1) * ca.repmat(nlp.h, M, 1) / 2
    zero = ca.SX.zeros(M, 1)
    mu = -(ca.horzcat(zero, lh) + ca.horzcat(lh, zero))
    # Each rate depends only on its own (a, e): gradients of the sum are elementwise.
    total = ca.sum2(ca.sum1(nlp.rate))
    ra = ca.reshape(ca.gradient(total, ca.vec(nlp.a)), M, N)
    re = ca.reshape(ca.gradient(total, ca.vec(nlp.e)), M, N)
    second = [ca.reshape(ca.gradient(ca.sum2(ca.sum1(d)), ca.vec(v)), M, N)
              for d, v in ((ra, nlp.a), (ra, nlp.e), (re, nlp.e))]
    W = ca.repmat(nlp.w, M, 1)
    floor = 2 * inv.ACTIVATION_WEIGHT * W
    haa = mu * second[0] + sigma * floor
    hae = mu * second[1]
    hee = mu * second[2] + sigma * 2 * W
    smallest = (haa + hee) / 2 - ca.sqrt(((haa - hee) / 2) ** 2 + hae ** 2)
    shift = ca.fmax(0, floor - smallest)
    hcc = sigma * 2 * ca.repmat(nlp.w, K, 1)
    MN = M * N
    k = np.arange(MN)
    rows = np.concatenate([k, k, MN + k, 2 * MN + np.arange(K * N)])
    cols = np.concatenate([k, MN + k, MN + k, 2 * MN + np.arange(K * N)])
    values = ca.vertcat(ca.vec(haa + shift), ca.vec(hae), ca.vec(hee + shift), ca.vec(hcc))
    order = np.lexsort((rows, cols))  # CasADi's column-major non-zero order
    n = nlp.x.numel()
    H = ca.SX(ca.Sparsity.triplet(n, n, rows[order].tolist(), cols[order].tolist()),
              values[order.tolist()])
    return ca.Function("hess_l", [nlp.x, nlp.p, sigma, lam], [H],
                       ["x", "p", "lam_f", "lam_g"], ["triu_hess_gamma_x_x"])


def reserves_eliminated(ca, inv, problem, pattern):
    """(solver, reserve function c(x, p) as (N, K) column-major, number of variables)."""
    from musclekit.pipelines.simulate.dynamics.nlp.common import activation_rate

    N, M = problem.force_active.shape
    J = problem.tau.shape[1]
    coord = [int(j) for j in problem.actuator_coordinate]
    K = len(coord)
    if len(set(coord)) != K or np.isfinite(problem.actuator_min_control).any() or \
            np.isfinite(problem.actuator_max_control).any():
        raise MusclekitError("reserves-eliminated needs each reserve unbounded and alone on its "
                             f"equation; reserves on {coord}, bounds "
                             f"{problem.actuator_min_control} .. {problem.actuator_max_control}")
    cols, rows = np.nonzero(pattern.T)
    colptr = np.concatenate([[0], np.cumsum(np.bincount(cols, minlength=M))]).astype(int)
    sparsity = ca.Sparsity(J, M, colptr.tolist(), rows.astype(int).tolist())
    a, e = ca.SX.sym("a", M, N), ca.SX.sym("e", M, N)
    h = ca.SX.sym("h", 1, N - 1)
    tau_a, tau_d, b = ca.SX.sym("tau_a", M), ca.SX.sym("tau_d", M), ca.SX.sym("b", M)
    gain, demand = ca.SX.sym("gain", len(rows), N), ca.SX.sym("demand", J, N)
    optimal = ca.SX.sym("optimal", K)
    x = ca.vertcat(ca.vec(a), ca.vec(e))
    p = ca.vertcat(ca.vec(h), tau_a, tau_d, b, ca.vec(gain), ca.vec(demand), optimal)
    rate = activation_rate(ca, e, a, ca.repmat(tau_a, 1, N), ca.repmat(tau_d, 1, N),
                           ca.repmat(b, 1, N))
    g = [a[:, 0] - e[:, 0],
         ca.vec(a[:, 1:] - a[:, :-1] - (rate[:, 1:] + rate[:, :-1]) * ca.repmat(h, M, 1) / 2)]
    free = [j for j in range(J) if j not in coord]
    reserve = []
    for k in range(N):
        rest = demand[:, k] - ca.mtimes(ca.SX(sparsity, gain[:, k]), a[:, k])
        reserve.append(rest[coord] / optimal)
        if free:
            g.append(rest[free])
    C = ca.horzcat(*reserve)
    w = ca.horzcat(h[:, :1] / 2, (h[:, 1:] + h[:, :-1]) / 2, h[:, -1:] / 2)
    effort = ca.sum1(e ** 2) + inv.ACTIVATION_WEIGHT * ca.sum1(a ** 2) + ca.sum1(C ** 2)
    solver = ca.nlpsol("redundancy", "ipopt",
                       {"x": x, "p": p, "f": ca.mtimes(effort, w.T), "g": ca.vertcat(*g)},
                       inv.ipopt_options(problem))
    return solver, ca.Function("c", [x, p], [ca.vec(C)]), 2 * M * N


def solve_variant(name: str, problem, repeat: int = 1) -> tuple[list[float], object]:
    """CPU seconds of each of `repeat` solves of `problem` with variant `name` (the solver
    built beforehand, not timed) and the last solution (inverse.RedundancySolution)."""
    import casadi as ca

    from musclekit.pipelines.simulate.dynamics.nlp import inverse as inv

    if name not in VARIANTS:
        raise MusclekitError(f"unknown variant {name!r}; one of {', '.join(VARIANTS)}")
    N, M = problem.force_active.shape
    K = len(problem.actuator_coordinate)
    pattern = inv._pattern(problem)
    cols, rows = np.nonzero(pattern.T)
    params = inv._parameters(problem, inv._Built(None, rows, cols))
    reserve = None
    if name == "reserves-eliminated":
        solver, reserve, n = reserves_eliminated(ca, inv, problem, pattern)
    else:
        nlp = inv._graph(ca, problem, pattern)
        options = inv.ipopt_options(problem)
        if name == "convexified-hessian":
            options["hess_lag"] = convexified_hessian(ca, inv, problem, nlp)
        solver = ca.nlpsol("redundancy", "ipopt",
                           {"x": nlp.x, "p": nlp.p, "f": nlp.f, "g": nlp.g}, options)
        n = 2 * M * N + K * N
    lbx = np.concatenate([np.zeros(2 * M * N), np.tile(problem.actuator_min_control, N)])[:n]
    ubx = np.concatenate([np.ones(2 * M * N), np.tile(problem.actuator_max_control, N)])[:n]
    c0 = np.zeros((N, K))
    if name == "balanced-start":
        net = problem.tau - np.einsum("kmj,km->kj", problem.moment_arm,
                                      problem.force_passive + START * problem.force_active)
        c0 = net[:, problem.actuator_coordinate] / problem.actuator_optimal_force
    x0 = np.concatenate([np.full(2 * M * N, START), c0.ravel()])[:n]
    times = []
    for _ in range(repeat):
        start = cpu_seconds()
        out = solver(x0=x0, p=params, lbx=lbx, ubx=ubx, lbg=0.0, ubg=0.0)
        times.append(cpu_seconds() - start)
    stats = solver.stats()
    xv = np.asarray(out["x"]).ravel()
    control = (np.asarray(reserve(out["x"], params)).ravel() if reserve is not None
               else xv[2 * M * N:])
    return times, inv.RedundancySolution(
        activation=xv[: M * N].reshape(N, M), excitation=xv[M * N: 2 * M * N].reshape(N, M),
        actuator_control=control.reshape(N, K), success=bool(stats.get("success", False)),
        status=str(stats.get("return_status")), iterations=int(stats.get("iter_count", 0)),
        objective=float(out["f"]), seconds=times[-1])
