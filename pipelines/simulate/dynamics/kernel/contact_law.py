"""Foot-ground contact: OpenSim's SmoothSphereHalfSpaceForce as a pure, differentiable function.

Pure arithmetic, no opensim: the NLPs (nlp/) import this module in their child processes.
Reading the spheres out of a model is `osim_eval.read_spheres`.

OpenCap's models (and Moco's examples) put contact spheres on the calcaneus and toes and let
each one push against a half-space fixed to ground with `SmoothSphereHalfSpaceForce`, Simbody's
smooth Hunt-Crossley model (Serrancoli et al. 2019, IEEE TNSRE; Falisse et al. 2019, J R Soc
Interface). Its implementation is `SmoothSphereHalfSpaceForceImpl::calcForce` in Simbody's
`Simbody/src/SmoothSphereHalfSpaceForce.cpp`; the OpenSim wrapper
(`OpenSim/Simulation/Model/SmoothSphereHalfSpaceForce.cpp`) only forwards the properties.
`sphere_force` below restates that model with nothing but elementwise scalar operations, so
the same code runs on floats (ops=numpy) and on CasADi SX/MX scalars (ops=casadi), where a
collocation problem gets its exact derivatives.

Notation (SI units): n is the half-space's outward unit normal in ground (out of the floor),
c the sphere centre, v its velocity, w the body's angular velocity, all in ground; R the
radius, p0 a point on the plane. With the force's properties E (stiffness), d (dissipation),
mu_s, mu_d, mu_v (static, dynamic, viscous friction), v_t (transition velocity), cf (constant
contact force), b_d (hertz smoothing), b_v (hunt-crossley smoothing):

    delta   = R - (c - p0) . n                          indentation (> 0 in contact)
    P       = c - R n + (delta / 2) n                   point of application (see below)
    u       = v + w x (P - c)                           velocity of the body point at P
    u_n     = -(u . n)                                  rate of indentation
    u_t     = u - (u . n) n                             slip velocity (tangential part)
    k       = E^(2/3) / 2
    f_H     = 4/3 k sqrt(R k) (delta^2 + cf)^(3/4) * (1/2 + 1/2 tanh(b_d delta))
    f_n     = f_H (1 + 3/2 d u_n) * (1/2 + 1/2 tanh(b_v (u_n + 2 / (3 d))))
    s       = sqrt(|u_t|^2 + cf),   r = s / v_t
    f_f     = f_n (min(r, 1) (mu_d + 2 (mu_s - mu_d) / (1 + r^2)) + mu_v s)
    F       = f_n n - f_f u_t / s                       force of the floor on the sphere

`cf` plays two roles in Simbody: it keeps the Hertz term's root differentiable at zero
indentation (a small force remains when not touching, which is why it is called the
"constant contact force") and it keeps the slip speed s away from zero so that the friction
direction u_t / s is defined when the sphere is not sliding. The two tanh factors switch the
force off smoothly outside contact (b_d) and when the sphere leaves the floor faster than the
dissipation allows (b_v): the Hunt-Crossley term would otherwise pull the sphere down.

The force acts at P, midway between the floor and the deepest point of the sphere: Simbody
assumes both materials are equally stiff (Sherman et al. 2011), so the contact patch's centre
sits halfway through the overlap. Simbody applies F to the sphere's body as a force at that
body-fixed point (`applyForceToBodyPoint`), and -F to the half-space's body at the same point;
there is no additional pure torque. The moment about any point O is therefore (P - O) x F,
which is what OpenSim records as the sphere's "torque" (O = the body origin).

`min(r, 1)` is reproduced as in Simbody: the friction magnitude has a kink (continuous value,
discontinuous slope) at |u_t| = v_t, so derivatives there are one-sided.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

Vec3 = tuple[float, float, float]


@dataclass
class ContactSphere:
    """One SmoothSphereHalfSpaceForce, reduced to what `sphere_force` needs.

    body: name of the OpenSim body (the base frame) the sphere's frame is attached to.
    location_m: sphere centre in that body's frame (any offset frame in between applied).
    plane_normal: outward unit normal of the half-space in ground (out of the floor).
    plane_point: a point of the plane in ground (m).
    force_name: the force's name in the model's ForceSet.
    The other fields are the force's properties with OpenSim's names and units.
    """

    name: str
    body: str
    location_m: Vec3
    radius_m: float
    stiffness: float
    dissipation: float
    static_friction: float
    dynamic_friction: float
    viscous_friction: float
    transition_velocity: float
    constant_contact_force: float
    hertz_smoothing: float
    hunt_crossley_smoothing: float
    plane_normal: Vec3
    plane_point: Vec3
    force_name: str


def _dot(a: Sequence[Any], b: Sequence[Any]) -> Any:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Sequence[Any], b: Sequence[Any]) -> list[Any]:
    return [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]


def sphere_force(ops: Any, sphere: ContactSphere, centre: Sequence[Any], velocity: Sequence[Any],
                 angular_velocity: Sequence[Any] | None = None) -> tuple[list[Any], list[Any]]:
    """Force of the floor on `sphere` and the ground point where it acts.

    ops: numpy (floats) or casadi (SX/MX scalars); only ops.sqrt, ops.tanh and ops.fmin are
        used, so any namespace with those works.
    centre, velocity: the sphere centre's position (m) and velocity (m/s) in ground.
    angular_velocity: the sphere body's angular velocity in ground (rad/s). Simbody uses the
        velocity of the body point at the point of application, which differs from the
        centre's by w x (P - c); None means zero (exact for a body that does not rotate).
    Returns (force, point): two lists of 3 scalars in ground, force in N, point in m. This is
    the whole load: no separate torque is applied; its moment about O is (point - O) x force.
    """
    n = [float(x) for x in sphere.plane_normal]
    p0 = [float(x) for x in sphere.plane_point]
    radius = float(sphere.radius_m)
    cf = float(sphere.constant_contact_force)

    depth = radius - _dot([centre[i] - p0[i] for i in range(3)], n)
    # Contact point: deepest point of the sphere moved back by half the overlap.
    arm = [(depth / 2.0 - radius) * n[i] for i in range(3)]
    point = [centre[i] + arm[i] for i in range(3)]
    if angular_velocity is None:
        u = list(velocity)
    else:
        spin = cross(angular_velocity, arm)
        u = [velocity[i] + spin[i] for i in range(3)]
    u_normal = _dot(u, n)  # > 0 leaving the floor
    u_tan = [u[i] - u_normal * n[i] for i in range(3)]
    rate = -u_normal  # rate of indentation

    # Hertz: a sphere on a flat of the same material, k the effective modulus term.
    k = 0.5 * float(sphere.stiffness) ** (2.0 / 3.0)
    hertz = (4.0 / 3.0) * k * (radius * k) ** 0.5 * ops.sqrt(depth * depth + cf) ** 1.5
    hertz = hertz * (0.5 + 0.5 * ops.tanh(float(sphere.hertz_smoothing) * depth))
    # Hunt-Crossley dissipation; the switch turns the force off once the sphere leaves the
    # floor faster than 2/(3d), where the damped force would become adhesive.
    d = float(sphere.dissipation)
    normal = hertz * (1.0 + 1.5 * d * rate)
    if d != 0.0:  # a parameter, not a value: with d = 0 Simbody's switch is tanh(+inf) = 1
        normal = normal * (0.5 + 0.5 * ops.tanh(
            float(sphere.hunt_crossley_smoothing) * (rate + 2.0 / (3.0 * d))))

    # Friction: Stribeck-like curve in the regularised slip speed, opposing the slip.
    slip = ops.sqrt(_dot(u_tan, u_tan) + cf)
    ratio = slip / float(sphere.transition_velocity)
    mu_s, mu_d = float(sphere.static_friction), float(sphere.dynamic_friction)
    friction = normal * (ops.fmin(ratio, 1.0) * (mu_d + 2.0 * (mu_s - mu_d) / (1.0 + ratio * ratio))
                         + float(sphere.viscous_friction) * slip)
    force = [normal * n[i] - friction * u_tan[i] / slip for i in range(3)]
    return force, point
