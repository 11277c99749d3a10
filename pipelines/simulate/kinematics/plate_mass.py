"""The body mass the force plates weigh, checked against the mass a run uses.

Every force the dynamics report in % body weight, and every muscle demand (the inertial and
gravitational moments of the scaled bodies), scales with the subject's mass. A typed mass
that is not the subject's (a lab's settings file of another session, an assumed 75 kg for a
file that stores none) is otherwise invisible; the plates weigh the subject.

The rule (steady gait, from the plates alone, no kinematic rule): over a chain of
consecutive steps on the plates (`step_chain`: each stance on the other foot or plate, it
starts before the previous one ends - walking's double support - or after a flight shorter
than half the previous stance - running), in steady gait the feet share a stride's vertical
impulse m g T_stride, one stance each, so each stance's impulse is m g T_step:
m = mean stance impulse / (g x mean step time between the chain's touch-downs). A trial
without such a chain (a static trial, a standing trial) is weighed by quiet standing: the
longest stretch of at least `STANDING_MIN_S` in which the summed vertical force stays within
`STANDING_BAND` of its median, m = its mean / g. Neither: no estimate (None).

Tolerance `TOLERANCE` (5 %): on the trials that store the subject's mass the rule reads
within 2.4 % of it (docs/validation.md, "The mass the plates weigh"), so a difference above
5 % is the mass's, not the rule's; it moves every % BW force and muscle demand by as much.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from musclekit.errors import InputError

G = 9.80665  # standard gravity, m/s^2
LOADED_N = 20.0  # a foot (plate) is loaded above this vertical force (plates' noise below)
MIN_STANCE_S = 0.1  # shorter loaded runs are noise (a running stance lasts >= 0.15 s)
TOLERANCE = 0.05  # the mass used may differ from the plates' by this share before a warning
STANDING_MIN_S = 1.0
STANDING_BAND = 0.05  # quiet standing: the summed force within 5 % of its median


@dataclass
class PlateWeight:
    """The mass the plates weigh (kg), how (`steps` or `standing`), over how many steps
    (stances) of which mean step time (s), and over which time window (s)."""

    mass_kg: float
    method: str
    steps: int
    step_s: float | None
    window_s: tuple[float, float]


def stances(t: np.ndarray, vy: dict[str, np.ndarray]) -> list[tuple[float, float, str, float]]:
    """Each run of frames where a foot's (or plate's) vertical force is above `LOADED_N`,
    lasting at least `MIN_STANCE_S`, not cut by the file's start or end, and peaking above a
    quarter of the highest peak (weaker runs are a plate's noise or a foot-off's last
    samples): (start, end, key, impulse N s), sorted by start."""
    out = []
    for key, f in vy.items():
        f = np.nan_to_num(np.asarray(f, float))
        on = np.concatenate([[False], f > LOADED_N, [False]])
        d = np.diff(on.astype(int))
        for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True):
            # a stance loaded at the file's first or last sample is cut short: not a step
            if t[b - 1] - t[a] >= MIN_STANCE_S and a > 0 and b < len(f):
                out.append((float(t[a]), float(t[b - 1]), key,
                            float(np.trapezoid(f[a:b], t[a:b])), float(f[a:b].max())))
    top = max((s[4] for s in out), default=0.0)
    return sorted(s[:4] for s in out if s[4] >= 0.25 * top)


def step_chain(st: list[tuple[float, float, str, float]]) -> list[tuple[float, float, str, float]]:
    """The longest run of stances in which each one is on another foot (plate) than the one
    before, lands later and ends later, and starts before it ends (double support) or after
    a flight shorter than half its stance (running): consecutive steps of one walk or run
    over the plates. A longer gap is a step off the plates (walking's swing is about two
    thirds of its stance)."""
    chains: list[list] = []
    for s in st:
        if chains:
            prev = chains[-1][-1]
            # a step lands at least a stance's minimum after the previous one and outlasts it
            # (two plates loaded together from the start are a stand, not steps)
            if (s[2] != prev[2] and s[0] < prev[1] + 0.5 * (prev[1] - prev[0])
                    and s[0] - prev[0] >= MIN_STANCE_S and s[1] > prev[1]):
                chains[-1].append(s)
                continue
        chains.append([s])
    return max(chains, key=lambda c: (len(c), c[-1][1] - c[0][0])) if chains else []


def standing_weight(t: np.ndarray, total: np.ndarray) -> PlateWeight | None:
    """Quiet standing (module docstring): the longest stretch of >= STANDING_MIN_S where the
    summed vertical force stays within STANDING_BAND of the trial's median load."""
    loaded = total > LOADED_N
    if not loaded.any():
        return None
    ref = float(np.median(total[loaded]))
    on = np.concatenate([[False], np.abs(total - ref) <= STANDING_BAND * ref, [False]])
    d = np.diff(on.astype(int))
    runs = [(a, b) for a, b in zip(np.flatnonzero(d == 1), np.flatnonzero(d == -1), strict=True)
            if t[b - 1] - t[a] >= STANDING_MIN_S]
    if not runs:
        return None
    a, b = max(runs, key=lambda r: t[r[1] - 1] - t[r[0]])
    return PlateWeight(round(float(np.mean(total[a:b])) / G, 1), "standing", 0, None,
                       (round(float(t[a]), 3), round(float(t[b - 1]), 3)))


