"""The optimisation problems, stated in CasADi and solved by IPOPT in child processes.

Nothing under this package imports opensim (tests/test_simulate_dyn_layout.py checks it):
the `casadi` wheel from PyPI and the `opensim` wheel each bundle their own, ABI-incompatible
CasADi library, so the two cannot share a process. The OpenSim side of every method
(`methods/<name>/setup.py`) fills a problem dataclass with numbers; `child.solve_in_child`
saves it to an .npz, runs `python -m <this package>.<module> problem.npz solution.npz` and
loads the solution. The only kernel module imported here is `kernel.contact_law`, which is
pure arithmetic (numpy or CasADi scalars).

- `common`: what every problem shares (activation dynamics, quadrature, actuator matrix,
  the .npz round trip of problem and solution dataclasses).
- `inverse`: the muscle redundancy problem (kinematics and ground forces prescribed).
- `track`: one linearised muscle-driven tracking problem with foot contact.
- `child`: the child-process boundary.
"""
