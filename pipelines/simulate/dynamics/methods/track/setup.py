"""The `track` method's OpenSim side: evaluate the model along a trajectory to state one
linearised tracking problem (nlp/track.py).

The `track` method's CasADi solver (solve.py) solves the full tracking problem by
sequential linearisation: OpenSim evaluates the skeleton along the current trajectory, the
NLP is solved with that local model (exact derivatives by CasADi, contact forces exactly
nonlinear), and the solution becomes the next trajectory, until it stops moving. What is
evaluated here, at every mesh point k, for the independent coordinates q (couplers folded in
by virtual work, as in methods/inverse/setup.py):

- G(q, v, a): the generalized forces the skeleton needs for the motion (inverse dynamics with
  every force element off: inertia, Coriolis and gravity), its value at the current
  trajectory and its Jacobians dG/dq, dG/dv (finite differences) and dG/da (the mass
  matrix, exact since G is affine in a);
- each contact sphere's centre in ground and its Jacobian dc/dq (velocity dc/dt = J v), and
  the angular-velocity Jacobian of the body it is on (for the moment of an off-centre force);
- each muscle's tendon force at zero and at full activation and its moment arms;
- the applied forces' first-order change with q and v that those terms hold still
  (`applied_dq`, `applied_dv`): the contact wrenches mapped through the spheres' Jacobians
  at perturbed poses, and the muscles' generalized force at the round's activations (a
  muscles-only copy's inverse dynamics). Without them the local model is wrong to first
  order in the step and the rounds need not converge (Rajagopal running: they did not).

At a fixed point of the iteration the linearisation is exact, so the final trajectory is
checked against the nonlinear model directly (`dynamics_defect`).
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from musclekit.errors import InputError
from musclekit.pipelines.simulate.dynamics.kernel.contact_law import ContactSphere, sphere_force
from musclekit.pipelines.simulate.dynamics.nlp.track import TrackProblem
from musclekit.pipelines.simulate.opensim.evaluate import (
    crossing_sets,
    mass_matrix,
    mobility_index,
    posed_muscle_terms,
    second_slope,
    single_couplers,
    slope,
)

FD_STEP = 1e-6  # rad or m; forward differences of smooth functions (error ~ step * G'')

# TrackModels this process opened, by model file contents (`open_track_model`): a chunk
# process (stage/worker.py) solves chunk after chunk of the same prepared model, and the
# levelled-feet copy is the same file for every chunk of a sequence. Two: the prepared model
# and its levelled copy.
_OPENED: dict[tuple, TrackModel] = {}
CACHED_MODELS = 2


class TrackModel:
    """The prepared model opened once per chunk for the evaluations above."""

    def __init__(self, model_processor, root_coordinates: list[str],
                 units: dict[str, str] | None = None):
        import opensim as osim

        # The model processed once (reading the file and its muscle operators took ~0.8 CPU
        # s per copy on the Rajagopal model), the copies below cloned from it.
        self.model = model_processor.process()
        self.id_model = self.model.clone()
        self.state = self.model.initSystem()
        # A copy whose forces are all off: its inverse dynamics is the skeleton alone.
        forces = self.id_model.updForceSet()
        for i in range(forces.getSize()):
            forces.get(i).set_appliesForce(False)
        self.id_state = self.id_model.initSystem()
        self.solver = osim.InverseDynamicsSolver(self.id_model)
        self.full_solver = osim.InverseDynamicsSolver(self.model)
        cset = self.model.getCoordinateSet()
        names = [cset.get(i).getName() for i in range(cset.getSize())]
        locked = {n for n in names if cset.get(n).getLocked(self.state)}
        self.couplers = single_couplers(self.model)
        self.coordinates = [n for n in names if n not in locked and n not in self.couplers]

        # The groups of muscles that share no coordinate (`_muscle_copies`).
        self._muscle_groups, self._muscle_group = muscle_groups(self.model, self.coordinates,
                                                                self.couplers)
        self._mus: list[tuple] | None = None
        self.root = list(root_coordinates)
        if units is None:
            from musclekit.pipelines.simulate.opensim.model import coordinate_units

            units = coordinate_units(self.model)
        self.translational = np.array([units[n] == "m" for n in self.coordinates])
        free = [n for n in names if n not in locked]
        self.u_idx = mobility_index(self.id_model, self.id_state, free)
        missing = [n for n in free if n not in self.u_idx]
        if missing:
            raise InputError(f"the track solver needs one speed per coordinate; {missing} have "
                             "none (a joint type it does not support)")
        self._id_cset = self.id_model.getCoordinateSet()
        self._u_cols = np.array([self.u_idx[n] for n in self.coordinates], dtype=int)
        # the couplers each independent coordinate drives (`_move`)
        self._driven: dict[int, list[str]] = {}
        for dep, (indep, _) in self.couplers.items():
            self._driven.setdefault(self.coordinates.index(indep), []).append(dep)
        self._index = {n: j for j, n in enumerate(self.coordinates)}
        # Coordinate handles looked up once: a name lookup per set value was a seventh of
        # the linearisation's time on the 80-muscle model.
        self._handles = {
            False: ([self._id_cset.get(n) for n in self.coordinates],
                    {d: self._id_cset.get(d) for d in self.couplers}),
            True: ([cset.get(n) for n in self.coordinates],
                   {d: cset.get(d) for d in self.couplers})}

        self.muscles = [self.model.getMuscles().get(i)
                        for i in range(self.model.getMuscles().getSize())]
        self.muscle_names = [m.getName() for m in self.muscles]
        self.dgf = [osim.DeGrooteFregly2016Muscle.safeDownCast(m) for m in self.muscles]
        if any(d is None for d in self.dgf):
            raise InputError("the track solver's model must use DeGroote-Fregly muscles")

        self.actuators = []
        fset = self.model.getForceSet()
        for i in range(fset.getSize()):
            act = osim.CoordinateActuator.safeDownCast(fset.get(i))
            if act is None:
                continue
            if act.get_coordinate() not in self._index:
                raise InputError(f"actuator {act.getName()} drives {act.get_coordinate()}, "
                                 "which is not an independent coordinate")
            self.actuators.append(act)

        self.spheres: list[ContactSphere] = read_spheres(self.model)
        if not self.spheres:
            raise InputError("the track method needs foot contact: the model has no "
                             "SmoothSphereHalfSpaceForce")
        normals = {tuple(np.round(s.plane_normal, 6)) for s in self.spheres}
        if normals != {(0.0, 1.0, 0.0)}:
            raise InputError(f"the floor must face +y (found normals {sorted(normals)})")
        # Height of each sphere's lowest point above its centre, relative to the floor plane.
        self.sphere_bottom_offsets = np.array([s.radius_m + s.plane_point[1] for s in self.spheres])
        bodies = self.id_model.getBodySet()
        self._sphere_bodies = [bodies.get(s.body) for s in self.spheres]
        # made once: a Vec3 per sphere and evaluation was a tenth of a linearisation
        self._sphere_stations = [osim.Vec3(*s.location_m) for s in self.spheres]
        self._sphere_mobods = [b.getMobilizedBodyIndex() for b in self._sphere_bodies]

    def _muscle_copies(self) -> list[tuple]:
        """Per group of muscles that share no coordinate (`muscle_groups`: a leg model's two
        legs), a copy of the model whose muscles of that group alone apply force: (model,
        state, inverse-dynamics solver, the group's muscle indices, its Muscle objects).
        A copy's inverse dynamics minus the skeleton's is its muscles' generalized force,
        whose change with the pose and the speeds (moment arms, force-length,
        force-velocity) the local model needs (`linearise`). A finite difference in a
        coordinate then computes only the muscles of its own group, not those of the other
        leg, whose forces it cannot change (with every muscle, a step cost 1.05 ms against
        0.18 ms for the skeleton alone). Made when first needed: the TrackModel that only
        finds where to level the feet never needs them."""
        import opensim as osim

        if self._mus is not None:
            return self._mus
        self._mus = []
        for g, members in enumerate(self._muscle_groups):
            copy = self.model.clone()
            keep = {self.muscle_names[i] for i in members}
            forces = copy.updForceSet()
            for i in range(forces.getSize()):
                if osim.Muscle.safeDownCast(forces.get(i)) is None or \
                        forces.get(i).getName() not in keep:
                    forces.get(i).set_appliesForce(False)
            state = copy.initSystem()
            muscles = copy.getMuscles()
            self._mus.append((copy, state, osim.InverseDynamicsSolver(copy), list(members),
                              [muscles.get(i) for i in members]))
            mset = copy.getCoordinateSet()
            self._handles[("muscles", g)] = ([mset.get(n) for n in self.coordinates],
                                             {d: mset.get(d) for d in self.couplers})
        return self._mus

    # -- setting the state of the inverse-dynamics copy -----------------------------------
    def _copy(self, full):
        """(model, state, inverse-dynamics solver) of the full model (True), the skeleton
        alone (False) or the muscles of group g alone (("muscles", g))."""
        if isinstance(full, tuple):
            return self._muscle_copies()[full[1]][:3]
        if full:
            return self.model, self.state, self.full_solver
        return self.id_model, self.id_state, self.solver

    def _set(self, q: np.ndarray, v: np.ndarray, full: bool | tuple = False):
        """Independent coordinates and speeds into the state of the inverse-dynamics copy (or
        of the full model, or of a muscles' copy), dependents by coupler; returns the
        dependents' (index, slope, curvature) for their accelerations."""
        import opensim as osim

        st = self._copy(full)[1]
        handles, dependents = self._handles[full]
        for c, x, xd in zip(handles, q, v, strict=True):
            c.setValue(st, float(x), False)
            c.setSpeedValue(st, float(xd))
        slopes = {}
        for dep, (indep, fn) in self.couplers.items():
            j = self._index[indep]
            x = float(q[j])
            value = fn.calcValue(osim.Vector(1, x))
            s1 = slope(fn, x)
            s2 = second_slope(fn, x)
            dependents[dep].setValue(st, value, False)
            dependents[dep].setSpeedValue(st, s1 * float(v[j]))
            slopes[dep] = (j, s1, s2)
        return slopes

    def _move(self, j: int, x: float, v: np.ndarray, slopes, full: bool | tuple = False):
        """Independent coordinate j alone to `x` (its dependents by coupler) in a state
        `_set` has posed: the same state as `_set` of the pose with q_j = x, without setting
        every other coordinate and coupler again (the finite differences' poses). Returns
        the slopes at that pose."""
        import opensim as osim

        st = self._copy(full)[1]
        handles, dependents = self._handles[full]
        handles[j].setValue(st, float(x), False)
        if j not in self._driven:
            return slopes
        moved = dict(slopes)
        for dep in self._driven[j]:
            fn = self.couplers[dep][1]
            s1 = slope(fn, float(x))
            dependents[dep].setValue(st, fn.calcValue(osim.Vector(1, float(x))), False)
            dependents[dep].setSpeedValue(st, s1 * float(v[j]))
            moved[dep] = (j, s1, second_slope(fn, float(x)))
        return moved

    def _move_speed(self, j: int, speed: float, slopes, full: bool | tuple = False) -> None:
        """Independent coordinate j's speed (and its dependents') in a state `_set` has
        posed, positions untouched (so OpenSim keeps what it computed from them)."""
        st = self._copy(full)[1]
        handles, dependents = self._handles[full]
        handles[j].setSpeedValue(st, float(speed))
        for dep in self._driven.get(j, []):
            dependents[dep].setSpeedValue(st, slopes[dep][1] * float(speed))

    def _gen(self, q: np.ndarray, v: np.ndarray, a: np.ndarray, slopes,
             full: bool | tuple = False) -> np.ndarray:
        """Folded generalized forces at the state already set by `_set`: what the forces
        not in the model must add for the accelerations `a` (with `full`, the model's own
        forces are applied; with ("muscles", g), its group g's muscles' alone)."""
        import opensim as osim

        model, st, solver = self._copy(full)
        # one array into one Vector: element by element through SWIG was a tenth of a
        # linearisation
        u = np.zeros(st.getNU())
        u[self._u_cols] = a
        for dep, (j, s1, s2) in slopes.items():
            u[self.u_idx[dep]] = s1 * float(a[j]) + s2 * float(v[j]) ** 2
        if full is not True:
            model.realizeVelocity(st)
        gen = solver.solve(st, osim.Vector.createFromMat(u)).to_numpy()
        out = gen[self._u_cols]
        for dep, (j, s1, _) in slopes.items():
            out[j] += s1 * gen[self.u_idx[dep]]
        return out

    def opensim_defect(self, time_s: np.ndarray, q: np.ndarray, v: np.ndarray, a: np.ndarray,
                       activation: np.ndarray, control: np.ndarray) -> np.ndarray:
        """(N, n) generalized forces by which a solution misses the OpenSim model's own
        equations of motion, every force computed by OpenSim: muscles at `activation`, the
        contact spheres, the coordinate actuators at `control`. Zero for an exact solution;
        independent of the NLP's formulation."""
        import opensim as osim

        out = np.zeros_like(q)
        for k in range(len(time_s)):
            self.state.setTime(float(time_s[k]))
            slopes = self._set(q[k], v[k], full=True)
            for m, x in zip(self.muscles, activation[k], strict=True):
                m.setActivation(self.state, float(x))
            self.model.realizeVelocity(self.state)
            controls = self.model.updControls(self.state)
            for act, c in zip(self.actuators, control[k], strict=True):
                act.setControls(osim.Vector(1, float(c)), controls)
            self.model.setControls(self.state, controls)
            out[k] = self._gen(q[k], v[k], a[k], slopes, full=True)
        return out

    def generalized_forces(self, q: np.ndarray, v: np.ndarray, a: np.ndarray) -> np.ndarray:
        """G(q, v, a) at one instant (n,)."""
        return self._gen(q, v, a, self._set(q, v))

    def _sphere_frames(self) -> tuple[np.ndarray, np.ndarray]:
        """Sphere centres in ground (S, 3) and their bodies' rotations (S, 3, 3)."""
        self.id_model.realizePosition(self.id_state)
        centres = np.zeros((len(self.spheres), 3))
        rotations = np.zeros((len(self.spheres), 3, 3))
        for s, (sphere, body) in enumerate(zip(self.spheres, self._sphere_bodies, strict=True)):
            tf = body.getTransformInGround(self.id_state)
            R = tf.R()
            rotations[s] = [[R.get(i, j) for j in range(3)] for i in range(3)]
            p = tf.p()
            centres[s] = np.array([p.get(0), p.get(1), p.get(2)]) + rotations[s] @ np.asarray(
                sphere.location_m)
        return centres, rotations

    def _sphere_velocities(self, spheres=None) -> np.ndarray:
        """Sphere centres' velocities in ground (S, 3), or of the listed `spheres` only, at
        the state set in the inverse-dynamics copy."""
        self.id_model.realizeVelocity(self.id_state)
        spheres = range(len(self.spheres)) if spheres is None else spheres
        out = np.zeros((len(spheres), 3))
        for row, s in enumerate(spheres):
            u = self._sphere_bodies[s].findStationVelocityInGround(self.id_state,
                                                                  self._sphere_stations[s])
            out[row] = [u.get(0), u.get(1), u.get(2)]
        return out

    def sphere_centres(self, q: np.ndarray) -> np.ndarray:
        """Sphere centres in ground (S, 3) at the pose q."""
        self._set(q, np.zeros_like(q))
        return self._sphere_frames()[0]

    def _fold(self, slopes) -> np.ndarray:
        """P (nu, n): the mobilities' speeds per unit speed of each independent coordinate
        (1 for its own mobility, the coupler's slope for a dependent one)."""
        P = np.zeros((self.id_state.getNU(), len(self.coordinates)))
        P[self._u_cols, np.arange(len(self.coordinates))] = 1.0
        for dep, (j, s1, _) in slopes.items():
            P[self.u_idx[dep], j] += s1
        return P

    def _wrench_terms(self, slopes, wrenches: dict[int, np.ndarray],
                      spheres) -> dict[int, np.ndarray]:
        """Per listed sphere, J_s^T W_s (n,): the generalized force of its fixed spatial
        force W_s (`wrenches`: sphere index -> (moment, force) in ground, applied at the
        sphere's centre) through its frame Jacobian at the pose set in the inverse-dynamics
        copy."""
        import opensim as osim

        self.id_model.realizePosition(self.id_state)
        matter = self.id_model.getMatterSubsystem()
        P = self._fold(slopes)
        frame = osim.Matrix()
        out = {}
        for s in spheres:
            matter.calcFrameJacobian(self.id_state, self._sphere_mobods[s],
                                     self._sphere_stations[s], frame)
            out[s] = (frame.to_numpy() @ P).T @ wrenches[s]
        return out

    def _wrench_map(self, terms: dict[int, np.ndarray]) -> np.ndarray:
        """(n,) sum of the spheres' `_wrench_terms`, in sphere order."""
        out = np.zeros(len(self.coordinates))
        for s in sorted(terms):
            out += terms[s]
        return out

    def _contact_wrenches(self, centres: np.ndarray, velocities: np.ndarray,
                          jac_w: np.ndarray, v: np.ndarray) -> dict[int, np.ndarray]:
        """Each loaded sphere's (moment about its centre, force) by the contact law at the
        pose and speeds of the linearisation point."""
        out = {}
        for s, sphere in enumerate(self.spheres):
            f, point = sphere_force(np, sphere, centres[s], velocities[s], jac_w[s] @ v)
            f = np.asarray(f, dtype=float)
            if np.abs(f).max() > 1e-6:
                out[s] = np.concatenate([np.cross(np.asarray(point) - centres[s], f), f])
        return out

    @staticmethod
    def _sphere_movers(jac_c: np.ndarray, jac_w: np.ndarray) -> np.ndarray:
        """(S, n) whether coordinate j moves sphere s: a non-zero column of its Jacobians."""
        return (np.abs(jac_c).max(axis=1) > 0) | (np.abs(jac_w).max(axis=1) > 0)

    def linearise(self, q: np.ndarray, v: np.ndarray, a: np.ndarray,
                  exact: bool = True, activation: np.ndarray | None = None,
                  muscled: list[int] | None = None,
                  derivatives: bool = True) -> dict[str, np.ndarray]:
        """The skeleton and contact-geometry terms at one instant (see the module docstring).

        With `exact`, the mass matrix and the contact Jacobians come from Simbody (one mass
        matrix and one frame Jacobian per sphere instead of 2n further solves: a third less
        time per round on the 80-muscle model); without, all by finite differences (kept to
        validate the exact terms against).

        Also the applied forces' first-order change that the NLP's own terms leave out
        (`applied_dq`, `applied_dv`, (n, n)): the contact forces' generalized force through
        the spheres' Jacobians at the pose (the NLP maps the exact contact force through the
        Jacobian of the linearisation point) and, given `activation` (M,), the muscles'
        (the NLP holds moment arms and tendon forces at the linearisation point); `muscled`:
        the coordinates some muscle crosses (None: all), the only ones whose pose or speed
        changes a muscle's generalized force.

        Without `derivatives` (needs `exact`) only the terms at the point itself: G, the mass
        matrix, the sphere centres and Jacobians; the slopes in q and v (2n inverse-dynamics
        solves and more, nine tenths of the time) are left zero."""
        import opensim as osim

        n = len(self.coordinates)
        slopes = self._set(q, v)
        g0 = self._gen(q, v, a, slopes)
        c0, r0 = self._sphere_frames()
        dg_da = np.zeros((n, n))
        dg_dv = np.zeros((n, n))
        dg_dq = np.zeros((n, n))
        jac_c = np.zeros((len(self.spheres), 3, n))
        jac_w = np.zeros((len(self.spheres), 3, n))
        if exact:
            # G is affine in the accelerations: dG/da is the folded mass matrix P^T M P.
            P = self._fold(slopes)
            matter = self.id_model.getMatterSubsystem()
            dg_da = P.T @ mass_matrix(self.id_model, self.id_state) @ P
            frame = osim.Matrix()
            for s, (sphere, body) in enumerate(zip(self.spheres, self._sphere_bodies,
                                                   strict=True)):
                matter.calcFrameJacobian(self.id_state, body.getMobilizedBodyIndex(),
                                         osim.Vec3(*sphere.location_m), frame)
                JF = frame.to_numpy() @ P  # rows: angular velocity (3), station velocity (3)
                jac_w[s], jac_c[s] = JF[:3], JF[3:]
        else:
            for j in range(n):
                e = np.zeros(n)
                e[j] = 1.0
                dg_da[:, j] = self._gen(q, v, a + e, slopes) - g0
        if not derivatives and exact:
            zeros = np.zeros((n, n))
            return {"g0": g0, "dg_dq": zeros, "dg_dv": zeros, "dg_da": dg_da,
                    "centre": c0, "jac_centre": jac_c, "jac_angular": jac_w,
                    "velocity_dq": np.zeros((len(self.spheres), 3, n)),
                    "applied_dq": zeros, "applied_dv": zeros}
        u0 = self._sphere_velocities()
        # d(J(q) v)/dq at v: how the pose changes the spheres' velocities. Without it a
        # round's local model held J fixed, and at running's segment speeds (5-10 rad/s) a
        # step of 0.05 rad moved a sphere's true velocity by ~0.3 m/s from the model's, past
        # the friction's transition velocity (0.2 m/s): OpenSim then found friction the
        # NLP had not (1.4e3 N sideways at the pelvis on the first running chunk).
        dvel_dq = np.zeros((len(self.spheres), 3, n))
        # The contact forces' moment arms. A round's NLP maps each sphere's force through
        # J(q_lin)^T; the true generalized force is J(q)^T F. On running's first chunk,
        # at a step of 6 mrad, that alone missed OpenSim's equations of motion by 11 N m at
        # the knee under a 3.5 BW heel strike (the contact law's own change: < 1 N): a
        # first-order term, so the rounds could not converge faster than linearly, and
        # there not at all. Here its derivative at the linearisation point's forces.
        # (With `exact` off the Jacobians are not known yet: that path leaves it out.)
        wrenches = self._contact_wrenches(c0, u0, jac_w, v) if exact else {}
        applied_dq = np.zeros((n, n))
        applied_dv = np.zeros((n, n))
        base_terms = self._wrench_terms(slopes, wrenches, list(wrenches))
        base = self._wrench_map(base_terms)
        # The spheres each coordinate moves (a non-zero Jacobian column: the coordinate is
        # on the chain from the ground to the sphere's body). Another coordinate changes
        # neither a sphere's velocity nor its Jacobian (the same numbers, bit for bit), so
        # its columns below are zero without evaluating them: the other leg's coordinates,
        # the lumbar joint and the arms (about half of the sphere evaluations).
        moves = self._sphere_movers(jac_c, jac_w) if exact else np.ones((len(self.spheres), n),
                                                                           dtype=bool)
        for j in range(n):
            e = np.zeros(n)
            e[j] = FD_STEP
            # Only speeds change: the positions (and the slopes) stay as set above.
            self._move_speed(j, v[j] + FD_STEP, slopes)
            dg_dv[:, j] = (self._gen(q, v + e, a, slopes) - g0) / FD_STEP
            self._move_speed(j, v[j], slopes)
        for j in range(n):
            e = np.zeros(n)
            e[j] = FD_STEP
            # q + e: coordinate j alone moved (and moved back below)
            moved = self._move(j, q[j] + FD_STEP, v, slopes)
            dg_dq[:, j] = (self._gen(q + e, v, a, moved) - g0) / FD_STEP
            hit = np.flatnonzero(moves[:, j])
            if hit.size:
                dvel_dq[hit, :, j] = (self._sphere_velocities(hit) - u0[hit]) / FD_STEP
            loaded = [s for s in wrenches if moves[s, j]]
            if loaded:
                terms = {**base_terms, **self._wrench_terms(moved, wrenches, loaded)}
                applied_dq[:, j] = (self._wrench_map(terms) - base) / FD_STEP
            if not exact:
                c1, r1 = self._sphere_frames()
            self._move(j, q[j], v, slopes)
            if exact:
                continue
            jac_c[:, :, j] = (c1 - c0) / FD_STEP
            # R1 R0^T = I + step [w]x for a small rotation: w from its skew part.
            for s in range(len(self.spheres)):
                W = (r1[s] @ r0[s].T - np.eye(3)) / FD_STEP
                jac_w[s, :, j] = 0.5 * np.array([W[2, 1] - W[1, 2], W[0, 2] - W[2, 0],
                                                 W[1, 0] - W[0, 1]])
        if activation is not None:
            mus_dq, mus_dv = self._muscle_slopes(q, v, a, activation, dg_dq, dg_dv, muscled)
            applied_dq += mus_dq
            applied_dv += mus_dv
        return {"g0": g0, "dg_dq": dg_dq, "dg_dv": dg_dv, "dg_da": dg_da,
                "centre": c0, "jac_centre": jac_c, "jac_angular": jac_w,
                "velocity_dq": dvel_dq, "applied_dq": applied_dq, "applied_dv": applied_dv}

    def _muscle_slopes(self, q: np.ndarray, v: np.ndarray, a: np.ndarray,
                       activation: np.ndarray, dg_dq: np.ndarray, dg_dv: np.ndarray,
                       muscled: list[int] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """d/dq and d/dv (n, n) of the muscles' generalized force at `activation`: moment
        arms, force-length and force-velocity, by forward differences of the muscles-only
        copies' inverse dynamics (the skeleton's G minus the muscles' generalized force)
        against the skeleton's own slopes `dg_dq`, `dg_dv`. Columns of coordinates no
        muscle crosses (`muscled`) are zero: moving them moves a muscle's two ends together
        (the pelvis, the lumbar joint and the arms of a leg model: half the evaluations).
        A coordinate's column comes from the copy of the one group of muscles that can
        cross it (`muscle_groups`); the other groups' forces do not change with it."""
        n = len(self.coordinates)
        dq, dv = np.zeros((n, n)), np.zeros((n, n))
        columns = list(range(n)) if muscled is None else list(muscled)
        for g, (_, state, _, members, muscles) in enumerate(self._muscle_copies()):
            mine = [j for j in columns if self._muscle_group.get(j) == g]
            if not mine:
                continue
            for m, i in zip(muscles, members, strict=True):
                m.setActivation(state, float(activation[i]))
            key = ("muscles", g)
            slopes = self._set(q, v, key)
            i0 = self._gen(q, v, a, slopes, key)
            # Every speed step first, then every pose step, each moved from (q, v) and
            # back: the speed steps leave the pose's computations (the muscles' paths) in
            # OpenSim's cache, and only the pose steps pay for them again.
            for j in mine:
                e = np.zeros(n)
                e[j] = FD_STEP
                self._move_speed(j, v[j] + FD_STEP, slopes, key)
                dv[:, j] = dg_dv[:, j] - (self._gen(q, v + e, a, slopes, key) - i0) / FD_STEP
                self._move_speed(j, v[j], slopes, key)
            for j in mine:
                e = np.zeros(n)
                e[j] = FD_STEP
                moved = self._move(j, q[j] + FD_STEP, v, slopes, key)
                dq[:, j] = dg_dq[:, j] - (self._gen(q + e, v, a, moved, key) - i0) / FD_STEP
                self._move(j, q[j], v, slopes, key)
        return dq, dv

    def build(self, time_s: np.ndarray, q_ref: np.ndarray, q: np.ndarray, v: np.ndarray,
              a: np.ndarray, settings: dict, activation: np.ndarray | None = None,
              derivatives: bool = True) -> TrackProblem:
        """The linearised problem on the mesh `time_s` around the trajectory (q, v, a), all
        (N, n) in `self.coordinates` order; `settings`: weights and trust region;
        `activation` (N, M): the muscles' at the linearisation point (for the slopes of their
        generalized force; None leaves those out). Without `derivatives` the terms at the
        trajectory only (`linearise`): enough for its muscle forces and ground reactions
        (solve.py's outputs), not a local model to solve."""
        N, n = q.shape
        poses = [dict(zip(self.coordinates, q[k], strict=True)) for k in sorted({0, N // 2, N - 1})]
        crossing = crossing_sets(self.model, self.state, self.muscles, self.coordinates, poses)
        muscled = sorted({int(j) for row in crossing for j in row})
        lin = [self.linearise(q[k], v[k], a[k], muscled=muscled,
                              activation=None if activation is None else activation[k],
                              derivatives=derivatives)
               for k in range(N)]
        stack = {key: np.stack([d[key] for d in lin]) for key in lin[0]}
        M = len(self.muscles)
        f0, f1 = np.zeros((N, M)), np.zeros((N, M))
        arms = np.zeros((N, M, n))
        paths = [m.getPath() for m in self.muscles]
        for k in range(N):
            # Posed as every other evaluation here (`_set`: dependents by their couplers),
            # not by OpenSim's assembler: its assemble() per mesh point was a quarter of a
            # round's linearisation on the Rajagopal model.
            self.state.setTime(float(time_s[k]))
            self._set(q[k], v[k], full=True)
            f0[k], f1[k], arms[k] = posed_muscle_terms(
                self.model, self.state, self.muscles, paths, self._handles[True][0], crossing)
        acts = self.actuators
        # What one unit of control costs: residuals and reserves at their optimal force (they
        # should stay small), but a coordinate no muscle crosses (lumbar, arms in OpenCap's
        # model) is driven by its actuator alone, and its torque costs as a muscle's would
        # (unit cost at `torque_cost_nm`), else the optimiser bends the motion to spare it.
        torque_cost = float(settings.get("torque_cost_nm", 250.0))
        cost_scale = np.array([
            x.getOptimalForce() if (x.get_coordinate() in self.root
                                    or self._index[x.get_coordinate()] in muscled)
            else max(x.getOptimalForce(), torque_cost) for x in acts], dtype=float)
        return TrackProblem(
            time_s=np.asarray(time_s, dtype=float), q_ref=q_ref, q_lin=q, v_lin=v, a_lin=a,
            g0=stack["g0"], dg_dq=stack["dg_dq"], dg_dv=stack["dg_dv"], dg_da=stack["dg_da"],
            sphere_centre=stack["centre"], sphere_jacobian=stack["jac_centre"],
            body_angular_jacobian=stack["jac_angular"],
            sphere_velocity_dq=stack["velocity_dq"],
            applied_dq=stack["applied_dq"], applied_dv=stack["applied_dv"],
            force_passive=f0, force_active=f1, moment_arm=arms,
            translational=self.translational.astype(float),
            actuator_coordinate=np.array([self._index[x.get_coordinate()] for x in acts], dtype=int),
            actuator_optimal_force=np.array([x.getOptimalForce() for x in acts], dtype=float),
            actuator_cost_scale=cost_scale,
            actuator_is_residual=np.array([x.get_coordinate() in self.root for x in acts],
                                          dtype=float),
            activation_time_constant_s=np.array([d.get_activation_time_constant() for d in self.dgf]),
            deactivation_time_constant_s=np.array(
                [d.get_deactivation_time_constant() for d in self.dgf]),
            activation_smoothing=np.array([d.get_activation_dynamics_smoothing() for d in self.dgf]),
            muscles=self.muscle_names, coordinates=self.coordinates,
            actuators=[x.getName() for x in acts],
            spheres=[asdict(s) for s in self.spheres], settings=dict(settings),
        )


def muscle_groups(model, coordinates: list[str], couplers: dict
                  ) -> tuple[list[list[int]], dict[int, int]]:
    """The model's muscles (indices in its muscle set) in groups that share no coordinate,
    and per independent coordinate (index in `coordinates`) the group of the muscles that
    can cross it. What a muscle can cross is read from its polynomial path's variables
    (FunctionBasedPath's coordinate paths; a coupled coordinate counts as its independent
    one): a leg model's muscles fall into its two legs. A muscle whose path is not a
    polynomial one (its coordinates not known without evaluating it) puts every muscle in
    one group."""
    import opensim as osim

    muscles = model.getMuscles()
    index = {n: j for j, n in enumerate(coordinates)}
    crosses = []
    for i in range(muscles.getSize()):
        path = osim.FunctionBasedPath.safeDownCast(muscles.get(i).getPath())
        if path is None:
            return [list(range(muscles.getSize()))], dict.fromkeys(range(len(coordinates)), 0)
        names = [c.rsplit("/", 1)[-1] for c in path.getCoordinatePaths()]
        names = [couplers[c][0] if c in couplers else c for c in names]
        crosses.append({index[c] for c in names if c in index})
    # connected components of muscles linked by a shared coordinate
    group_of_coordinate: dict[int, int] = {}
    groups: list[set[int]] = []
    for i, coords in enumerate(crosses):
        joined = sorted({group_of_coordinate[j] for j in coords if j in group_of_coordinate})
        merged = {i}
        for g in joined:
            merged |= groups[g]
            groups[g] = set()
        groups.append(merged)
        for m in merged:
            for j in crosses[m]:
                group_of_coordinate[j] = len(groups) - 1
    # (a muscle crossing no independent coordinate needs no copy: its force cannot change)
    live = sorted(set(group_of_coordinate.values()))
    number = {g: k for k, g in enumerate(live)}
    return ([sorted(groups[g]) for g in live],
            {j: number[g] for j, g in group_of_coordinate.items()})


def open_track_model(model_file: str, root_coordinates: list[str],
                     units: dict[str, str] | None = None) -> TrackModel:
    """The TrackModel of `model_file` (dgf_model_processor's muscles), opened once per
    process and model contents: its set-up (three model copies, ~1-3 CPU s on the Rajagopal
    model) is paid by the first chunk that needs it, not by every chunk. Every evaluation
    sets the state it reads (pose, speeds, activations, controls), so chunks sharing one
    TrackModel get the same numbers as with their own."""
    from musclekit.pipelines.simulate.opensim import evaluate
    from musclekit.pipelines.simulate.opensim.evaluate import dgf_model_processor

    path = Path(model_file)
    if not path.is_file():
        raise InputError(f"the track model {model_file} does not exist")
    # the conversion's settings are part of what was opened (as inverse's cache keys them)
    key = (hashlib.sha256(path.read_bytes()).hexdigest(), tuple(root_coordinates),
           tuple(sorted((units or {}).items())), evaluate.ACTIVATION_DYNAMICS_SMOOTHING)
    tm = _OPENED.pop(key, None)
    if tm is None:
        tm = TrackModel(dgf_model_processor(str(path)), list(root_coordinates), units)
    _OPENED[key] = tm  # most recently used last
    while len(_OPENED) > CACHED_MODELS:
        _OPENED.pop(next(iter(_OPENED)))
    return tm


def read_spheres(model: Any) -> list[ContactSphere]:
    """Every enabled SmoothSphereHalfSpaceForce of `model` (an opensim.Model), in ForceSet order.

    Forces whose `appliesForce` is off are skipped, as OpenSim does. Raises InputError when a
    force's half-space is not fixed to ground (only a ground floor is supported).
    """
    import opensim as osim

    def vec(v: Any) -> tuple[float, float, float]:
        return (float(v.get(0)), float(v.get(1)), float(v.get(2)))

    forces = model.getForceSet()
    found = []
    for i in range(forces.getSize()):
        force = osim.SmoothSphereHalfSpaceForce.safeDownCast(forces.get(i))
        if force is not None and force.get_appliesForce():
            found.append(force)
    if not found:
        return []
    try:
        found[0].getConnectee("sphere")
    except RuntimeError:
        # A model freshly read from a file has its sockets unresolved until it is connected.
        model.finalizeConnections()

    ground = model.getGround().getAbsolutePathString()
    spheres = []
    for force in found:
        name = force.getName()
        sphere = osim.ContactSphere.safeDownCast(force.getConnectee("sphere"))
        half = osim.ContactHalfSpace.safeDownCast(force.getConnectee("half_space"))
        if sphere is None or half is None:
            raise InputError(f"SmoothSphereHalfSpaceForce '{name}': its 'sphere' or "
                             "'half_space' socket does not lead to a ContactSphere and a "
                             "ContactHalfSpace; fix the sockets in the .osim file")
        half_frame = half.getFrame()
        half_base = half_frame.findBaseFrame()
        if half_base.getAbsolutePathString() != ground:
            raise InputError(
                f"SmoothSphereHalfSpaceForce '{name}': its half-space '{half.getName()}' is "
                f"attached to '{half_base.getAbsolutePathString()}', not to ground; only a "
                "floor fixed to ground is supported: attach the ContactHalfSpace's frame to "
                "/ground")
        # Simbody's half-space occupies +x of its own frame, so the outward normal is -x.
        x_gh = half_frame.findTransformInBaseFrame().compose(half.getTransform())
        x_axis = vec(x_gh.xformFrameVecToBase(osim.Vec3(1.0, 0.0, 0.0)))
        sphere_frame = sphere.getFrame()
        centre = sphere_frame.findTransformInBaseFrame().shiftFrameStationToBase(
            sphere.get_location())
        spheres.append(ContactSphere(
            name=sphere.getName(),
            body=sphere_frame.findBaseFrame().getName(),
            location_m=vec(centre),
            radius_m=float(sphere.getRadius()),
            stiffness=float(force.get_stiffness()),
            dissipation=float(force.get_dissipation()),
            static_friction=float(force.get_static_friction()),
            dynamic_friction=float(force.get_dynamic_friction()),
            viscous_friction=float(force.get_viscous_friction()),
            transition_velocity=float(force.get_transition_velocity()),
            constant_contact_force=float(force.get_constant_contact_force()),
            hertz_smoothing=float(force.get_hertz_smoothing()),
            hunt_crossley_smoothing=float(force.get_hunt_crossley_smoothing()),
            plane_normal=(-x_axis[0], -x_axis[1], -x_axis[2]),
            plane_point=vec(x_gh.p()),
            force_name=name,
        ))
    return spheres


# -- evaluating the model at a pose ------------------------------------------------------