def weigh(t: np.ndarray, vy: dict[str, np.ndarray]) -> PlateWeight | None:
    """The mass the plates weigh (module docstring) from each foot's (or plate's) vertical
    force `vy` (N, upward) at times `t` (s); None when neither rule applies."""
    t = np.asarray(t, float)
    chain = step_chain(stances(t, vy))
    if len(chain) >= 2:
        step = float(np.mean([b[0] - a[0] for a, b in zip(chain, chain[1:], strict=False)]))
        mass = float(np.mean([s[3] for s in chain])) / (G * step)
        return PlateWeight(round(mass, 1), "steps", len(chain), round(step, 3),
                           (round(chain[0][0], 3), round(chain[-1][1], 3)))
    total = np.sum([np.nan_to_num(np.asarray(f, float)) for f in vy.values()], axis=0)
    return standing_weight(t, total)


def weigh_force_file(grf: str | Path, setup: str | Path | None = None) -> PlateWeight | None:
    """The mass weighed by a force file's per-foot vertical forces (the columns the
    dynamics apply: `external_loads.read_measured_grf`, with the ExternalLoads setup)."""
    from musclekit.pipelines.simulate.opensim.external_loads import (
        GRF_CHANNELS,
        read_measured_grf,
    )

    measured = read_measured_grf(grf, setup)
    vy = {side: measured.values[:, GRF_CHANNELS.index(f"ground_force_{side}_vy")]
          for side in ("right", "left")}
    return weigh(measured.time_s, vy)


def weigh_c3d(path: str | Path) -> PlateWeight | None:
    """The mass weighed by a C3D's plates (per plate, in OpenSim's frame: y up), before the
    plates are given to the feet (which needs IK)."""
    from musclekit.pipelines.simulate.kinematics.c3d import read_c3d, to_opensim_frame

    trial = to_opensim_frame(read_c3d(path))
    if not trial.plates:
        return None
    return weigh(trial.plates[0].time_s,
                 {f"plate {p.number}": p.force[:, 1] for p in trial.plates})


def mass_from_plates(c3d: str | Path | None, grf: str | Path | None,
                     grf_setup: str | Path | None) -> tuple[float, str]:
    """`--mass plates`: the mass the measured plates weigh (the --grf file's, else the
    --c3d's) and where it came from; a clear error when there is nothing to weigh."""
    if grf is not None:
        weight, source = weigh_force_file(grf, grf_setup), f"{Path(grf).name}'s forces"
    elif c3d is not None:
        weight, source = weigh_c3d(c3d), f"{Path(c3d).name}'s plates"
    else:
        raise InputError("--mass plates weighs the subject on the force plates: give --c3d "
                         "with plates or --grf, or the mass in kg (--mass KG)")
    if weight is None:
        raise InputError(f"--mass plates: {source} show neither two consecutive steps nor "
                         f"{STANDING_MIN_S:g} s of quiet standing, so they do not weigh the "
                         "subject: give the mass in kg (--mass KG)")
    return weight.mass_kg, f"the mass {source} weigh (--mass plates, {describe(weight)})"


def describe(weight: PlateWeight) -> str:
    if weight.method == "steps":
        return f"{weight.steps} steps of {weight.step_s:.2f} s"
    return f"quiet standing {weight.window_s[0]:g}-{weight.window_s[1]:g} s"


def check_mass(mass_kg: float, mass_from: str, weight: PlateWeight | None
               ) -> tuple[dict, str | None]:
    """The record of the mass used beside the plates' (for the sequence's metadata) and,
    when they differ by more than TOLERANCE, the warning that says so and what to do.
    Nothing is changed: the run keeps the mass it was given."""
    record: dict = {"mass_kg": round(float(mass_kg), 2), "mass_from": mass_from,
                    "tolerance": TOLERANCE}
    if weight is None:
        record["plates_kg"] = None
        return record, None
    diff = float(mass_kg) / weight.mass_kg - 1.0
    record.update({"plates": asdict(weight), "plates_kg": weight.mass_kg,
                   "difference": round(diff, 4)})
    if abs(diff) <= TOLERANCE:
        return record, None
    return record, (
        f"the plates weigh the subject at {weight.mass_kg:.1f} kg ({describe(weight)}) but the "
        f"run uses {mass_kg:.1f} kg ({mass_from}), {100 * diff:+.0f} %: every force in % body "
        f"weight and every muscle demand is off by as much; give the subject's mass with "
        f"--mass KG (or --mass plates for the plates' {weight.mass_kg:.1f} kg)")


def check_force_file(mass_kg: float, mass_from: str, grf: str | Path,
                     setup: str | Path | None = None) -> tuple[dict, str | None]:
    """`check_mass` on a sequence's force file (the kinematics stage's hook); a file the
    check cannot read is recorded with why, never a failed run (the dynamics read it
    themselves and say so)."""
    try:
        weight = weigh_force_file(grf, setup)
    except InputError as err:
        record, _ = check_mass(mass_kg, mass_from, None)
        return {**record, "why_none": str(err)}, None
    return check_mass(mass_kg, mass_from, weight)
