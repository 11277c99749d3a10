"""IPOPT settings for the `inverse` method's NLP on saved chunk problems (issue 24).

Each chunk solved by bench_simulate_dynamics.py leaves its problem in
`out-<label>/chunkNNNN_work/inverse_problem.npz`. This script solves those problems in one
process (casadi only, as the solver child does), once with nlp/inverse.py's settings, once at
a tight tolerance (1e-8: the reference optimum) and once per `--options` set, and prints per
chunk the CPU seconds of the solve alone (the solver built beforehand, as a kept solver
child has it), IPOPT's iterations, the objective, and the largest activation difference to
the default solve and to the reference optimum.

    python benchmarks/bench_simulate_dynamics_ipopt.py PROBLEM.npz [...]
        [--options "{'ipopt.min_refinement_steps': 0}" ...]
        [--variant convexified-hessian ...] [--repeat 1]

Options are a Python dict literal merged over `ipopt_options(problem)`. Variants are
reformulations of the same NLP (benchmarks/inverse_nlp_variants.py: another start, a
convexified Hessian, reserves eliminated); each is timed from its first solve on.
"""

from __future__ import annotations

import argparse
import ast
import resource
import statistics
from pathlib import Path

import numpy as np
from inverse_nlp_variants import VARIANTS, solve_variant


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def solve_with(path: Path, extra: dict, repeat: int) -> tuple[list[float], object]:
    """CPU seconds of each of `repeat` solves of the problem at `path` (IPOPT's options
    updated with `extra`), and the last solution."""
    from musclekit.pipelines.simulate.dynamics.nlp import inverse
    from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz

    problem = load_npz(inverse.RedundancyProblem, path)[0]
    default = inverse.ipopt_options
    inverse.ipopt_options = lambda p: {**default(p), **extra}
    try:
        inverse._BUILT.clear()
        inverse.solve(problem)  # builds the solver: not timed
        times = []
        for _ in range(repeat):
            start = cpu_seconds()
            sol = inverse.solve(problem)
            times.append(cpu_seconds() - start)
    finally:
        inverse.ipopt_options = default
    return times, sol


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("problems", type=Path, nargs="+")
    ap.add_argument("--options", action="append", default=[],
                    help="a dict literal of nlpsol options, e.g. \"{'ipopt.mu_oracle': 'probing'}\"")
    ap.add_argument("--variant", action="append", default=[], choices=VARIANTS,
                    help="a reformulation of the same NLP (inverse_nlp_variants.py)")
    ap.add_argument("--repeat", type=int, default=1)
    args = ap.parse_args()
    sets = [("default", {})] + [(o, ast.literal_eval(o)) for o in args.options] + \
        [(v, None) for v in args.variant]
    tight = {"ipopt.tol": 1e-8, "ipopt.constr_viol_tol": 1e-8}
    for path in args.problems:
        _, ref = solve_with(path, tight, 1)
        print(f"{path}: reference (tol 1e-8) {ref.iterations} iterations, objective "
              f"{ref.objective:.4f}", flush=True)
        base = None
        for name, extra in sets:
            if extra is None:
                from musclekit.pipelines.simulate.dynamics.nlp import inverse
                from musclekit.pipelines.simulate.dynamics.nlp.common import load_npz

                problem = load_npz(inverse.RedundancyProblem, path)[0]
                times, sol = solve_variant(name, problem, args.repeat)
            else:
                times, sol = solve_with(path, extra, args.repeat)
            base = sol if base is None else base
            print(f"  {name}: {statistics.median(times):.2f} s CPU (of {len(times)}), "
                  f"{sol.iterations} iterations, {sol.status}, objective {sol.objective:.4f}; "
                  f"activations vs default {np.abs(sol.activation - base.activation).max():.1e}"
                  f", vs reference {np.abs(sol.activation - ref.activation).max():.3f}",
                  flush=True)


if __name__ == "__main__":
    main()
